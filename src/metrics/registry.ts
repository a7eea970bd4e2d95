// The process's Prometheus metrics: one registry per process, served at GET /metrics by every app
// the process runs (and by the controller's health port). Metrics that code pushes (HTTP
// latency, webhook attempts, run and queue times, retention) are defined here so that every
// name and label set is in one place; the gauges read from the database at scrape time live in
// task-stats.ts. Names follow the Prometheus conventions: trainyard_ prefix, base units
// (_seconds), _total for counters.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

export const registry = new Registry();

// process_* and nodejs_* (CPU, memory, event loop lag, GC): standard names, scraped as they are.
collectDefaultMetrics({ register: registry });

/** Request latency: 5 ms to 60 s covers an ordinary request up to a naive wait. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Run and queue times: seconds to hours (a run may last up to its timeout, 2 h by default). */
const TASK_BUCKETS = [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];

export const httpRequestDuration = new Histogram({
  name: "trainyard_http_request_duration_seconds",
  help: "HTTP requests by app, method, route pattern and status code, and how long they took",
  labelNames: ["app", "method", "route", "status_code"] as const,
  buckets: HTTP_BUCKETS,
  registers: [registry],
});

export const webhookAttempts = new Counter({
  name: "trainyard_webhook_attempts_total",
  help: "Webhook delivery attempts by outcome (succeeded, retry, failed, gone)",
  labelNames: ["outcome"] as const,
  registers: [registry],
});

export const taskRunDuration = new Histogram({
  name: "trainyard_task_run_duration_seconds",
  help: "Time from a task's start to its end, by final status; observed by the controller that releases its slot",
  labelNames: ["status"] as const,
  buckets: TASK_BUCKETS,
  registers: [registry],
});

export const taskQueueWait = new Histogram({
  name: "trainyard_task_queue_wait_seconds",
  help: "Time from a task's submission to its start; observed by the controller that releases its slot",
  buckets: TASK_BUCKETS,
  registers: [registry],
});

export const taskRetries = new Counter({
  name: "trainyard_task_retries_total",
  help: "Failed attempts requeued for another try, by the failed attempt's error code",
  labelNames: ["code"] as const,
  registers: [registry],
});

export const retentionDeleted = new Counter({
  name: "trainyard_retention_deleted_rows_total",
  help: "Rows deleted by the retention passes of this process, by table",
  labelNames: ["table"] as const,
  registers: [registry],
});

export const retentionLastSuccess = new Gauge({
  name: "trainyard_retention_last_success_timestamp_seconds",
  help: "When this process last completed a retention pass (Unix time); 0 until it has",
  registers: [registry],
});

// Zero series for the known label values, so that rate() and absent() work before the first
// event instead of the series appearing only when something happens.
for (const outcome of ["succeeded", "retry", "failed", "gone"]) webhookAttempts.inc({ outcome }, 0);
for (const table of ["tasks", "webhook_deliveries", "webhook_callbacks"]) {
  retentionDeleted.inc({ table }, 0);
}

/** A finished task's timestamps, as the row has them when its slot is released. */
export interface FinishedTaskTimes {
  status: string;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

/**
 * Records a finished task's queue wait and run time. Called exactly once per task across every
 * controller: where the guarded UPDATE that releases its slot returns the row (admission.ts).
 * A task that never started (cancelled while queued, failed before its worker ran) has no run
 * and no wait to record.
 */
export function observeFinishedTask(row: FinishedTaskTimes): void {
  if (!row.started_at) return;
  taskQueueWait.observe(seconds(row.created_at, row.started_at));
  if (row.finished_at) {
    taskRunDuration.observe({ status: row.status }, seconds(row.started_at, row.finished_at));
  }
}

function seconds(from: Date, to: Date): number {
  return Math.max(0, (to.getTime() - from.getTime()) / 1000);
}
