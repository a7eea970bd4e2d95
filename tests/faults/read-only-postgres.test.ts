// Postgres that refuses writes (default_transaction_read_only, as for maintenance or a standby
// not yet promoted; disk full answers the same way, class 53): submissions get 503 with
// Retry-After, reads go on, a worker that finishes meanwhile keeps trying to record its outcome
// for its patience, and one whose patience runs out ends in a clear failed status, not a stuck
// one. A Postgres of its own: the setting is server-wide.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import postgres from "postgres";
import { startEmbeddedPostgres } from "../../src/db/embedded.js";
import { startApp, type AppProcess } from "../support/app-process.js";
import { call, waitForStatus, type TaskBody } from "../support/http.js";
import { freePort } from "../support/ports.js";

const PATIENCE_SECONDS = 8;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("read-only postgres", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "trainyard-pg-readonly-"));
  let pg: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  let admin: postgres.Sql;
  let app: AppProcess;

  before(async () => {
    pg = await startEmbeddedPostgres({
      dataDir,
      port: await freePort(),
      log: pino({ level: "warn" }),
    });
    // A session setting outranks the server's: this connection can always write, and undo it.
    admin = postgres(pg.url, {
      max: 1,
      onnotice: () => undefined,
      connection: { default_transaction_read_only: false },
    });
    app = await startApp("all", {
      databaseUrl: pg.url,
      env: { TRAINYARD_WORKER_WRITE_PATIENCE_SECONDS: String(PATIENCE_SECONDS) },
    });
  });
  after(async () => {
    await app?.stop();
    await admin?.end({ timeout: 5 });
    await pg?.stop();
  });

  /** Every session of the server (but ours) refuses writes from its next transaction on. */
  const readOnly = async (on: boolean): Promise<void> => {
    if (on) await admin`ALTER SYSTEM SET default_transaction_read_only = on`;
    else await admin`ALTER SYSTEM RESET default_transaction_read_only`;
    await admin`SELECT pg_reload_conf()`;
    await sleep(200); // the reload reaches every backend at its next command
  };

  test("writes refused for a while: 503 to submissions, reads go on, finished runs are kept", async () => {
    const base = app.url("polling");
    const tasks = await Promise.all(
      [1, 2, 3].map(async () => {
        const res = await call<TaskBody>("POST", `${base}/train`, { duration_seconds: 2 });
        assert.equal(res.status, 202, res.text);
        return res.body;
      }),
    );
    for (const task of tasks) await waitForStatus(base, task.id, ["running"]);

    await readOnly(true);
    try {
      const refused = await call("POST", `${base}/train`, { duration_seconds: 0 });
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.body.code, "database_unavailable");
      assert.ok(Number(refused.headers.get("retry-after")) > 0, "with Retry-After");
      const read = await call<TaskBody>("GET", `${base}/train/${tasks[0]?.id ?? ""}/status`);
      assert.equal(read.status, 200, "reads still work");
      // The runs end meanwhile (2 s) and cannot store their models.
      await sleep(4000);
      const [row] = await admin<{ n: number }[]>`
        SELECT count(*)::int AS n FROM tasks WHERE status = 'completed'`;
      assert.equal(row?.n, 0, "nothing could be written");
    } finally {
      await readOnly(false);
    }

    // Within their patience, the workers store their models: nothing finished is thrown away.
    for (const task of tasks) {
      const done = await waitForStatus(base, task.id, ["completed", "failed"], 30_000);
      assert.equal(done.status, "completed", JSON.stringify(done));
    }
    const next = await call<TaskBody>("POST", `${base}/train`, { duration_seconds: 0 });
    assert.equal(next.status, 202, "accepting again");
    assert.equal(
      (await waitForStatus(base, next.body.id, ["completed"], 30_000)).status,
      "completed",
    );
  });

  test("writes refused past the worker's patience: the task fails with outcome_unrecorded", async () => {
    const base = app.url("polling");
    const res = await call<TaskBody>("POST", `${base}/train`, {
      duration_seconds: 1,
      max_attempts: 1,
    });
    assert.equal(res.status, 202, res.text);
    await waitForStatus(base, res.body.id, ["running"]);

    await readOnly(true);
    try {
      await sleep((PATIENCE_SECONDS + 4) * 1000);
      const [row] = await admin<{ status: string }[]>`
        SELECT status FROM tasks WHERE id = ${res.body.id}`;
      assert.equal(row?.status, "running", "no status could be written");
    } finally {
      await readOnly(false);
    }
    // The worker gave up and exited; the controller records why as soon as it can write.
    const failed = await waitForStatus(base, res.body.id, ["failed", "completed"], 30_000);
    assert.equal(failed.status, "failed");
    assert.equal(failed.error?.code, "outcome_unrecorded", JSON.stringify(failed.error));
  });
});
