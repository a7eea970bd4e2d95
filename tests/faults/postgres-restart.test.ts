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
});
