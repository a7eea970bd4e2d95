// The controller killed with SIGKILL mid-run and started again: running workers are adopted
// (they finish on their own and none is started twice), a worker that died meanwhile is
// noticed, and every task ends in exactly one terminal status.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startApp, waitForLog, type AppProcess } from "../support/app-process.js";
import { freshDatabase } from "../support/database.js";
import { call, isAlive, waitForStatus, type TaskBody } from "../support/http.js";

describe("controller crash", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let api: AppProcess;
  let controller: AppProcess | undefined;

  before(async () => {
    db = await freshDatabase();
    api = await startApp("polling", { databaseUrl: db.url });
  });
  after(async () => {
    await Promise.all([api?.stop(), controller?.stop()]);
    await db?.drop();
  });

  test("SIGKILL mid-run, restart: every task ends exactly once, none runs twice", async () => {
    controller = await startApp("controller", { databaseUrl: db.url });
    const base = api.url("polling");
    const tasks = await Promise.all(
      Array.from({ length: 8 }, () =>
        call<TaskBody>("POST", `${base}/train`, { duration_seconds: 3 }),
      ),
    );
    const ids = tasks.map((t) => t.body.id);
    await waitForStatus(base, ids[0] ?? "", ["running"]);
    const running = await db.sql<{ id: string; runner_ref: string; started_at: Date }[]>`
      SELECT id, runner_ref, started_at FROM tasks WHERE status = 'running'`;
    assert.ok(running.length >= 1);

    void controller.stop("SIGKILL");
    await controller.exited;
    // While no controller lives, one worker dies too: its task must not stay running forever.
    const victim = running[0];
    assert.ok(victim);
    const victimPid = Number(/^pid:(\d+)@/.exec(victim.runner_ref)?.[1]);
    assert.ok(isAlive(victimPid), "workers outlive their controller");
    process.kill(-victimPid, "SIGKILL");

    controller = await startApp("controller", { databaseUrl: db.url, dataDir: controller.dataDir });
    await waitForLog(controller.logs, controller.exited, "this controller leads");
    const finished: TaskBody[] = [];
    for (const id of ids)
      finished.push(await waitForStatus(base, id, ["completed", "failed", "cancelled"], 60_000));

    const victimEnd = finished.find((t) => t.id === victim.id);
    assert.equal(victimEnd?.status, "failed");
    assert.equal(victimEnd?.error?.code, "lost");
    for (const t of finished.filter((t) => t.id !== victim.id)) {
      assert.equal(t.status, "completed", JSON.stringify(t));
    }
    // Adopted runs kept their start: they were not started a second time.
    for (const r of running.filter((r) => r.id !== victim.id)) {
      const end = finished.find((t) => t.id === r.id);
      assert.equal(Date.parse(end?.started_at ?? ""), r.started_at.getTime());
    }
    const models = await db.sql<{ task_id: string; n: number }[]>`
      SELECT task_id, count(*)::int AS n FROM models GROUP BY task_id`;
    assert.equal(models.length, finished.filter((t) => t.status === "completed").length);
    assert.ok(models.every((m) => m.n === 1));
  });
});
