// All SQL of the webhook outbox (see migration 004): claiming due deliveries under a lease,
// fencing each attempt, recording outcomes, listing and redelivering.
import type { Queryable } from "../db/queryable.js";
import type { TaskError } from "../tasks/task.js";
import type { PayloadSource } from "./payload.js";

export const WEBHOOK_CHANNEL = "trainyard_webhook";

export type DeliveryState = "pending" | "succeeded" | "failed" | "gone";
export type AttemptOutcome = "succeeded" | "retry" | "failed" | "gone";

export interface Delivery {
  id: string;
  taskId: string;
  url: string;
  state: DeliveryState;
  attempts: number;
  maxAttempts: number | null;
  nextAttemptAt: Date;
  lastError: string | null;
  createdAt: Date;
  finishedAt: Date | null;
}

export interface AttemptRecord {
  attempt: number;
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  outcome: AttemptOutcome;
}

interface DeliveryRow {
  id: string;
  task_id: string;
  url: string;
  state: DeliveryState;
  attempts: number;
  max_attempts: number | null;
  next_attempt_at: Date;
  last_error: string | null;
  created_at: Date;
  finished_at: Date | null;
}

const toDelivery = (row: DeliveryRow): Delivery => ({
  id: row.id,
  taskId: row.task_id,
  url: row.url,
  state: row.state,
  attempts: row.attempts,
  maxAttempts: row.max_attempts,
  nextAttemptAt: row.next_attempt_at,
  lastError: row.last_error,
  createdAt: row.created_at,
  finishedAt: row.finished_at,
});

/** A claimed delivery and what its callback is made of (undefined: the task is gone). */
export interface ClaimedDelivery extends Delivery {
  source: PayloadSource | undefined;
}

interface ClaimedRow extends DeliveryRow {
  task_status: string | null;
  task_created_at: Date | null;
  task_finished_at: Date | null;
  task_error: TaskError | null;
  model_summary: unknown;
}

/**
 * Takes up to `limit` due deliveries no live dispatcher holds, and leases them to `owner`.
 * Each comes with its task and model, read by the same statement: a terminal task never
 * changes, and its model was committed with its status, so this is what every attempt sends.
 */
export async function claimDue(
  sql: Queryable,
  owner: string,
  limit: number,
  leaseMs: number,
): Promise<ClaimedDelivery[]> {
  const rows = await sql<ClaimedRow[]>`
    WITH claimed AS (
      UPDATE webhook_deliveries d
         SET locked_by = ${owner}, locked_until = now() + ${leaseMs} * interval '1 millisecond'
       WHERE d.id IN (
         SELECT id FROM webhook_deliveries
          WHERE state = 'pending' AND next_attempt_at <= now()
            AND (locked_until IS NULL OR locked_until < now())
          ORDER BY next_attempt_at
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED)
      RETURNING d.*)
    SELECT c.*, t.status AS task_status, t.created_at AS task_created_at,
           t.finished_at AS task_finished_at, t.error AS task_error, m.summary AS model_summary
      FROM claimed c
      LEFT JOIN tasks t ON t.id = c.task_id
      LEFT JOIN models m ON m.task_id = c.task_id`;
  return rows.map((row) => ({
    ...toDelivery(row),
    source:
      row.task_status === null || row.task_created_at === null
        ? undefined
        : {
            id: row.task_id,
            createdAt: row.task_created_at,
            finishedAt: row.task_finished_at,
            status: row.task_status,
            error: row.task_error,
            summary: row.model_summary,
          },
  }));
}

/**
 * Starts attempt number `attempts + 1`, if `owner` still holds the lease and nobody started it:
 * the attempts counter is the fencing token that keeps two dispatchers from sending one attempt.
 */
export async function beginAttempt(
  sql: Queryable,
  id: string,
  owner: string,
  attemptsSoFar: number,
  leaseMs: number,
): Promise<boolean> {
  const rows = await sql`
    UPDATE webhook_deliveries
       SET attempts = attempts + 1, locked_until = now() + ${leaseMs} * interval '1 millisecond'
     WHERE id = ${id} AND locked_by = ${owner} AND attempts = ${attemptsSoFar}
       AND state = 'pending'
    RETURNING id`;
  return rows.length === 1;
}

export interface AttemptResultRow {
  attempt: number;
  startedAt: Date;
  durationMs: number;
  statusCode: number | undefined;
  error: string | undefined;
  outcome: AttemptOutcome;
}

/**
 * Records an attempt and what follows from it, in one statement (one round trip, one commit):
 * the delivery ends (succeeded, failed, gone) or waits `nextDelayMs` for the next attempt,
 * still leased to `owner` for `leaseMs` so that nobody else takes it meanwhile. Fenced like
 * beginAttempt: the delivery changes only while `owner` holds it at this very attempt.
 */
