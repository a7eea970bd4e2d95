// The polling pattern end to end: a real `trainyard all` process, real workers, real Postgres.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startApp, type AppProcess } from "../support/app-process.js";
import { freshDatabase } from "../support/database.js";
import { call, isAlive, waitForStatus, type TaskBody } from "../support/http.js";

const PENGUIN = {
  species: "Gentoo",
  island: "Biscoe",
  bill_length_mm: 47.5,
  bill_depth_mm: 15.0,
  flipper_length_mm: 218,
  sex: "female",
};

describe("polling app", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let app: AppProcess;
  let base: string;

  before(async () => {
    db = await freshDatabase();
    app = await startApp("all", { databaseUrl: db.url });
    base = app.url("polling");
  });
  after(async () => {
    await app?.stop();
    await db?.drop();
  });

  test("predict before any model says to train first", async () => {
    const res = await call("POST", `${base}/predict`, { data: PENGUIN });
    assert.equal(res.status, 409);
    assert.equal(res.headers.get("content-type"), "application/problem+json; charset=utf-8");
    assert.equal(res.body.code, "no_model");
    assert.match(String(res.body.title), /POST \/train/);
  });

  test("every task shows its tenant: the implicit one without tenants", async () => {
    const res = await call<TaskBody & { tenant: string }>("POST", `${base}/train`, {
      duration_seconds: 0,
    });
    assert.equal(res.status, 202);
    assert.equal(res.body.tenant, "default");
    const status = await call<{ tenant: string }>("GET", `${base}/train/${res.body.id}/status`);
    assert.equal(status.body.tenant, "default");
  });

  test("an optional callback_url, checked as on the webhook app; deliveries readable here", async () => {
    const refused = await call("POST", `${base}/train`, { callback_url: "ftp://example.org/x" });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.field, "callback_url");
    const plain = await call<TaskBody>("POST", `${base}/train`, { duration_seconds: 0 });
    const none = await call<{ items: unknown[] }>(
      "GET",
      `${base}/train/${plain.body.id}/deliveries`,
    );
    assert.equal(none.status, 200);
    assert.deepEqual(none.body.items, []);
    const missing = await call("GET", `${base}/train/${crypto.randomUUID()}/deliveries`);
    assert.equal(missing.status, 404);
  });

  test("submit, poll, fetch the result, predict", async () => {
    const res = await call<TaskBody>("POST", `${base}/train`);
    assert.equal(res.status, 202);
    assert.equal(res.body.status, "queued");
    assert.match(res.body.id, /^[0-9a-f-]{36}$/);
    assert.equal(res.headers.get("location"), `/train/${res.body.id}/status`);
    assert.equal(res.headers.get("retry-after"), "2");

    const done = await waitForStatus(base, res.body.id, ["completed", "failed"]);
    assert.equal(done.status, "completed", JSON.stringify(done));
    assert.ok(done.started_at && done.finished_at);
    assert.ok(Date.parse(done.finished_at) >= Date.parse(done.started_at));

    const result = await call<{ result: Record<string, unknown> }>(
      "GET",
      `${base}/train/${res.body.id}/result`,
    );
    assert.equal(result.status, 200);
    assert.equal(result.body.result.n, 333);
    const coefficients = result.body.result.coefficients as Record<string, number>;
    assert.ok(Math.abs((coefficients.sexmale ?? 0) - 0) > 100, "sex has a real effect");

    const predicted = await call<{ model_id: string; predictions: { body_mass_g: number }[] }>(
      "POST",
      `${base}/predict`,
      { data: [PENGUIN, { ...PENGUIN, sex: "male" }] },
    );
    assert.equal(predicted.status, 200);
    assert.equal(predicted.body.model_id, res.body.id);
    const [female, male] = predicted.body.predictions;
    assert.ok(female && male);
    assert.ok(female.body_mass_g > 4000 && female.body_mass_g < 6000);
    assert.ok(Math.abs(male.body_mass_g - female.body_mass_g - (coefficients.sexmale ?? 0)) < 1e-6);
  });

  test("status of a running task carries Retry-After; result is 409 until it completes", async () => {
    const res = await call<TaskBody>("POST", `${base}/train`, { duration_seconds: 30 });
    const running = await waitForStatus(base, res.body.id, ["running"]);
    const status = await call("GET", `${base}/train/${running.id}/status`);
    assert.equal(status.headers.get("retry-after"), "2");
    const result = await call("GET", `${base}/train/${running.id}/result`);
    assert.equal(result.status, 409);
    assert.equal(result.body.code, "task_not_finished");
    assert.equal(result.body.task_status, "running");
    await call("DELETE", `${base}/train/${running.id}`);
  });

  test("cancel a running task: the worker process is gone and the task never completes", async () => {
    const res = await call<TaskBody>("POST", `${base}/train`, { duration_seconds: 3 });
    await waitForStatus(base, res.body.id, ["running"]);
    const [row] = await db.sql<{ runner_ref: string }[]>`
      SELECT runner_ref FROM tasks WHERE id = ${res.body.id}`;
    const pid = Number(/^pid:(\d+)@/.exec(row?.runner_ref ?? "")?.[1]);
    assert.ok(pid > 0 && isAlive(pid), "the worker runs");

    const cancel = await call<TaskBody>("DELETE", `${base}/train/${res.body.id}`);
    assert.equal(cancel.status, 200);
    assert.equal(cancel.body.status, "cancelled");
    const deadline = Date.now() + 10_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(isAlive(pid), false, "the worker process was stopped");

    // Longer than the simulated run: a cancelled task must not turn completed.
    await new Promise((r) => setTimeout(r, 3500));
    const after = await call<TaskBody>("GET", `${base}/train/${res.body.id}/status`);
    assert.equal(after.body.status, "cancelled");
    const models = await db.sql`SELECT 1 FROM models WHERE task_id = ${res.body.id}`;
    assert.equal(models.length, 0);

    const again = await call<TaskBody>("DELETE", `${base}/train/${res.body.id}`);
    assert.equal(again.status, 200, "a repeated cancel is harmless");
    assert.equal(again.body.status, "cancelled");
  });

  test("cancel a queued task; a finished one answers 409", async () => {
    // Fill every slot so the next one stays queued.
    const blockers = await Promise.all(
      [1, 2, 3, 4].map(() => call<TaskBody>("POST", `${base}/train`, { duration_seconds: 30 })),
    );
    const queued = await call<TaskBody>("POST", `${base}/train`, { duration_seconds: 0 });
    const cancel = await call<TaskBody>("DELETE", `${base}/train/${queued.body.id}`);
    assert.equal(cancel.status, 200);
    assert.equal(cancel.body.status, "cancelled");
    assert.equal(cancel.body.started_at, null, "it never started");
    for (const b of blockers) await call("DELETE", `${base}/train/${b.body.id}`);

    const quick = await call<TaskBody>("POST", `${base}/train`);
    await waitForStatus(base, quick.body.id, ["completed"]);
    const late = await call("DELETE", `${base}/train/${quick.body.id}`);
    assert.equal(late.status, 409);
    assert.equal(late.body.code, "task_already_finished");
  });

  test("Idempotency-Key returns the same task", async () => {
    const key = `key-${Date.now()}`;
    const first = await call<TaskBody>(
      "POST",
      `${base}/train`,
      { duration_seconds: 0 },
      { "idempotency-key": key },
    );
    const second = await call<TaskBody>(
      "POST",
      `${base}/train`,
      { duration_seconds: 0 },
      { "idempotency-key": key },
    );
    assert.equal(first.status, 202);
    assert.equal(second.status, 202);
    assert.equal(second.body.id, first.body.id);
    assert.equal(second.headers.get("idempotent-replayed"), "true");
    const other = await call(
      "POST",
      `${base}/train`,
      { duration_seconds: 7 },
      { "idempotency-key": key },
    );
    assert.equal(other.status, 422);
    assert.equal(other.body.code, "idempotency_key_reused");
  });

  test("list: newest first, filter by status, cursor pagination", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await call<TaskBody>("POST", `${base}/train`, { duration_seconds: 0 });
      ids.push(res.body.id);
    }
    for (const id of ids) await waitForStatus(base, id, ["completed"]);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `&cursor=${cursor}` : "";
      const page = await call<{ items: TaskBody[]; next_cursor: string | null }>(
        "GET",
        `${base}/train?status=completed&limit=2${query}`,
      );
      assert.equal(page.status, 200);
      assert.ok(page.body.items.length <= 2);
      for (const item of page.body.items) {
        assert.equal(item.status, "completed");
        seen.push(item.id);
      }
      cursor = page.body.next_cursor;
    } while (cursor);
    const newestFive = seen.slice(0, 5);
    assert.deepEqual(newestFive, [...ids].reverse());
    assert.equal(new Set(seen).size, seen.length, "no task on two pages");
  });

  test("OpenAPI document and reference page", async () => {
    const doc = await call<{ openapi: string; paths: Record<string, unknown> }>(
      "GET",
      `${base}/openapi.json`,
    );
    assert.equal(doc.status, 200);
    assert.match(doc.body.openapi, /^3\./);
    for (const path of [
      "/train",
      "/train/{id}/status",
      "/train/{id}/result",
      "/train/{id}",
      "/predict",
    ]) {
      assert.ok(path in doc.body.paths, `${path} is documented`);
    }
    // What a submission may ask for, and what a status answers, retries and progress included.
    interface Operation {
      requestBody?: { content: Record<string, { schema: { properties: object } }> };
      responses: Record<string, { content?: Record<string, { schema: { properties: object } }> }>;
    }
    const paths = doc.body.paths as Record<string, Record<string, Operation>>;
    const submitted = paths["/train"]?.post?.requestBody?.content["application/json"];
    assert.deepEqual(Object.keys(submitted?.schema.properties ?? {}).sort(), [
      "callback_url",
      "duration_seconds",
      "max_attempts",
      "retry_backoff_seconds",
      "retry_on_timeout",
      "timeout_seconds",
    ]);
    for (const path of ["/train/{id}/status", "/train/{id}/wait"]) {
      const answer = paths[path]?.get?.responses["200"]?.content?.["application/json"];
      const fields = Object.keys(answer?.schema.properties ?? {});
      for (const field of [
        "status",
        "progress",
        "queue_position",
        "attempt",
        "previous_attempts",
      ]) {
        assert.ok(fields.includes(field), `${path} documents ${field}`);
      }
    }
    const page = await fetch(`${base}/docs`, { redirect: "follow" });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
  });
});
