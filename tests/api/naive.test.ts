// The naive pattern: POST /train holds the request until the end. Waking relies on NOTIFY,
// so the naive app here runs in its own process and the task is finished by another one.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startApp, type AppProcess } from "../support/app-process.js";
import { freshDatabase } from "../support/database.js";
import { call, waitForStatus, type TaskBody } from "../support/http.js";

const PENGUIN = {
  species: "Chinstrap",
  island: "Dream",
  bill_length_mm: 49,
  bill_depth_mm: 18.5,
  flipper_length_mm: 196,
  sex: "male",
};

describe("naive app, separate from the controller", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let naive: AppProcess;
  let polling: AppProcess;
  let controller: AppProcess;

  before(async () => {
    db = await freshDatabase();
    controller = await startApp("controller", { databaseUrl: db.url });
    // A generous limit: on a loaded machine a run can take seconds to start.
    naive = await startApp("naive", {
      databaseUrl: db.url,
      env: { TRAINYARD_NAIVE_WAIT_SECONDS: "30" },
    });
    polling = await startApp("polling", { databaseUrl: db.url });
  });
  after(async () => {
    await Promise.all([naive?.stop(), polling?.stop(), controller?.stop()]);
    await db?.drop();
  });

  test("POST /train waits and answers 200 with the result", async () => {
    const res = await call<
      TaskBody & { result: { n: number; coefficients: Record<string, number> } }
    >("POST", `${naive.url("naive")}/train`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status, "completed");
    assert.equal(res.body.result.n, 333);
    assert.ok("(Intercept)" in res.body.result.coefficients);
  });

  test("the naive app's model cache follows models trained through another process", async () => {
    const first = await call<{ model_id: string }>("POST", `${naive.url("naive")}/predict`, {
      data: PENGUIN,
    });
    assert.equal(first.status, 200);
    const again = await call<{ model_id: string }>("POST", `${naive.url("naive")}/predict`, {
      data: PENGUIN,
    });
    assert.equal(again.body.model_id, first.body.model_id, "cached model reused");

    const newer = await call<TaskBody>("POST", `${polling.url("polling")}/train`);
    await waitForStatus(polling.url("polling"), newer.body.id, ["completed"]);
    // The NOTIFY reaches the naive process asynchronously: allow it a moment.
    const deadline = Date.now() + 5000;
    let seen = "";
    while (Date.now() < deadline) {
      const res = await call<{ model_id: string }>("POST", `${naive.url("naive")}/predict`, {
        data: PENGUIN,
      });
      seen = res.body.model_id;
      if (seen === newer.body.id) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(seen, newer.body.id, "the newer model is served after it completes");
  });

  test("past the wait limit: 202 + Location, and the task runs on", async () => {
    const impatient = await startApp("naive", {
      databaseUrl: db.url,
      env: { TRAINYARD_NAIVE_WAIT_SECONDS: "1" },
    });
    try {
      const res = await call<TaskBody>("POST", `${impatient.url("naive")}/train`, {
        duration_seconds: 5,
      });
      assert.equal(res.status, 202, res.text);
      assert.equal(res.headers.get("location"), `/train/${res.body.id}/status`);
      assert.ok(res.headers.get("retry-after"));
      const done = await waitForStatus(impatient.url("naive"), res.body.id, [
        "completed",
        "failed",
      ]);
      assert.equal(done.status, "completed");
    } finally {
      await impatient.stop();
    }
  });

  test("a cancelled task answers 409 task_cancelled to its waiter", async () => {
    const waiting = call<TaskBody>("POST", `${naive.url("naive")}/train`, { duration_seconds: 2 });
    // Find the task the naive app just created and cancel it from the polling app.
    let id: string | undefined;
    const deadline = Date.now() + 5000;
    while (!id && Date.now() < deadline) {
      const rows = await db.sql<{ id: string }[]>`
        SELECT id FROM tasks WHERE app = 'naive' AND status IN ('queued', 'running')
        ORDER BY seq DESC LIMIT 1`;
      id = rows[0]?.id;
    }
    assert.ok(id);
    await call("DELETE", `${polling.url("polling")}/train/${id}`);
    const res = await waiting;
    assert.equal(res.status, 409, res.text);
    assert.equal(res.body.code, "task_cancelled");
  });

  test("a client that disconnects does not cancel or lose its task", async () => {
    const before = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM tasks`;
    const abort = new AbortController();
    const pending = fetch(`${naive.url("naive")}/train`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ duration_seconds: 1 }),
      signal: abort.signal,
    }).catch(() => "aborted");
    await new Promise((r) => setTimeout(r, 300));
    abort.abort();
    assert.equal(await pending, "aborted");
    const rows = await db.sql<{ id: string }[]>`SELECT id FROM tasks ORDER BY seq DESC LIMIT 1`;
    const after = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM tasks`;
    assert.equal(after[0]?.n, (before[0]?.n ?? 0) + 1);
    const id = rows[0]?.id ?? "";
    const done = await waitForStatus(polling.url("polling"), id, [
      "completed",
      "failed",
      "cancelled",
    ]);
    assert.equal(done.status, "completed");
  });
});
