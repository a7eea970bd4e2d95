// Postgres stopped and started again under the service: while it is down every route that
// needs it answers 503 with Retry-After (never a hang or a crash), the service comes back by
// itself, and what was accepted before is still there.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { startEmbeddedPostgres } from "../../src/db/embedded.js";
import { startApp, type AppProcess } from "../support/app-process.js";
import { call, waitForStatus, type TaskBody } from "../support/http.js";
import { freePort } from "../support/ports.js";

describe("postgres restart", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "trainyard-pg-restart-"));
  const log = pino({ level: "warn" });
  let port: number;
  let pg: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  let app: AppProcess;

  before(async () => {
    port = await freePort();
    pg = await startEmbeddedPostgres({ dataDir, port, log });
    app = await startApp("all", { databaseUrl: pg.url });
  });
  after(async () => {
    if (process.env.TRAINYARD_TEST_SHOW_LOGS) process.stderr.write(app.logs.join("\n"));
    await app?.stop();
    await pg?.stop();
  });

  test("503 with Retry-After while down, full service after", async () => {
    const base = app.url("polling");
    const before = await call<TaskBody>("POST", `${base}/train`);
    assert.equal(before.status, 202);
    await waitForStatus(base, before.body.id, ["completed"]);

    await pg.stop();
    for (const [method, path, body] of [
      ["POST", "/train", {}],
      ["GET", `/train/${before.body.id}/status`, undefined],
      ["GET", "/readyz", undefined],
    ] as const) {
      const res = await call(method, `${base}${path}`, body);
      assert.equal(res.status, 503, `${method} ${path}: ${res.text}`);
      assert.ok(Number(res.headers.get("retry-after")) > 0);
      assert.equal(res.body.code, "database_unavailable");
    }
    const live = await call("GET", `${base}/livez`);
    assert.equal(live.status, 200, "the process itself is alive");

    pg = await startEmbeddedPostgres({ dataDir, port, log });
    const deadline = Date.now() + 10_000;
    let after: Awaited<ReturnType<typeof call<TaskBody>>> | undefined;
    while (Date.now() < deadline) {
      after = await call<TaskBody>("POST", `${base}/train`);
      if (after.status === 202) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(after?.status, 202, "accepting again after Postgres returned");
    // Completion needs the controller's LISTEN to be back as well: an end-to-end recovery.
    const done = await waitForStatus(base, after?.body.id ?? "", ["completed"], 30_000);
    assert.equal(done.status, "completed");
    const first = await call<TaskBody>("GET", `${base}/train/${before.body.id}/status`);
    assert.equal(first.body.status, "completed", "accepted work survived");
  });

  test("under load: 503 + Retry-After while down 5 s, full service within 5 s after, nothing lost", async () => {
    const base = app.url("polling");
    const answers: { at: number; status: number; retryAfter: string | null; error?: string }[] = [];
    const accepted: string[] = [];
    let running = true;
    const client = async (): Promise<void> => {
      while (running) {
        let error: string | undefined;
        const res = await call<TaskBody>("POST", `${base}/train`, { duration_seconds: 0 }).catch(
          (err: unknown) => {
            error = String((err as Error).cause ?? err);
            return undefined;
          },
        );
        answers.push({
          at: Date.now(),
          status: res?.status ?? 0,
          retryAfter: res?.headers.get("retry-after") ?? null,
          ...(error ? { error } : {}),
        });
        if (res?.status === 202) accepted.push(res.body.id);
        // A steady load, not a flood: every task it creates will be trained.
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, () => client()));
    await new Promise((r) => setTimeout(r, 1000));
    await pg.stop();
    const down = Date.now();
    await new Promise((r) => setTimeout(r, 5000));
    const upStarted = Date.now();
    pg = await startEmbeddedPostgres({ dataDir, port, log });
    const up = Date.now();
    const deadline = up + 10_000;
    while (!answers.some((a) => a.at > up && a.status === 202) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    running = false;
    await load;

    const during = answers.filter((a) => a.at > down && a.at < upStarted);
    assert.ok(
      during.length > 10,
      `the load went on during the outage: ${JSON.stringify(answers.map((a) => [a.at - down, a.status]))}`,
    );
    for (const answer of during) {
      assert.equal(answer.status, 503, `while down: ${JSON.stringify(answer)}`);
      assert.ok(Number(answer.retryAfter) > 0, "with Retry-After");
    }
    assert.ok(
      answers.every((a) => a.status === 202 || a.status === 503),
      `only 202s and 503s: ${JSON.stringify(answers.filter((a) => a.status !== 202 && a.status !== 503))}`,
    );
    const firstBack = answers.find((a) => a.at > up && a.status === 202);
    assert.ok(firstBack, "accepting again");
    assert.ok(firstBack.at - up <= 5000, `back ${firstBack.at - up} ms after Postgres`);

    // Every task answered 202, before, during or after, is stored; the service runs them again.
    const stored = await call<{ items: TaskBody[] }>("GET", `${base}/train?limit=1`);
    assert.equal(stored.status, 200);
    const ids = new Set(accepted);
    const admin = await import("../../src/db/connect.js").then((m) =>
      m.connect(pg.url, { max: 1 }),
    );
    try {
      const rows = await admin<
        { id: string }[]
      >`SELECT id FROM tasks WHERE id IN ${admin([...ids])}`;
      assert.equal(rows.length, ids.size, "no accepted task was lost");
    } finally {
      await admin.end({ timeout: 5 });
    }
    const last = accepted[accepted.length - 1] ?? "";
    const done = await waitForStatus(base, last, ["completed", "failed"], 120_000);
    assert.equal(done.status, "completed");
  });
});
