// The cap is exact, even with two controllers at once: 20 concurrent submissions never have
// more than 4 tasks admitted or running at any instant.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { startApp, type AppProcess } from "../support/app-process.js";
import { freshDatabase } from "../support/database.js";
import { call, waitForStatus, type TaskBody } from "../support/http.js";

describe("admission cap", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let api: AppProcess;
  let controllers: AppProcess[] = [];

  before(async () => {
    db = await freshDatabase();
    api = await startApp("polling", { databaseUrl: db.url });
    // Two controllers, each with a one-second leader beat: both may act during a hand-over,
    // and correctness must not depend on which one does.
    controllers = await Promise.all([
      startApp("controller", { databaseUrl: db.url }),
      startApp("controller", { databaseUrl: db.url }),
    ]);
  });
  after(async () => {
    await Promise.all([api?.stop(), ...controllers.map((c) => c.stop())]);
    await db?.drop();
  });

  test("20 concurrent submissions, never 5 at once", async () => {
    // Watch every status change and count admitted+running in the database at each one.
    const watcher = postgres(db.url, { max: 1, onnotice: () => undefined });
    let peak = 0;
    const counts: Promise<void>[] = [];
    await watcher.listen("trainyard_task", () => {
      counts.push(
        watcher<{ n: number }[]>`
          SELECT count(*)::int AS n FROM tasks
          WHERE status = 'running' OR (status = 'queued' AND admitted_at IS NOT NULL)`.then(
          (rows) => {
            peak = Math.max(peak, rows[0]?.n ?? 0);
          },
        ),
      );
    });
    const submitted = await Promise.all(
      Array.from({ length: 20 }, () =>
        call<TaskBody>("POST", `${api.url("polling")}/train`, { duration_seconds: 1 }),
      ),
    );
    assert.ok(submitted.every((r) => r.status === 202));
    const finished: TaskBody[] = [];
    for (const r of submitted)
      finished.push(
        await waitForStatus(
          api.url("polling"),
          r.body.id,
          ["completed", "failed", "cancelled"],
          60_000,
        ),
      );
    await Promise.all(counts);
    await watcher.end();
    assert.ok(
      finished.every((t) => t.status === "completed"),
      JSON.stringify(finished.filter((t) => t.status !== "completed")),
    );
    assert.ok(peak <= 4, `peak admitted+running seen by the watcher: ${peak}`);

    // The same from the recorded run times: at no instant did 5 runs overlap.
    const events = finished.flatMap((t) => [
      { at: Date.parse(t.started_at ?? ""), delta: 1 },
      { at: Date.parse(t.finished_at ?? ""), delta: -1 },
    ]);
    events.sort((a, b) => a.at - b.at || a.delta - b.delta);
    let running = 0;
    let maxOverlap = 0;
    for (const e of events) {
      running += e.delta;
      maxOverlap = Math.max(maxOverlap, running);
    }
    assert.equal(maxOverlap, 4, "the cap is used in full and never exceeded");

    // Oldest first: tasks started in the order they were accepted.
    const bySeq = await db.sql<{ id: string }[]>`SELECT id FROM tasks ORDER BY seq`;
    const byStart = await db.sql<{ id: string }[]>`SELECT id FROM tasks ORDER BY admitted_at, seq`;
    assert.deepEqual(
      byStart.map((r) => r.id),
      bySeq.map((r) => r.id),
    );
  });
});
