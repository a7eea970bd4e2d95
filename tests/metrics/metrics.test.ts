// /metrics of running processes after a real flow: a controller (cap 1, so that a queue forms),
// the polling and webhook apps, a receiver for the callback. Names, types and that the values
// moved, as a Prometheus server would read them.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { TaskStatsCache } from "../../src/metrics/task-stats.js";
import { connect } from "../../src/db/connect.js";
import { startApp, type AppProcess } from "../support/app-process.js";
import { freshDatabase } from "../support/database.js";
import { call, waitForStatus, type TaskBody } from "../support/http.js";
import { freePort } from "../support/ports.js";
import { scrape, sumOf, valueOf, type Scrape } from "../support/prometheus.js";
import { Receiver } from "../support/receiver.js";

interface OpenApiOperation {
  tags?: string[];
  parameters?: { name: string; in: string; schema?: Record<string, unknown> }[];
  responses: Record<string, { content?: Record<string, unknown> }>;
}

const ENV = { TRAINYARD_MAX_RUNNING: "1", TRAINYARD_WEBHOOK_BACKOFF_SECONDS: "1" };

describe("metrics", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let controller: AppProcess;
  let polling: AppProcess;
  let webhook: AppProcess;
  const receiver = new Receiver();

  before(async () => {
    db = await freshDatabase();
    await receiver.start();
    controller = await startApp("controller", { databaseUrl: db.url, env: ENV });
    polling = await startApp("polling", { databaseUrl: db.url, env: ENV });
    webhook = await startApp("webhook", { databaseUrl: db.url, env: ENV });
  });
  after(async () => {
    await Promise.all([polling?.stop(), webhook?.stop(), controller?.stop()]);
    await receiver.close();
    await db?.drop();
  });

  /** Scrapes until `check` holds (the database gauges are cached for two seconds). */
  async function scrapeUntil(
    base: string,
    what: string,
    check: (s: Scrape) => boolean,
  ): Promise<Scrape> {
    const deadline = Date.now() + 15_000;
    let last = await scrape(base);
    while (!check(last)) {
      if (Date.now() > deadline) throw new Error(`${what}: never seen in\n${last.text}`);
      await new Promise((r) => setTimeout(r, 200));
      last = await scrape(base);
    }
    return last;
  }

  test("every app and the controller's health port serve the exposition format", async () => {
    for (const base of [
      polling.url("polling"),
      webhook.url("webhook"),
      controller.url("controller"),
    ]) {
      const s = await scrape(base);
      assert.match(s.contentType, /^text\/plain; version=0\.0\.4; charset=utf-8$/);
      assert.equal(s.types.get("trainyard_tasks"), "gauge");
      assert.equal(s.types.get("trainyard_queue_depth"), "gauge");
      assert.equal(s.types.get("trainyard_queue_oldest_age_seconds"), "gauge");
      assert.equal(s.types.get("trainyard_slots_in_use"), "gauge");
      assert.equal(s.types.get("trainyard_slots_capacity"), "gauge");
      assert.equal(s.types.get("trainyard_task_stats_up"), "gauge");
      assert.equal(s.types.get("trainyard_webhook_deliveries_pending"), "gauge");
      assert.equal(s.types.get("trainyard_http_request_duration_seconds"), "histogram");
      assert.equal(s.types.get("trainyard_task_run_duration_seconds"), "histogram");
      assert.equal(s.types.get("trainyard_task_queue_wait_seconds"), "histogram");
      assert.equal(s.types.get("trainyard_webhook_attempts_total"), "counter");
      assert.equal(s.types.get("trainyard_retention_deleted_rows_total"), "counter");
      assert.equal(s.types.get("process_cpu_seconds_total"), "counter");
      assert.equal(valueOf(s, "trainyard_slots_capacity"), 1);
      assert.equal(valueOf(s, "trainyard_task_stats_up"), 1);
      for (const status of ["queued", "running", "completed", "failed", "cancelled"]) {
        assert.equal(typeof valueOf(s, "trainyard_tasks", { status }), "number", status);
      }
      // Every metric of ours has the prefix, and every counter the _total suffix.
      for (const [name, type] of s.types) {
        if (name.startsWith("process_") || name.startsWith("nodejs_")) continue;
        assert.match(name, /^trainyard_/, name);
        if (type === "counter") assert.match(name, /_total$/, name);
      }
    }
  });

  test("the OpenAPI documents describe /metrics", async () => {
    for (const base of [polling.url("polling"), controller.url("controller")]) {
      const doc = await call<{ paths: Record<string, Record<string, OpenApiOperation>> }>(
        "GET",
        `${base}/openapi.json`,
      );
      const op = doc.body.paths["/metrics"]?.get;
      assert.ok(op, `${base}: /metrics in the document`);
      assert.deepEqual(op.tags, ["operations"]);
      assert.ok(op.responses["200"]?.content?.["text/plain"], "text/plain answer");
    }
  });

  test("a real flow moves the gauges, the histograms and the counters", async () => {
    const before = await scrape(controller.url("controller"));
    const runsBefore = sumOf(before, "trainyard_task_run_duration_seconds_count");
    const waitsBefore = valueOf(before, "trainyard_task_queue_wait_seconds_count") ?? 0;

    // Cap 1: the first task runs, two more wait in the queue.
    const api = polling.url("polling");
    const submitted: TaskBody[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call<TaskBody>("POST", `${api}/train`, { duration_seconds: 2 });
      assert.equal(res.status, 202, res.text);
      submitted.push(res.body);
    }
    const busy = await scrapeUntil(api, "a queue of 2 behind 1 slot", (s) => {
      return (
        valueOf(s, "trainyard_queue_depth") === 2 && valueOf(s, "trainyard_slots_in_use") === 1
      );
    });
    assert.ok((valueOf(busy, "trainyard_queue_oldest_age_seconds") ?? 0) > 0);
    assert.ok((valueOf(busy, "trainyard_tasks", { status: "queued" }) ?? 0) >= 2);

    // One cancelled while queued: it never runs, so it is in no histogram.
    const cancelled = submitted[2] as TaskBody;
    assert.equal((await call("DELETE", `${api}/train/${cancelled.id}`)).status, 200);
    for (const task of submitted.slice(0, 2)) {
      await waitForStatus(api, task.id, ["completed"], 30_000);
    }

    // A webhook task whose callback is refused once, then accepted: a retry and a success.
    receiver.script("/metrics-hook", [{ status: 503 }, { status: 200 }]);
    const hooked = await call<TaskBody>("POST", `${webhook.url("webhook")}/train`, {
      callback_url: receiver.url("/metrics-hook"),
      duration_seconds: 0,
    });
    assert.equal(hooked.status, 202, hooked.text);
    await receiver.waitFor("/metrics-hook", 2);

    const idle = await scrapeUntil(api, "the queue drained and the slot released", (s) => {
      return (
        valueOf(s, "trainyard_queue_depth") === 0 &&
        valueOf(s, "trainyard_slots_in_use") === 0 &&
        valueOf(s, "trainyard_tasks", { status: "completed" }) === 3
      );
    });
    assert.equal(valueOf(idle, "trainyard_tasks", { status: "cancelled" }), 1);
    assert.equal(valueOf(idle, "trainyard_queue_oldest_age_seconds"), 0);

    // Run and wait times are observed by the controller, once per task that ran.
    const after = await scrapeUntil(controller.url("controller"), "3 runs observed", (s) => {
      return sumOf(s, "trainyard_task_run_duration_seconds_count") - runsBefore === 3;
    });
    assert.equal(
      sumOf(after, "trainyard_task_run_duration_seconds_count", { status: "completed" }) -
        sumOf(before, "trainyard_task_run_duration_seconds_count", { status: "completed" }),
      3,
    );
    assert.equal((valueOf(after, "trainyard_task_queue_wait_seconds_count") ?? 0) - waitsBefore, 3);
    // The two-second runs show in the sum; the second task waited for the first one's run.
    const runSum = sumOf(after, "trainyard_task_run_duration_seconds_sum", { status: "completed" });
    assert.ok(runSum >= 4, `run seconds ${runSum}`);
    assert.ok((valueOf(after, "trainyard_task_queue_wait_seconds_sum") ?? 0) >= 1.5);
    // Buckets are cumulative: the +Inf bucket is the count.
    assert.equal(
      valueOf(after, "trainyard_task_run_duration_seconds_bucket", {
        status: "completed",
        le: "+Inf",
      }),
      valueOf(after, "trainyard_task_run_duration_seconds_count", { status: "completed" }),
    );

    await scrapeUntil(controller.url("controller"), "both webhook attempts", (s) => {
      return (
        valueOf(s, "trainyard_webhook_attempts_total", { outcome: "retry" }) === 1 &&
        valueOf(s, "trainyard_webhook_attempts_total", { outcome: "succeeded" }) === 1
      );
    });
  });

  test("request latency is labelled with the route pattern and the status code", async () => {
    const api = polling.url("polling");
    const res = await call<TaskBody>("POST", `${api}/train`, { duration_seconds: 0 });
    await waitForStatus(api, res.body.id, ["completed"]);
    await call("GET", `${api}/train/${res.body.id}/result`);
    await call("GET", `${api}/train/00000000-0000-4000-8000-000000000000/status`);
    await call("GET", `${api}/no/such/route/${res.body.id}`);
    const s = await scrape(api);
    const count = (route: string, method: string, status: string): number =>
      sumOf(s, "trainyard_http_request_duration_seconds_count", {
        app: "polling",
        route,
        method,
        status_code: status,
      });
    assert.ok(count("/train/:id/status", "GET", "200") >= 1);
    assert.ok(count("/train/:id/status", "GET", "404") >= 1);
    assert.equal(count("/train/:id/result", "GET", "200"), 1);
    assert.ok(count("/train", "POST", "202") >= 1);
    assert.equal(count("(unmatched)", "GET", "404"), 1);
    assert.ok(!s.text.includes(res.body.id), "no task id in any label");
    const sum = sumOf(s, "trainyard_http_request_duration_seconds_sum", { route: "/train" });
    assert.ok(sum > 0 && sum < 10, `seconds, not milliseconds: ${sum}`);
  });
});

describe("metrics: the database gauges when the database is away", () => {
  test("the stats read fails softly: up is 0 and the reading is not cached for long", async () => {
    const sql = connect(`postgres://nobody@127.0.0.1:${await freePort()}/none`, { max: 1 });
    try {
      const cache = new TaskStatsCache(sql, pino({ level: "silent" }), 50);
      const started = Date.now();
      assert.equal(await cache.get(), undefined);
      assert.ok(Date.now() - started < 5000, "no long hang");
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
