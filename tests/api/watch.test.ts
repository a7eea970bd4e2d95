// Watching tasks: long-poll, Server-Sent Events (resumable), progress and queue position.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startApp, type AppProcess } from "../support/app-process.js";
import { freshDatabase } from "../support/database.js";
import { call, waitForStatus, type TaskBody } from "../support/http.js";
import { readEvents, type SseEvent } from "../support/sse.js";

describe("watching tasks", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let polling: AppProcess;
  let controller: AppProcess | undefined;

  before(async () => {
    db = await freshDatabase();
    polling = await startApp("polling", { databaseUrl: db.url });
  });
  after(async () => {
    await Promise.all([polling?.stop(), controller?.stop()]);
    await db?.drop();
  });

  const base = (): string => polling.url("polling");
  const submit = async (body: Record<string, unknown>): Promise<TaskBody> => {
    const res = await call<TaskBody>("POST", `${base()}/train`, body);
    assert.equal(res.status, 202, res.text);
    return res.body;
  };

  test("a queued task's status says how many are ahead of it", async () => {
    // No controller yet: nothing is admitted.
    const tasks = [];
    for (let i = 0; i < 3; i++) tasks.push(await submit({ duration_seconds: 0 }));
    const positions = await Promise.all(
      tasks.map(async (t) => (await call(`GET`, `${base()}/train/${t.id}/status`)).body),
    );
    assert.deepEqual(
      positions.map((p) => [p.queue_position, p.queue_position_exact]),
      [
        [0, true],
        [1, true],
        [2, true],
      ],
    );
    controller = await startApp("controller", { databaseUrl: db.url });
    for (const t of tasks) await waitForStatus(base(), t.id, ["completed"]);
    const done = await call("GET", `${base()}/train/${tasks[2]?.id ?? ""}/status`);
    assert.equal(done.body.queue_position, undefined, "only queued tasks have a position");
  });

  test("long-poll answers as soon as the task ends, or with its status at the timeout", async () => {
    const quick = await submit({ duration_seconds: 1 });
    const started = Date.now();
    const ended = await call<TaskBody>("GET", `${base()}/train/${quick.id}/wait?timeout=30`);
    assert.equal(ended.status, 200);
    assert.equal(ended.body.status, "completed");
    assert.ok(Date.now() - started < 25_000, "answered at the end, not at the timeout");

    const slow = await submit({ duration_seconds: 30 });
    const waited = await call<TaskBody>("GET", `${base()}/train/${slow.id}/wait?timeout=1`);
    assert.equal(waited.status, 200);
    assert.ok(["queued", "running"].includes(waited.body.status));
    assert.ok(waited.headers.get("retry-after"), "not finished: Retry-After");
    await call("DELETE", `${base()}/train/${slow.id}`);

    const tooLong = await call("GET", `${base()}/train/${slow.id}/wait?timeout=3600`);
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.body.field, "timeout");
  });

  test("SSE: status and progress events, in order, ending after the terminal one; resumable", async () => {
    const task = await submit({ duration_seconds: 3 });
    const events = await readEvents(`${base()}/train/${task.id}/events`);
    assert.ok(events.length >= 3, `events: ${events.map((e) => e.event).join(",")}`);
    const ids = events.map((e) => e.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      "ids increase",
    );
    assert.equal(new Set(ids).size, ids.length, "no repeats");
    const last = events[events.length - 1];
    assert.equal(last?.event, "status");
    assert.equal(last?.data.status, "completed");
    const progress = events.filter((e) => e.event === "progress");
    assert.ok(progress.length >= 2, "progress was reported while it ran");
    const fractions = progress.map((e) => e.data.progress?.fraction ?? -1);
    assert.deepEqual(
      fractions,
      [...fractions].sort((a, b) => a - b),
      "fraction grows",
    );
    assert.ok(progress.some((e) => e.data.progress?.phase === "simulating"));

    // Resuming from the middle gives only what is newer.
    const middle = events[Math.floor(events.length / 2)]?.id ?? 0;
    const resumed = await readEvents(`${base()}/train/${task.id}/events`, {
      "last-event-id": String(middle),
    });
    assert.ok(resumed.every((e) => e.id > middle));
    assert.equal(resumed[resumed.length - 1]?.data.status, "completed");
  });

  test("progress shows in status and list while running, and never undoes a cancel", async () => {
    const task = await submit({ duration_seconds: 20 });
    await waitForStatus(base(), task.id, ["running"]);
    let status = (await call<SseEvent["data"]>("GET", `${base()}/train/${task.id}/status`)).body;
    const deadline = Date.now() + 10_000;
    while (status.progress?.phase !== "simulating" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await call<SseEvent["data"]>("GET", `${base()}/train/${task.id}/status`)).body;
    }
    assert.equal(status.progress?.phase, "simulating");
    assert.ok((status.progress?.fraction ?? 0) > 0 && (status.progress?.fraction ?? 1) < 1);
    const list = await call<{ items: SseEvent["data"][] }>("GET", `${base()}/train?status=running`);
    assert.ok(list.body.items.some((t) => t.id === task.id && t.progress !== null));

    await call("DELETE", `${base()}/train/${task.id}`);
    const [before] = await db.sql<{ version: number; progress: unknown }[]>`
      SELECT version, progress FROM tasks WHERE id = ${task.id}`;
    await new Promise((r) => setTimeout(r, 2500)); // a worker still running would report again
    const [later] = await db.sql<{ version: number; status: string; progress: unknown }[]>`
      SELECT version, status, progress FROM tasks WHERE id = ${task.id}`;
    assert.equal(later?.status, "cancelled");
    assert.deepEqual(later?.progress, before?.progress, "no progress written after the cancel");
    assert.equal(later?.version, before?.version);
  });
});
