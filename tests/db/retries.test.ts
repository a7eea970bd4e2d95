// Retries in the database, where they are decided: a failed attempt with attempts left goes
// back to queued (never through "failed"), keeps its slot until its run is gone, and is not
// admitted again before its backoff has passed. Real Postgres, no processes.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { admit } from "../../src/controller/admission.js";
import { freshDatabase, type TestDatabase } from "../support/database.js";
import {
  awaitsRetry,
  failTask,
  getTask,
  insertTask,
  nextRetryInMs,
  releaseForRetry,
  transition,
} from "../../src/tasks/store.js";
import type { Task, TaskParams } from "../../src/tasks/task.js";

describe("retries in the database", () => {
  let db: TestDatabase;

  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  /** Clears the queue so that each test admits only its own tasks. */
  const clean = () => db.sql`DELETE FROM tasks`;

  const submit = async (params: Partial<TaskParams> = {}): Promise<Task> =>
    (await insertTask(db.sql, { app: "polling", params: { duration_seconds: 0, ...params } })).task;

  /** Admits and starts the task, as the controller and its worker would. */
  const start = async (task: Task): Promise<Task> => {
    const admitted = await admit(db.sql, 4);
    assert.ok(
      admitted.some((t) => t.id === task.id),
      "admitted",
    );
    const running = await transition(db.sql, task.id, "running", { runnerRef: "test" });
    assert.ok(running, "started");
    return running;
  };

  const secondsUntil = (task: Task): number =>
    ((task.notBefore?.getTime() ?? 0) - Date.now()) / 1000;
  const boom = { code: "training_failed", message: "boom" };

  test("a failed attempt with attempts left is queued again, after a backoff that doubles", async () => {
    await clean();
    const task = await submit({ max_attempts: 3, retry_backoff_seconds: 30 });
    await start(task);

    const retried = await failTask(db.sql, task, boom);
    assert.equal(retried?.status, "queued", "never failed on the way");
    const late = await failTask(db.sql, task, { code: "lost", message: "reported twice" });
    assert.equal(late, undefined, "a second report about attempt 1 changes nothing");
    assert.equal(retried?.attempt, 2);
    assert.equal(retried?.error, null);
    assert.equal(retried?.finishedAt, null);
    assert.equal(retried?.startedAt, null);
    assert.equal(retried?.runnerRef, null);
    assert.ok(retried && awaitsRetry(retried), "holds its slot until its run is gone");
    assert.deepEqual(
      retried?.previousAttempts.map((a) => [a.attempt, a.error, a.runner_ref]),
      [[1, boom, "test"]],
    );
    const first = secondsUntil(retried);
    assert.ok(first > 28 && first <= 30.5, `first backoff ${first} s`);

    // The run is gone: the slot is given up; admission skips the task until its time.
    assert.equal(await releaseForRetry(db.sql, retried), true);
    assert.equal(await releaseForRetry(db.sql, retried), false, "once");
    assert.deepEqual(await admit(db.sql, 4), [], "not before the backoff ends");
    const wait = await nextRetryInMs(db.sql);
    assert.ok(wait !== undefined && wait > 28_000 && wait <= 30_500, `wake in ${wait} ms`);

    await db.sql`UPDATE tasks SET not_before = now() WHERE id = ${task.id}`;
    const second = await start(task);
    assert.equal(second.attempt, 2);
    assert.equal(second.notBefore, null, "admission clears the backoff");
    const again = await failTask(db.sql, second, boom);
    assert.equal(again?.attempt, 3);
    const doubled = secondsUntil(again);
    assert.ok(doubled > 58 && doubled <= 60.5, `second backoff ${doubled} s`);
  });

  test("the last attempt's failure is final, and the only one a webhook hears of", async () => {
    await clean();
    const task = (
      await insertTask(db.sql, {
        app: "webhook",
        params: { duration_seconds: 0, max_attempts: 2, retry_backoff_seconds: 0 },
        callbackUrl: "http://127.0.0.1:9/callback",
      })
    ).task;
    await start(task);
    const retried = await failTask(db.sql, task, boom);
    assert.equal(retried?.status, "queued");
    await releaseForRetry(db.sql, retried);
    const deliveriesMid = await db.sql`SELECT 1 FROM webhook_deliveries WHERE task_id = ${task.id}`;
    assert.equal(deliveriesMid.length, 0, "no callback for an attempt that will be retried");

    const second = await start(task);
    const failed = await failTask(db.sql, second, { code: "lost", message: "gone" });
    assert.equal(failed?.status, "failed");
    assert.equal(failed?.attempt, 2);
    assert.deepEqual(failed?.error, { code: "lost", message: "gone" });
    assert.equal(failed?.previousAttempts.length, 1);
    assert.ok(failed?.finishedAt);
    const deliveries = await db.sql`SELECT 1 FROM webhook_deliveries WHERE task_id = ${task.id}`;
    assert.equal(deliveries.length, 1, "one callback, for the final failure");
  });

  test("a timed-out run is retried only when the task asked for it", async () => {
    await clean();
    const deadline = { code: "DeadlineExceeded", message: "too slow" };
    const plain = await submit({ max_attempts: 3, retry_backoff_seconds: 0 });
    await start(plain);
    assert.equal((await failTask(db.sql, plain, deadline))?.status, "failed");

    const asked = await submit({
      max_attempts: 3,
      retry_backoff_seconds: 0,
      retry_on_timeout: true,
    });
    await start(asked);
    assert.equal((await failTask(db.sql, asked, deadline))?.status, "queued");
  });

  test("a cancelled task is never failed, so never retried", async () => {
    await clean();
    const task = await submit({ max_attempts: 3, retry_backoff_seconds: 0 });
    await start(task);
    await transition(db.sql, task.id, "cancelled", {
      error: { code: "cancelled", message: "by request" },
    });
    assert.equal(await failTask(db.sql, task, boom), undefined);
    assert.equal((await getTask(db.sql, task.id))?.status, "cancelled");
  });

  test("a task without retries fails at once, as before", async () => {
    await clean();
    const task = await submit();
    await start(task);
    const failed = await failTask(db.sql, task, boom);
    assert.equal(failed?.status, "failed");
    assert.deepEqual(failed?.previousAttempts, []);
  });

  test("a failed attempt whose run is still ending keeps its slot: the cap holds", async () => {
    await clean();
    const retrying = await submit({ max_attempts: 2, retry_backoff_seconds: 0 });
    const others = [await submit(), await submit(), await submit()];
    assert.equal((await admit(db.sql, 4)).length, 4);
    for (const task of [retrying, ...others]) {
      assert.ok(await transition(db.sql, task.id, "running", { runnerRef: "test" }));
    }
    await failTask(db.sql, retrying, boom);
    const waiting = await submit();
    assert.deepEqual(await admit(db.sql, 4), [], "four slots held: nothing admitted");

    await releaseForRetry(db.sql, (await getTask(db.sql, retrying.id))!);
    // One slot free; the retry (older seq, backoff over) goes before the newer task.
    const admitted = await admit(db.sql, 4);
    assert.deepEqual(
      admitted.map((t) => t.id),
      [retrying.id],
    );
    assert.equal((await getTask(db.sql, waiting.id))?.admittedAt, null);
  });
});
