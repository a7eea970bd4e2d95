// Gauges of the database's state, read at scrape time: tasks by status, the queue (queued and
// not admitted) and its oldest member's age, the cap's slots in use, pending webhook deliveries.
// The truth is the database, not this process, so every process exports the same values: sum
// them across pods with max(), not sum(). One query serves every gauge of a scrape, and its
// answer is cached briefly, so that several scrapers (or a scrape of each port of `all`) cost
// one query.
import { Gauge } from "prom-client";
import type { Logger } from "pino";
import type { Queryable } from "../db/queryable.js";
import { STATUSES } from "../tasks/status.js";
import { registry } from "./registry.js";

/** Long enough to absorb scrapes that arrive together, short next to any scrape interval. */
export const STATS_CACHE_MS = 2000;
/** A scrape must not hang on a database that is away: the stats are then reported as down. */
const STATS_TIMEOUT_MS = 2000;

export interface TaskStats {
  byStatus: Record<string, number>;
  queued: number;
  oldestQueuedSeconds: number;
  slotsInUse: number;
  deliveriesPending: number;
}

interface StatsRow {
  by_status: Record<string, string | number> | null;
  queued: string | number;
  oldest_queued_seconds: string | number | null;
  slots: string | number;
  deliveries_pending: string | number;
}

export async function readTaskStats(sql: Queryable): Promise<TaskStats> {
  const rows = await sql<StatsRow[]>`
    SELECT
      -- A scan of tasks_status_seq_idx (or of the table): retention keeps either bounded.
      (SELECT json_object_agg(status, n)
         FROM (SELECT status, count(*) AS n FROM tasks GROUP BY status) s) AS by_status,
      -- The partial indexes tasks_queue_idx and tasks_slot_idx hold exactly these rows.
      (SELECT count(*) FROM tasks
        WHERE status = 'queued' AND admitted_at IS NULL) AS queued,
      (SELECT extract(epoch FROM now() - min(created_at)) FROM tasks
        WHERE status = 'queued' AND admitted_at IS NULL) AS oldest_queued_seconds,
      (SELECT count(*) FROM tasks
        WHERE admitted_at IS NOT NULL AND released_at IS NULL) AS slots,
      -- webhook_deliveries_due_idx is partial on pending.
      (SELECT count(*) FROM webhook_deliveries WHERE state = 'pending') AS deliveries_pending`;
  const row = rows[0];
  const byStatus: Record<string, number> = {};
  for (const status of STATUSES) byStatus[status] = Number(row?.by_status?.[status] ?? 0);
  return {
    byStatus,
    queued: Number(row?.queued ?? 0),
    oldestQueuedSeconds: Math.max(0, Number(row?.oldest_queued_seconds ?? 0)),
    slotsInUse: Number(row?.slots ?? 0),
    deliveriesPending: Number(row?.deliveries_pending ?? 0),
  };
}

/** Reads the stats at most once per STATS_CACHE_MS; concurrent scrapes share one read. */
export class TaskStatsCache {
  private current: { at: number; read: Promise<TaskStats | undefined> } | undefined;

  constructor(
    private readonly sql: Queryable,
    private readonly log: Logger,
    private readonly cacheMs = STATS_CACHE_MS,
  ) {}

  get(): Promise<TaskStats | undefined> {
    const now = Date.now();
    if (this.current && now - this.current.at < this.cacheMs) return this.current.read;
    const read = withTimeout(readTaskStats(this.sql), STATS_TIMEOUT_MS).catch((err: unknown) => {
      this.log.warn({ err }, "metrics: could not read the task stats");
      return undefined;
    });
    this.current = { at: now, read };
    return read;
  }
}

let installed = false;

/**
 * Registers the database gauges of this process. Once per process: the registry is the
 * process's, and so is the pool the gauges read through.
 */
export function installTaskStatsGauges(sql: Queryable, maxRunning: number, log: Logger): void {
  if (installed) return;
  installed = true;
  const cache = new TaskStatsCache(sql, log);
  // Every gauge below asks the cache in its collect(): one scrape, one query.
  const gauge = <L extends string>(
    name: string,
    help: string,
    set: (g: Gauge<L>, stats: TaskStats) => void,
    labelNames: readonly L[] = [],
  ): Gauge<L> =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const stats = await cache.get();
        // Unknown is not zero: with the database away the series disappear, and `up` says why.
        this.reset();
        if (stats) set(this, stats);
      },
    });

  gauge(
    "trainyard_tasks",
    "Tasks in the database by status (all processes report the same: aggregate with max)",
    (g, s) => {
      for (const [status, n] of Object.entries(s.byStatus)) g.set({ status }, n);
    },
    ["status"] as const,
  );
  gauge("trainyard_queue_depth", "Tasks queued and not yet admitted", (g, s) => g.set(s.queued));
  gauge(
    "trainyard_queue_oldest_age_seconds",
    "Age of the oldest task that is queued and not admitted; 0 when the queue is empty",
    (g, s) => g.set(s.oldestQueuedSeconds),
  );
  gauge(
    "trainyard_slots_in_use",
    "Slots of the cap in use: tasks admitted whose run is not yet gone",
    (g, s) => g.set(s.slotsInUse),
  );
  gauge(
    "trainyard_webhook_deliveries_pending",
    "Webhook deliveries waiting for their next attempt or in flight",
    (g, s) => g.set(s.deliveriesPending),
  );
  new Gauge({
    name: "trainyard_slots_capacity",
    help: "The cap: at most this many tasks admitted or running at once (TRAINYARD_MAX_RUNNING)",
    registers: [registry],
  }).set(maxRunning);
  new Gauge({
    name: "trainyard_task_stats_up",
    help: "1 when the last scrape could read the task gauges from the database, else 0",
    registers: [registry],
    async collect() {
      this.set((await cache.get()) ? 1 : 0);
    },
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
