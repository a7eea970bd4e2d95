// All task SQL. Every status change is one guarded UPDATE (rule 1 of DESIGN.md): it names the
// statuses it may leave, and zero rows back means another actor won; callers re-read, never
// overwrite. The NOTIFY that wakes waiters, caches and the controller is sent by a trigger in
// the same transaction (see the migrations), so no status change can go unannounced.
import { randomUUID } from "node:crypto";
import type { Queryable } from "../db/queryable.js";
import { fromStatuses, type Status } from "./status.js";
import {
  DEFAULT_TENANT,
  MAX_RETRY_BACKOFF_SECONDS,
  toTask,
  type Task,
  type TaskError,
  type TaskParams,
  type TaskRow,
} from "./task.js";

export interface NewTask {
  app: string;
  /** Defaults to the implicit tenant. */
  tenant?: string | undefined;
  params: TaskParams;
  idempotencyKey?: string | undefined;
  callbackUrl?: string | undefined;
}

export interface InsertResult {
  task: Task;
  /** True when the Idempotency-Key named a task that already existed. */
  replayed: boolean;
}

export async function insertTask(sql: Queryable, input: NewTask): Promise<InsertResult> {
  const rows = await sql<TaskRow[]>`
    INSERT INTO tasks (id, status, app, tenant, params, idempotency_key, callback_url)
    VALUES (${randomUUID()}, 'queued', ${input.app}, ${input.tenant ?? DEFAULT_TENANT},
            ${sql.json(input.params as never)},
            ${input.idempotencyKey ?? null}, ${input.callbackUrl ?? null})
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING *`;
  const inserted = rows[0];
  if (inserted) return { task: toTask(inserted), replayed: false };
  // Only an idempotency key can conflict: the task it names is the answer.
  const existing = await sql<TaskRow[]>`
    SELECT * FROM tasks WHERE idempotency_key = ${input.idempotencyKey ?? null}`;
  const row = existing[0];
  if (!row) throw new Error("idempotency conflict without a row: deleted concurrently");
  return { task: toTask(row), replayed: true };
}

export async function getTask(sql: Queryable, id: string): Promise<Task | undefined> {
  const rows = await sql<TaskRow[]>`SELECT * FROM tasks WHERE id = ${id}`;
  return rows[0] ? toTask(rows[0]) : undefined;
}

export interface ListQuery {
  status?: Status | undefined;
  /** Return tasks older than this seq (the cursor of the previous page). */
  beforeSeq?: number | undefined;
  limit: number;
}

/** Newest first. Keyset pagination on seq, so a page costs the same at any depth. */
export async function listTasks(sql: Queryable, q: ListQuery): Promise<Task[]> {
  const rows = await sql<TaskRow[]>`
    SELECT * FROM tasks
    WHERE true
      ${q.status ? sql`AND status = ${q.status}` : sql``}
      ${q.beforeSeq !== undefined ? sql`AND seq < ${q.beforeSeq}` : sql``}
    ORDER BY seq DESC
    LIMIT ${q.limit}`;
  return rows.map(toTask);
}

export interface TransitionFields {
  error?: TaskError | undefined;
  runnerRef?: string | undefined;
}

/**
 * Moves a task to `to` if, and only if, it is in one of the statuses the transition table
 * allows. Returns the updated task, or undefined when the guard did not match.
 */
export async function transition(
  sql: Queryable,
  id: string,
  // A failure may be a retry: failTask decides. Nothing else moves a task back to queued.
  to: Exclude<Status, "failed" | "queued">,
  fields: TransitionFields = {},
): Promise<Task | undefined> {
  const from = fromStatuses(to);
  const rows = await sql<TaskRow[]>`
    UPDATE tasks SET
      status = ${to},
      updated_at = now(),
      started_at = CASE WHEN ${to} = 'running' THEN now() ELSE started_at END,
      finished_at = CASE WHEN ${to} IN ('completed', 'failed', 'cancelled')
                         THEN now() ELSE finished_at END,
      error = COALESCE(${fields.error ? sql.json(fields.error as never) : null}::jsonb, error),
      runner_ref = COALESCE(${fields.runnerRef ?? null}, runner_ref)
    WHERE id = ${id} AND status = ANY(${sql.array(from as Status[])}::text[])
      ${to === "running" ? sql`AND admitted_at IS NOT NULL` : sql``}
    RETURNING *`;
  return rows[0] ? toTask(rows[0]) : undefined;
}

/**
 * Fails a task's current attempt, in one guarded UPDATE like every transition. With attempts
 * left (params.max_attempts) the task goes back to queued instead: the attempt is recorded in
 * previous_attempts, and not_before puts the next one off by the backoff (retry_backoff_seconds,
 * doubled per attempt, capped). A run stopped at its time limit (DeadlineExceeded) is retried
 * only if the task asked for it (retry_on_timeout). A cancelled task is never failed or retried:
 * the guard excludes it. Readers see "failed" only when it is final, so waiters, webhooks and
 * caches need not know about retries. Fenced by the attempt: a report about an attempt that
 * is over (a late worker, a write retried after its answer was lost) changes nothing.
 */
