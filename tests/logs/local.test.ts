// GET /train/{id}/logs with the local runner: a controller and API processes on one host,
// sharing the data dir, real workers writing their logs, real HTTP streaming.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { stream } from "../support/stream.js";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { lastBytes } from "../../src/runner/logs.js";
import { startApp, type AppProcess } from "../support/app-process.js";
import { freshDatabase } from "../support/database.js";
import { scrape, sumOf } from "../support/prometheus.js";
import { call, waitForStatus, type TaskBody } from "../support/http.js";

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("task logs, local runner", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let controller: AppProcess;
  let polling: AppProcess;
  let naive: AppProcess;
  let webhook: AppProcess;
  const dataDir = mkdtempSync(join(tmpdir(), "trainyard-logs-"));
  const env = {
    TRAINYARD_MAX_RUNNING: "1",
    TRAINYARD_LOG_MAX_TAIL_BYTES: "4096",
    // Time for a cancelled worker to write its last line before SIGKILL, on a loaded machine.
    TRAINYARD_CANCEL_GRACE_SECONDS: "15",
  };

  before(async () => {
    db = await freshDatabase();
    // One host, one data dir: the API processes read the files the controller's workers write.
    controller = await startApp("controller", { databaseUrl: db.url, dataDir, env });
    polling = await startApp("polling", { databaseUrl: db.url, dataDir, env });
    naive = await startApp("naive", { databaseUrl: db.url, dataDir, env });
    webhook = await startApp("webhook", { databaseUrl: db.url, dataDir, env });
  });
  after(async () => {
    await Promise.all([polling?.stop(), naive?.stop(), webhook?.stop(), controller?.stop()]);
    await db?.drop();
  });

  const api = (): string => polling.url("polling");
  const fileOf = (id: string): string => readFileSync(join(dataDir, "logs", `${id}.log`), "utf8");

  async function submit(duration: number): Promise<TaskBody> {
    const res = await call<TaskBody>("POST", `${api()}/train`, { duration_seconds: duration });
    assert.equal(res.status, 202, res.text);
    return res.body;
  }

  test("a finished task's log on the polling, naive and webhook apps", async () => {
    const task = await submit(0);
    await waitForStatus(api(), task.id, ["completed"]);
    // The worker may still be writing its last line just after the status: wait for it.
    await until("the last line", () => fileOf(task.id).includes("training completed"));
    for (const base of [api(), naive.url("naive"), webhook.url("webhook")]) {
      const res = await call("GET", `${base}/train/${task.id}/logs`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
      assert.equal(res.text, fileOf(task.id));
      assert.match(res.text, /"msg":"training started"/);
      assert.match(res.text, /"msg":"training completed"/);
      assert.ok(res.text.includes(task.id));
    }
  });

  test("tail_bytes: a suffix of at most that many bytes, from a line start", async () => {
    const task = await submit(0);
    await waitForStatus(api(), task.id, ["completed"]);
    await until("the last line", () => fileOf(task.id).includes("training completed"));
    const whole = fileOf(task.id);
    const lines = whole.split("\n").filter(Boolean);
    assert.ok(lines.length >= 2, whole);
    const lastLine = `${lines[lines.length - 1] ?? ""}\n`;
    for (const n of [0, 10, lastLine.length, lastLine.length + 5, whole.length, 4096]) {
      const res = await call("GET", `${api()}/train/${task.id}/logs?tail_bytes=${n}`);
      assert.equal(res.status, 200);
      assert.ok(Buffer.byteLength(res.text) <= n, `${n}: ${res.text.length} bytes`);
      assert.ok(whole.endsWith(res.text), `${n}: a suffix`);
      assert.equal(res.text, lastBytes(Buffer.from(whole), n).toString("utf8"));
    }
    // Exactly the last line when the window is its size; the line cut by a larger window is
    // dropped rather than sent half.
    assert.equal(
      (await call("GET", `${api()}/train/${task.id}/logs?tail_bytes=${lastLine.length}`)).text,
      lastLine,
    );
    assert.equal(
      (await call("GET", `${api()}/train/${task.id}/logs?tail_bytes=${lastLine.length + 5}`)).text,
      lastLine,
    );
    // A window inside one line keeps that part of it.
    assert.equal(
      (await call("GET", `${api()}/train/${task.id}/logs?tail_bytes=10`)).text,
      whole.slice(-10),
    );
    const tooMuch = await call("GET", `${api()}/train/${task.id}/logs?tail_bytes=4097`);
    assert.equal(tooMuch.status, 400);
    assert.equal(tooMuch.body.field, "tail_bytes");
    const bogus = await call("GET", `${api()}/train/${task.id}/logs?follow=maybe`);
    assert.equal(bogus.status, 400);
    assert.equal(bogus.body.field, "follow");
  });

  test("the OpenAPI documents describe the logs route and its parameters", async () => {
    for (const base of [api(), naive.url("naive"), webhook.url("webhook")]) {
      const doc = await call<{
        paths: Record<
          string,
          Record<
            string,
            {
              parameters?: { name: string; in: string; schema?: { maximum?: number } }[];
              responses: Record<string, { content?: Record<string, unknown> }>;
            }
          >
        >;
      }>("GET", `${base}/openapi.json`);
      const op = doc.body.paths["/train/{id}/logs"]?.get;
      assert.ok(op, `${base}: the route is documented`);
      const params = new Map((op.parameters ?? []).map((p) => [`${p.in}:${p.name}`, p]));
      assert.equal(params.get("query:tail_bytes")?.schema?.maximum, 4096);
      assert.ok(params.has("query:follow") && params.has("path:id"));
      assert.ok(op.responses["200"]?.content?.["text/plain"]);
    }
  });

  test("an unknown task is 404 task_not_found", async () => {
    const res = await call("GET", `${api()}/train/00000000-0000-4000-8000-000000000000/logs`);
    assert.equal(res.status, 404);
    assert.equal(res.body.code, "task_not_found");
    assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/);
  });

  test("follow streams a running task's output and ends when the task ends", async () => {
    const task = await submit(3);
    await waitForStatus(api(), task.id, ["running"]);
    const started = Date.now();
    const s = await stream(`${api()}/train/${task.id}/logs?follow=true`);
    assert.equal(s.status, 200);
    assert.equal(s.contentType, "text/plain; charset=utf-8");
    // The tail comes at once, long before the run ends.
    await until("the first chunk", () => s.chunks.length > 0, 5000);
    assert.match(s.chunks[0]?.text ?? "", /training started/);
    assert.ok((s.chunks[0]?.at ?? 0) - started < 2000, "the tail came at once");
    const text = await s.done;
    const ended = Date.now();
    const done = await waitForStatus(api(), task.id, ["completed"]);
    assert.match(text, /training completed/, "the last line, written after the status");
    assert.equal(text, fileOf(task.id), "all of it, once");
    assert.ok(ended - started >= 1500, `the stream lasted the run (${ended - started} ms)`);
    const finished = new Date(done.finished_at ?? 0).getTime();
    assert.ok(ended - finished < 5000, `ended soon after the task (${ended - finished} ms)`);
    // A stream's length is not latency: followed logs stay out of the latency histogram,
    // whose logs-route sum would otherwise hold this stream's seconds.
    const metrics = await scrape(api());
    const sum = sumOf(metrics, "trainyard_http_request_duration_seconds_sum", {
      route: "/train/:id/logs",
    });
    assert.ok(sum < 1, `the logs route's latency sum is ${sum} s`);
  });

  test("follow of a queued task waits for its run; a cancel ends the stream", async () => {
    // Cap 1: the first task holds the slot, the second waits in the queue.
    const blocker = await submit(2);
    const queued = await submit(30);
    await waitForStatus(api(), blocker.id, ["running"]);
    assert.equal((await waitForStatus(api(), queued.id, ["queued"])).status, "queued");

    const empty = await call("GET", `${api()}/train/${queued.id}/logs`);
    assert.equal(empty.status, 200, "no log yet is an empty log while the task may still run");
    assert.equal(empty.text, "");

    const s = await stream(`${naive.url("naive")}/train/${queued.id}/logs?follow=true`);
    assert.equal(s.status, 200);
    await waitForStatus(api(), queued.id, ["running"], 20_000);
    await until("the queued task's first line", () =>
      s.chunks.some((c) => c.text.includes("training started")),
    );
    assert.equal((await call("DELETE", `${api()}/train/${queued.id}`)).status, 200);
    const text = await s.done;
    assert.equal((await waitForStatus(api(), queued.id, ["cancelled"])).status, "cancelled");
    // The worker says why it stopped, whether the NOTIFY or the runner's SIGTERM came first.
    assert.match(text, /training cancelled/);
    assert.ok(text.includes(queued.id) && !text.includes(blocker.id), "only that task's log");
  });

  test("a task that ended without ever running has no log: 404 log_not_found", async () => {
    const blocker = await submit(2);
    const never = await submit(0);
    await waitForStatus(api(), blocker.id, ["running"]);
    assert.equal((await call("DELETE", `${api()}/train/${never.id}`)).status, 200);
    for (const query of ["", "?follow=true"]) {
      const res = await call("GET", `${api()}/train/${never.id}/logs${query}`);
      assert.equal(res.status, 404, res.text);
      assert.equal(res.body.code, "log_not_found");
      assert.equal(res.body.task_status, "cancelled");
    }
    await waitForStatus(api(), blocker.id, ["completed"]);
  });

  test("a client that goes away mid-follow, and a process that stops mid-follow", async () => {
    const task = await submit(5);
    await waitForStatus(api(), task.id, ["running"]);
    const abort = new AbortController();
    const res = await fetch(`${api()}/train/${task.id}/logs?follow=true`, { signal: abort.signal });
    assert.equal(res.status, 200);
    abort.abort();
    // The app is fine and still answers.
    assert.equal((await call("GET", `${api()}/train/${task.id}/status`)).status, 200);

    // A follow in progress does not hold up a graceful stop.
    const extra = await startApp("polling", { databaseUrl: db.url, dataDir, env });
    const s = await stream(`${extra.url("polling")}/train/${task.id}/logs?follow=true`);
    await until("the first chunk", () => s.chunks.length > 0, 5000);
    const stopping = Date.now();
    assert.equal(await extra.stop(), 0, extra.logs.slice(-15).join("\n"));
    await s.done.catch(() => "");
    assert.ok(Date.now() - stopping < 4000, `stopped in ${Date.now() - stopping} ms`);
    await waitForStatus(api(), task.id, ["completed"], 20_000);
  });
});