export async function recordAttempt(
  sql: Queryable,
  id: string,
  owner: string,
  attempt: AttemptResultRow,
  next: { state: DeliveryState; nextDelayMs: number; leaseMs: number },
): Promise<void> {
  const finished = next.state !== "pending";
  await sql`
    WITH attempt AS (
      INSERT INTO webhook_attempts
        (delivery_id, attempt, started_at, duration_ms, status_code, error, outcome)
      VALUES (${id}, ${attempt.attempt}, ${attempt.startedAt}, ${attempt.durationMs},
              ${attempt.statusCode ?? null}, ${attempt.error ?? null}, ${attempt.outcome})
      ON CONFLICT DO NOTHING)
    UPDATE webhook_deliveries SET
      state = ${next.state},
      last_error = ${attempt.outcome === "succeeded" ? null : lastError(attempt)},
      finished_at = ${finished ? sql`now()` : null},
      next_attempt_at = now() + ${next.nextDelayMs} * interval '1 millisecond',
      locked_by = ${finished ? null : owner},
      locked_until = ${finished ? null : sql`now() + ${next.leaseMs} * interval '1 millisecond'`}
    WHERE id = ${id} AND locked_by = ${owner} AND attempts = ${attempt.attempt}`;
}

function lastError(attempt: AttemptResultRow): string {
  return attempt.error ?? `HTTP ${attempt.statusCode ?? "?"}`;
}

/** Gives a delivery back (shutdown): another dispatcher may take it at its next_attempt_at. */
export async function release(sql: Queryable, id: string, owner: string): Promise<void> {
  await sql`
    UPDATE webhook_deliveries SET locked_by = NULL, locked_until = NULL
     WHERE id = ${id} AND locked_by = ${owner} AND state = 'pending'`;
}

/** Ends a delivery that has no attempts left (e.g. it was claimed after its last one). */
export async function markFailed(sql: Queryable, id: string, owner: string): Promise<void> {
  await sql`
    UPDATE webhook_deliveries SET state = 'failed', finished_at = now(),
           locked_by = NULL, locked_until = NULL
     WHERE id = ${id} AND locked_by = ${owner} AND state = 'pending'`;
}

/**
 * When the next pending delivery becomes claimable (due and not leased), if any. The first
 * entry of webhook_deliveries_claimable_idx (migration 011), whose expression this must match.
 */
export async function nextClaimableAt(sql: Queryable): Promise<Date | undefined> {
  const rows = await sql<{ at: Date | null }[]>`
    SELECT min(GREATEST(next_attempt_at, COALESCE(locked_until, next_attempt_at))) AS at
      FROM webhook_deliveries WHERE state = 'pending'`;
  return rows[0]?.at ?? undefined;
}

export async function deliveriesOf(
  sql: Queryable,
  taskId: string,
): Promise<{ delivery: Delivery; attempts: AttemptRecord[] }[]> {
  const deliveries = await sql<DeliveryRow[]>`
    SELECT * FROM webhook_deliveries WHERE task_id = ${taskId} ORDER BY created_at`;
  if (deliveries.length === 0) return [];
  const attempts = await sql<(AttemptRecordRow & { delivery_id: string })[]>`
    SELECT * FROM webhook_attempts
     WHERE delivery_id = ANY(${sql.array(deliveries.map((d) => d.id))}::uuid[])
     ORDER BY attempt`;
  return deliveries.map((row) => ({
    delivery: toDelivery(row),
    attempts: attempts.filter((a) => a.delivery_id === row.id).map(toAttempt),
  }));
}

interface AttemptRecordRow {
  attempt: number;
  started_at: Date;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  outcome: AttemptOutcome;
}

const toAttempt = (row: AttemptRecordRow): AttemptRecord => ({
  attempt: row.attempt,
  startedAt: row.started_at,
  durationMs: row.duration_ms,
  statusCode: row.status_code,
  error: row.error,
  outcome: row.outcome,
});

/**
 * Sends a finally failed (or gone) delivery again, with the same event id and a fresh budget
 * of `maxAttempts` attempts. Undefined when the task has no delivery that may be redelivered.
 */
export async function redeliver(
  sql: Queryable,
  taskId: string,
  maxAttempts: number,
): Promise<Delivery | undefined> {
  const rows = await sql<DeliveryRow[]>`
    UPDATE webhook_deliveries SET
      state = 'pending', max_attempts = attempts + ${maxAttempts}, next_attempt_at = now(),
      finished_at = NULL, locked_by = NULL, locked_until = NULL
    WHERE id = (SELECT id FROM webhook_deliveries WHERE task_id = ${taskId}
                 ORDER BY created_at DESC LIMIT 1)
      AND state IN ('failed', 'gone')
    RETURNING *`;
  const row = rows[0];
  if (!row) return undefined;
  await sql`SELECT pg_notify(${WEBHOOK_CHANNEL}, ${taskId})`;
  return toDelivery(row);
}
