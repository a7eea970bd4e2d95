// Retention: deletes what is older than TRAINYARD_RETENTION_DAYS, in small batches, from the
// leading controller, every TRAINYARD_RETENTION_INTERVAL_SECONDS.
//
// - Finished tasks (completed, failed, cancelled) that finished before the cutoff go, and with
//   them (ON DELETE CASCADE) their models, webhook deliveries and attempts. Never deleted: the
//   task of the latest completed model (predictions use it), a task that still holds a slot of
//   the cap (admitted, not yet released: its run may still be ending), and a task whose callback
//   is still pending (the dispatcher would lose its payload).
// - Delivery records that finished before the cutoff go even when their task stays (the latest
//   model's task); webhook_callbacks (the webhook client's inbox) received before it too.
//
// Without long locks: each batch is its own short transaction that picks its rows with
// FOR UPDATE SKIP LOCKED (a row someone is working on is left for the next pass) under a
// lock_timeout, and a pause between batches leaves room to the service's own work. The rows are
// found through the partial indexes of migration 010, so a batch costs the same at any backlog.
// Running twice at once (a leadership hand-over mid-pass) is harmless: SKIP LOCKED splits the
// rows between the two.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { RetentionConfig } from "../config.js";
import type { Pool, Queryable } from "../db/queryable.js";
import { retentionDeleted, retentionLastSuccess } from "../metrics/registry.js";

export type RetentionTable = "tasks" | "webhook_deliveries" | "webhook_callbacks";

export interface RetentionResult {
  deleted: Record<RetentionTable, number>;
  /** Transactions that deleted rows (an empty last look is not counted). */
  batches: number;
  /** False when the pass stopped early: no longer leader, or shutting down. */
  complete: boolean;
}

export interface RetentionPassOptions {
  batchSize: number;
  batchPauseMs: number;
  /** Stops between batches when it aborts. */
  signal?: AbortSignal;
  /** Checked before each batch: a deposed leader stops at once. */
  mayContinue?: () => boolean;
  /** Called with the ids of each batch of deleted tasks (e.g. to remove their log files). */
  onTasksDeleted?: (ids: string[]) => Promise<void> | void;
}

/** A short lock wait: a batch that would queue behind a busy row fails and is retried later. */
const LOCK_TIMEOUT = "2s";
const STATEMENT_TIMEOUT = "30s";

/** One pass: deletes, batch by batch, everything that finished `days` days ago or earlier. */
export async function retentionPass(
  sql: Pool,
  days: number,
  opts: RetentionPassOptions,
): Promise<RetentionResult> {
  const result: RetentionResult = {
    deleted: { tasks: 0, webhook_deliveries: 0, webhook_callbacks: 0 },
    batches: 0,
    complete: true,
  };
  if (days <= 0) return result;
  // One cutoff for the whole pass, from the database's clock (the timestamps' clock).
  const [row] = await sql<{ cutoff: Date }[]>`
    SELECT now() - make_interval(days => ${days}) AS cutoff`;
  if (!row) throw new Error("no cutoff");
  const cutoff = row.cutoff;
  const limit = opts.batchSize;

  const batches: [RetentionTable, () => Promise<string[]>][] = [
    ["tasks", () => deleteTasks(sql, cutoff, limit)],
    ["webhook_deliveries", () => deleteDeliveries(sql, cutoff, limit)],
    ["webhook_callbacks", () => deleteCallbacks(sql, cutoff, limit)],
  ];
  for (const [table, deleteBatch] of batches) {
    for (;;) {
      if (opts.signal?.aborted || (opts.mayContinue && !opts.mayContinue())) {
        result.complete = false;
        return result;
      }
      const ids = await deleteBatch();
      if (ids.length === 0) break;
      result.batches++;
      result.deleted[table] += ids.length;
      retentionDeleted.inc({ table }, ids.length);
      if (table === "tasks") await opts.onTasksDeleted?.(ids);
      if (ids.length < limit) break;
      if (opts.batchPauseMs > 0) {
        await sleep(opts.batchPauseMs, undefined, { signal: opts.signal }).catch(() => undefined);
      }
    }
  }
  return result;
}

