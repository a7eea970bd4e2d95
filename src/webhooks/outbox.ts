// All SQL of the webhook outbox (see migration 004): claiming due deliveries under a lease,
// fencing each attempt, recording outcomes, listing and redelivering.
import type { Pool, Queryable } from "../db/queryable.js";

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

/** Takes up to `limit` due deliveries no live dispatcher holds, and leases them to `owner`. */
export async function claimDue(
  sql: Queryable,
  owner: string,
  limit: number,
  leaseMs: number,
): Promise<Delivery[]> {
  const rows = await sql<DeliveryRow[]>`
    UPDATE webhook_deliveries d
       SET locked_by = ${owner}, locked_until = now() + ${leaseMs} * interval '1 millisecond'
     WHERE d.id IN (
       SELECT id FROM webhook_deliveries
        WHERE state = 'pending' AND next_attempt_at <= now()
          AND (locked_until IS NULL OR locked_until < now())
        ORDER BY next_attempt_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)
    RETURNING d.*`;
  return rows.map(toDelivery);
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
 * Records an attempt and what follows from it, in one transaction: the delivery ends
 * (succeeded, failed, gone) or waits `nextDelayMs` for the next attempt, still leased to
 * `owner` for `leaseMs` so that nobody else takes it meanwhile.
 */
export async function recordAttempt(
  sql: Pool,
  id: string,
  owner: string,
  attempt: AttemptResultRow,
  next: { state: DeliveryState; nextDelayMs: number; leaseMs: number },
): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`
      INSERT INTO webhook_attempts
        (delivery_id, attempt, started_at, duration_ms, status_code, error, outcome)
      VALUES (${id}, ${attempt.attempt}, ${attempt.startedAt}, ${attempt.durationMs},
              ${attempt.statusCode ?? null}, ${attempt.error ?? null}, ${attempt.outcome})
      ON CONFLICT DO NOTHING`;
    const finished = next.state !== "pending";
    await tx`
      UPDATE webhook_deliveries SET
        state = ${next.state},
        last_error = ${attempt.outcome === "succeeded" ? null : lastError(attempt)},
        finished_at = ${finished ? tx`now()` : null},
        next_attempt_at = now() + ${next.nextDelayMs} * interval '1 millisecond',
        locked_by = ${finished ? null : owner},
        locked_until = ${finished ? null : tx`now() + ${next.leaseMs} * interval '1 millisecond'`}
      WHERE id = ${id} AND locked_by = ${owner}`;
  });
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

/** When the next pending delivery becomes claimable (due and not leased), if any. */
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