export async function failTask(
  sql: Queryable,
  task: Pick<Task, "id" | "attempt">,
  error: TaskError,
): Promise<Task | undefined> {
  const retry = sql`(attempt < COALESCE((params->>'max_attempts')::int, 1) AND
    (${error.code}::text <> 'DeadlineExceeded'
      OR COALESCE((params->>'retry_on_timeout')::boolean, false)))`;
  const json = sql.json(error as never);
  const rows = await sql<TaskRow[]>`
    UPDATE tasks SET
      updated_at = now(),
      status = CASE WHEN ${retry} THEN 'queued' ELSE 'failed' END,
      error = CASE WHEN ${retry} THEN NULL ELSE ${json}::jsonb END,
      finished_at = CASE WHEN ${retry} THEN NULL ELSE now() END,
      previous_attempts = CASE WHEN ${retry}
        THEN previous_attempts || jsonb_build_array(jsonb_build_object(
          'attempt', attempt, 'started_at', started_at, 'finished_at', now(),
          'error', ${json}::jsonb, 'runner_ref', runner_ref))
        ELSE previous_attempts END,
      not_before = CASE WHEN ${retry}
        THEN now() + interval '1 second' * LEAST(${MAX_RETRY_BACKOFF_SECONDS},
          COALESCE((params->>'retry_backoff_seconds')::float8, 0) * 2 ^ (attempt - 1))
        ELSE not_before END,
      attempt = CASE WHEN ${retry} THEN attempt + 1 ELSE attempt END,
      started_at = CASE WHEN ${retry} THEN NULL ELSE started_at END,
      progress = CASE WHEN ${retry} THEN NULL ELSE progress END,
      runner_ref = CASE WHEN ${retry} THEN NULL ELSE runner_ref END
    WHERE id = ${task.id} AND attempt = ${task.attempt}
      AND status = ANY(${sql.array(fromStatuses("failed") as Status[])}::text[])
    RETURNING *`;
  return rows[0] ? toTask(rows[0]) : undefined;
}

/** Whether the task is a failed attempt's retry whose slot is still held (see migration 007). */
export function awaitsRetry(task: Task): boolean {
  return task.status === "queued" && task.admittedAt !== null && task.notBefore !== null;
}

/**
 * Gives up the slot of a failed attempt once its run is gone: the task waits in the queue for
 * its backoff to pass, then admission takes it like any other. Guarded by the attempt, so a
 * late second call for the same attempt does nothing.
 */
export async function releaseForRetry(sql: Queryable, task: Task): Promise<boolean> {
  const rows = await sql`
    UPDATE tasks SET admitted_at = NULL, updated_at = now()
     WHERE id = ${task.id} AND status = 'queued' AND attempt = ${task.attempt}
       AND admitted_at IS NOT NULL AND not_before IS NOT NULL
    RETURNING id`;
  return rows.length === 1;
}

/**
 * How long until the earliest retry backoff ends (ms, by the database's clock, which is the
 * one admission uses); undefined when no task waits for one.
 */
export async function nextRetryInMs(sql: Queryable): Promise<number | undefined> {
  const rows = await sql<{ ms: number | null }[]>`
    SELECT (EXTRACT(EPOCH FROM min(not_before) - now()) * 1000)::float8 AS ms FROM tasks
     WHERE status = 'queued' AND admitted_at IS NULL AND not_before IS NOT NULL`;
  return rows[0]?.ms ?? undefined;
}

/**
 * Records the worker's progress. Only while the task runs: a cancel (or any end) that landed
 * first is never undone by a late progress write.
 */
export async function setProgress(
  sql: Queryable,
  id: string,
  progress: { phase: string; fraction: number },
): Promise<boolean> {
  const rows = await sql`
    UPDATE tasks SET progress = ${sql.json(progress)}, updated_at = now()
     WHERE id = ${id} AND status = 'running'
    RETURNING id`;
  return rows.length === 1;
}

/**
 * Counted exactly up to here. No Postgres index answers "how many before me" without reading
 * each entry it counts, and a poll of a queued task must not cost more the longer the queue:
 * at 1M queued an exact count took 215 ms per poll (docs/benchmarks.md, finding 6).
 */
export const QUEUE_POSITION_BOUND = 1000;

export interface QueuePosition {
  /** Queued tasks ahead of this one (including any waiting out a retry's backoff). */
  ahead: number;
  /** False when the count stopped at QUEUE_POSITION_BOUND: at least that many are ahead. */
  exact: boolean;
}

/** How many queued tasks wait ahead of this one for admission (0 once admitted). */
export async function queuePosition(sql: Queryable, task: Task): Promise<QueuePosition> {
  if (task.status !== "queued" || task.admittedAt !== null) return { ahead: 0, exact: true };
  const rows = await sql<{ ahead: number }[]>`
    SELECT count(*)::int AS ahead FROM (
      SELECT 1 FROM tasks
       WHERE status = 'queued' AND admitted_at IS NULL AND seq < ${task.seq}
       LIMIT ${QUEUE_POSITION_BOUND}) AS head`;
  const ahead = rows[0]?.ahead ?? 0;
  return { ahead, exact: ahead < QUEUE_POSITION_BOUND };
}