async function inShortTransaction(
  sql: Pool,
  work: (tx: Queryable) => Promise<string[]>,
): Promise<string[]> {
  return sql.begin(async (tx) => {
    await tx.unsafe(
      `SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'; SET LOCAL statement_timeout = '${STATEMENT_TIMEOUT}'`,
    );
    return work(tx);
  });
}

function deleteTasks(sql: Pool, cutoff: Date, limit: number): Promise<string[]> {
  return inShortTransaction(sql, async (tx) => {
    const rows = await tx<{ id: string }[]>`
      WITH latest_model AS (
        -- The model predictions use (models/store.ts latestModel): its task stays.
        SELECT m.task_id FROM models m JOIN tasks t ON t.id = m.task_id
         WHERE t.status = 'completed'
         ORDER BY m.created_at DESC, t.seq DESC
         LIMIT 1
      ), doomed AS (
        SELECT t.id FROM tasks t
         WHERE t.status IN ('completed', 'failed', 'cancelled')
           AND t.finished_at < ${cutoff}
           -- Holding a slot: admitted and not yet released. A task cancelled before admission
           -- never held one (admitted_at and released_at both stay NULL).
           AND NOT (t.admitted_at IS NOT NULL AND t.released_at IS NULL)
           AND t.id NOT IN (SELECT task_id FROM latest_model)
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                            WHERE d.task_id = t.id AND d.state = 'pending')
         ORDER BY t.finished_at
         LIMIT ${limit}
         FOR UPDATE OF t SKIP LOCKED
      )
      DELETE FROM tasks t USING doomed WHERE t.id = doomed.id
      RETURNING t.id`;
    return rows.map((r) => r.id);
  });
}

function deleteDeliveries(sql: Pool, cutoff: Date, limit: number): Promise<string[]> {
  return inShortTransaction(sql, async (tx) => {
    const rows = await tx<{ id: string }[]>`
      DELETE FROM webhook_deliveries WHERE id IN (
        SELECT id FROM webhook_deliveries
         WHERE state <> 'pending' AND finished_at < ${cutoff}
         ORDER BY finished_at
         LIMIT ${limit}
         FOR UPDATE SKIP LOCKED)
      RETURNING id`;
    return rows.map((r) => r.id);
  });
}

function deleteCallbacks(sql: Pool, cutoff: Date, limit: number): Promise<string[]> {
  return inShortTransaction(sql, async (tx) => {
    const rows = await tx<{ webhook_id: string }[]>`
      DELETE FROM webhook_callbacks WHERE webhook_id IN (
        SELECT webhook_id FROM webhook_callbacks
         WHERE received_at < ${cutoff}
         ORDER BY received_at
         LIMIT ${limit}
         FOR UPDATE SKIP LOCKED)
      RETURNING webhook_id`;
    return rows.map((r) => r.webhook_id);
  });
}

/**
 * Runs a pass every intervalSeconds while this controller leads. The first pass comes soon
 * after start (at most a minute), not a whole interval later: controllers restarted more often
 * than the interval (every deploy) would otherwise never get to one.
 */
export class RetentionLoop {
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly sql: Pool,
    private readonly config: RetentionConfig,
    private readonly isLeader: () => boolean,
    private readonly log: Logger,
    private readonly onTasksDeleted?: (ids: string[]) => Promise<void> | void,
  ) {}

  start(): void {
    if (this.config.days <= 0) {
      this.log.info("retention: off (TRAINYARD_RETENTION_DAYS=0): everything is kept");
      return;
    }
    this.schedule(Math.min(this.config.intervalSeconds, 60) * 1000);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.abort.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule(this.config.intervalSeconds * 1000);
      });
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (!this.isLeader()) return;
    const started = Date.now();
    try {
      const result = await retentionPass(this.sql, this.config.days, {
        batchSize: this.config.batchSize,
        batchPauseMs: this.config.batchPauseMs,
        signal: this.abort.signal,
        mayContinue: this.isLeader,
        onTasksDeleted: this.onTasksDeleted,
      });
      if (result.complete) retentionLastSuccess.set(Date.now() / 1000);
      this.log.info(
        {
          ...result.deleted,
          batches: result.batches,
          complete: result.complete,
          ms: Date.now() - started,
        },
        "retention pass",
      );
    } catch (err) {
      // A lock timeout or a database away: the next pass picks up where this one stopped.
      this.log.warn({ err }, "retention pass failed; trying again at the next interval");
    }
  }
}
