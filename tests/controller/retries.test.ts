// Retries end to end with the local runner: real controller, real worker processes, a dataset
// that is garbage until the test repairs it. A failed attempt is retried after its backoff,
// each attempt shows in the status, watchers never see a "failed" that is then undone, and
// neither a cancelled nor (unless asked) a timed-out run is tried again.
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DEFAULT_DATA_PATH } from "../../src/training/dataset.js";
import { startApp, type AppProcess } from "../support/app-process.js";
import { freshDatabase } from "../support/database.js";
import { call, waitForStatus, type TaskBody } from "../support/http.js";
import { readEvents } from "../support/sse.js";

interface AttemptView {
  attempt: number;
  started_at: string | null;
  finished_at: string;
  error: { code: string; message: string };
}

interface RetryBody extends TaskBody {
  attempt?: number;
  max_attempts?: number;
  next_attempt_at?: string;
  previous_attempts?: AttemptView[];
}

const GARBAGE = "species,island\nAdelie\n";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ms = (iso: string | null | undefined): number => new Date(iso ?? 0).getTime();

describe("retries", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let polling: AppProcess;
  let controller: AppProcess;
  const dataset = join(mkdtempSync(join(tmpdir(), "trainyard-retries-")), "penguins.csv");

  before(async () => {
    db = await freshDatabase();
    writeFileSync(dataset, GARBAGE);
    [polling, controller] = await Promise.all([
      startApp("polling", { databaseUrl: db.url }),
      startApp("controller", { databaseUrl: db.url, env: { TRAINYARD_DATASET_PATH: dataset } }),
    ]);
  });
  after(async () => {
    await Promise.all([polling?.stop(), controller?.stop()]);
    await db?.drop();
  });

  const base = (): string => polling.url("polling");
  const submit = async (body: Record<string, unknown>): Promise<RetryBody> => {
    const res = await call<RetryBody>("POST", `${base()}/train`, body);
    assert.equal(res.status, 202, res.text);
    return res.body;
  };
  const status = async (id: string): Promise<RetryBody> =>
    (await call<RetryBody>("GET", `${base()}/train/${id}/status`)).body;

  test("a failed attempt is retried after its backoff, and the retry can succeed", async () => {
    writeFileSync(dataset, GARBAGE);
    const task = await submit({ duration_seconds: 0, max_attempts: 3, retry_backoff_seconds: 4 });
    assert.equal(task.attempt, 1);
    assert.equal(task.max_attempts, 3);
    assert.deepEqual(task.previous_attempts, []);

    // The first attempt fails on the garbage; the task waits out its backoff, queued.
    const deadline = Date.now() + 30_000;
    let waiting = await status(task.id);
    while (!waiting.next_attempt_at && Date.now() < deadline) {
      assert.notEqual(waiting.status, "failed", "never failed while attempts are left");
      await sleep(50);
      waiting = await status(task.id);
    }
    assert.equal(waiting.status, "queued");
    assert.equal(waiting.attempt, 2);
    const [first] = waiting.previous_attempts ?? [];
    assert.equal(first?.attempt, 1);
    assert.equal(first?.error.code, "training_failed");
    const backoff = ms(waiting.next_attempt_at) - ms(first?.finished_at);
    assert.ok(backoff >= 3990 && backoff <= 4100, `backoff of ${backoff} ms`);

    copyFileSync(DEFAULT_DATA_PATH, dataset);
    const done = (await waitForStatus(base(), task.id, ["completed", "failed"])) as RetryBody;
    assert.equal(done.status, "completed", JSON.stringify(done));
    assert.equal(done.attempt, 2);
    assert.equal(done.previous_attempts?.length, 1);
    assert.ok(ms(done.started_at) >= ms(waiting.next_attempt_at), "not started before its time");
    assert.equal(done.next_attempt_at, undefined);
    assert.equal((await call("GET", `${base()}/train/${task.id}/result`)).status, 200);
  });

  test("when every attempt fails: failed once, at the end, with every attempt in the status", async () => {
    writeFileSync(dataset, GARBAGE);
    const task = await submit({ duration_seconds: 0, max_attempts: 3, retry_backoff_seconds: 1 });
    const events = await readEvents(`${base()}/train/${task.id}/events`);
    const statuses = events.filter((e) => e.event === "status").map((e) => e.data.status);
    assert.equal(statuses.at(-1), "failed");
    assert.equal(statuses.indexOf("failed"), statuses.length - 1, statuses.join(","));
    // A run that fails within milliseconds may show no "running" event (the stream sends the
    // current state, not every step), but each attempt's backoff is a visible "queued".
    const attempts = events.map((e) => (e.data as RetryBody).attempt ?? 0);
    const ordered = attempts.every((a, k) => k === 0 || a >= (attempts[k - 1] ?? 0));
    assert.ok(ordered, `attempts in order: ${attempts.join(",")}`);
    assert.ok(attempts.includes(2) && attempts.includes(3), attempts.join(","));

    const failed = await status(task.id);
    assert.equal(failed.status, "failed");
    assert.equal(failed.attempt, 3);
    assert.equal(failed.error?.code, "training_failed");
    const previous = failed.previous_attempts ?? [];
    assert.deepEqual(
      previous.map((a) => [a.attempt, a.error.code]),
      [
        [1, "training_failed"],
        [2, "training_failed"],
      ],
    );
    // Backoffs of 1 s, then 2 s, between one attempt's end and the next one's start.
    const gap1 = ms(previous[1]?.started_at) - ms(previous[0]?.finished_at);
    const gap2 = ms(failed.started_at) - ms(previous[1]?.finished_at);
    assert.ok(gap1 >= 1000, `first gap ${gap1} ms`);
    assert.ok(gap2 >= 2000, `second gap ${gap2} ms`);
  });

  test("a run stopped at its time limit is retried only with retry_on_timeout", async () => {
    copyFileSync(DEFAULT_DATA_PATH, dataset);
    const limits = { duration_seconds: 600, timeout_seconds: 2, retry_backoff_seconds: 0 };
    const [plain, asked] = await Promise.all([
      submit({ ...limits, max_attempts: 2 }),
      submit({ ...limits, max_attempts: 2, retry_on_timeout: true }),
    ]);
    const [plainEnd, askedEnd] = (await Promise.all([
      waitForStatus(base(), plain.id, ["failed", "completed"], 60_000),
      waitForStatus(base(), asked.id, ["failed", "completed"], 60_000),
    ])) as RetryBody[];
    assert.equal(plainEnd?.status, "failed");
    assert.equal(plainEnd?.error?.code, "DeadlineExceeded");
    assert.equal(plainEnd?.attempt, 1);
    assert.deepEqual(plainEnd?.previous_attempts, []);

    assert.equal(askedEnd?.status, "failed");
    assert.equal(askedEnd?.error?.code, "DeadlineExceeded");
    assert.equal(askedEnd?.attempt, 2);
    assert.equal(askedEnd?.previous_attempts?.[0]?.error.code, "DeadlineExceeded");
  });

  test("a cancelled task is not retried", async () => {
    copyFileSync(DEFAULT_DATA_PATH, dataset);
    const task = await submit({ duration_seconds: 600, max_attempts: 3, retry_backoff_seconds: 0 });
    await waitForStatus(base(), task.id, ["running"]);
    const res = await call("DELETE", `${base()}/train/${task.id}`);
    assert.equal(res.status, 200, res.text);
    // The stopped worker exits; nothing may bring the task back.
    await sleep(3000);
    const after = await status(task.id);
    assert.equal(after.status, "cancelled");
    assert.equal(after.attempt, 1);
    const [row] = await db.sql<{ admitted_at: Date | null; released_at: Date | null }[]>`
      SELECT admitted_at, released_at FROM tasks WHERE id = ${task.id}`;
    assert.ok(row?.released_at, "its slot is given back");
  });
});
