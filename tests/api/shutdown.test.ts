// Graceful shutdown: SIGTERM stops accepting, answers what is in flight, and leaves every task
// in a state the rest of the system carries on from.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startApp, waitForLog, type AppProcess } from "../support/app-process.js";
import { freshDatabase } from "../support/database.js";
import { call, waitForStatus, type TaskBody } from "../support/http.js";

describe("graceful shutdown on SIGTERM", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let controller: AppProcess;
  let polling: AppProcess;

  before(async () => {
    db = await freshDatabase();
    controller = await startApp("controller", { databaseUrl: db.url });
    polling = await startApp("polling", { databaseUrl: db.url });
  });
  after(async () => {
    await Promise.all([polling?.stop(), controller?.stop()]);
    await db?.drop();
  });

  test("a naive waiter is answered 202 + Location, the process exits 0, the task runs on", async () => {
    const naive = await startApp("naive", { databaseUrl: db.url });
    const pending = call<TaskBody>("POST", `${naive.url("naive")}/train`, {
      duration_seconds: 2,
    });
    await waitForLog(naive.logs, naive.exited, "waiting for its end");
    const code = naive.stop("SIGTERM");
    const res = await pending;
    assert.equal(res.status, 202, res.text);
    assert.equal(res.headers.get("location"), `/train/${res.body.id}/status`);
    assert.equal(await code, 0, naive.logs.join("\n"));
    assert.ok(naive.logs.some((l) => l.includes('"msg":"stopped"')));
    await assert.rejects(fetch(`${naive.url("naive")}/livez`), "no longer accepting");

    const done = await waitForStatus(polling.url("polling"), res.body.id, ["completed"]);
    assert.equal(done.status, "completed");
  });

  test("a controller stopped mid-run leaves the run to finish and its successor adopts it", async () => {
    const submitted = await call<TaskBody>("POST", `${polling.url("polling")}/train`, {
      duration_seconds: 2,
    });
    assert.equal(submitted.status, 202);
    await waitForStatus(polling.url("polling"), submitted.body.id, ["running"]);
    assert.equal(await controller.stop("SIGTERM"), 0);

    // The worker records its own outcome: with no controller at all, the task still completes.
    const done = await waitForStatus(polling.url("polling"), submitted.body.id, ["completed"]);
    assert.equal(done.status, "completed");

    // A new controller starts the next task: nothing was left admitted by the old one.
    controller = await startApp("controller", { databaseUrl: db.url });
    const next = await call<TaskBody>("POST", `${polling.url("polling")}/train`, {
      duration_seconds: 0,
    });
    const finished = await waitForStatus(polling.url("polling"), next.body.id, ["completed"]);
    assert.equal(finished.status, "completed");
  });
});
