// All task SQL. Every status change is one guarded UPDATE (rule 1 of DESIGN.md): it names the
// statuses it may leave, and zero rows back means another actor won; callers re-read, never
// overwrite. The NOTIFY that wakes waiters, caches and the controller is sent by a trigger in
// the same transaction (see the migrations), so no status change can go unannounced.
import { randomUUID } from "node:crypto";
import type { Queryable } from "../db/queryable.js";
import { fromStatuses, type Status } from "./status.js";
import { toTask, type Task, type TaskError, type TaskParams, type TaskRow } from "./task.js";

export interface NewTask {
  app: string;
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
    INSERT INTO tasks (id, status, app, params, idempotency_key, callback_url)
    VALUES (${randomUUID()}, 'queued', ${input.app}, ${sql.json(input.params as never)},
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
  to: Status,
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

/** How many queued tasks wait ahead of this one for admission (0 once admitted). */
export async function queuePosition(sql: Queryable, task: Task): Promise<number> {
  if (task.status !== "queued" || task.admittedAt !== null) return 0;
  const rows = await sql<{ ahead: number }[]>`
    SELECT count(*)::int AS ahead FROM tasks
     WHERE status = 'queued' AND admitted_at IS NULL AND seq < ${task.seq}`;
  return rows[0]?.ahead ?? 0;
}
