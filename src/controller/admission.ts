// The cap, enforced in the database (rule 3): under one transaction-scoped advisory lock,
// count the slots in use and admit the oldest queued tasks into the free ones. A slot is taken
// at admission and given back only when the run is gone (released_at, migration 005), so a
// finished task whose worker or Job is still ending keeps its slot until then. A task waiting
// out a retry's backoff (not_before, migration 007) is not admitted before its time.
// Two controllers, or one restarted mid-admission, can never admit past the cap, because
// the count and the admission are serialised by the lock and committed together.
// Its cost must not grow with the queue: it runs after every finished task, under the lock.
// The count reads only the rows holding a slot (tasks_slot_idx, at most the cap), and the
// admission reads only the first `free` rows of the queue in seq order (tasks_queue_idx).
import type { Pool, Queryable } from "../db/queryable.js";
import { observeFinishedTask, type FinishedTaskTimes } from "../metrics/registry.js";
import { toTask, type Task, type TaskRow } from "../tasks/task.js";

export const ADMISSION_LOCK = 7_461_000;

export async function admit(sql: Pool, cap: number): Promise<Task[]> {
  return sql.begin((tx) => admitInTransaction(tx, cap));
}

/**
 * admit()'s work, in a transaction the caller owns and commits (or, to time it, rolls back).
 * Each step is its own statement, and that is what makes it correct: in READ COMMITTED every
 * statement reads from a snapshot taken when it starts, so the count must start after the lock
 * is held to see the admissions that the previous holder committed.
 */
export async function admitInTransaction(tx: Queryable, cap: number): Promise<Task[]> {
  await tx`SELECT pg_advisory_xact_lock(${ADMISSION_LOCK})`;
  const [slots] = await tx<{ free: number }[]>`
    SELECT ${cap}::int - count(*)::int AS free FROM tasks
     WHERE admitted_at IS NOT NULL AND released_at IS NULL`;
  const free = slots?.free ?? 0;
  if (free <= 0) return [];
  // The limit is a plain number (an expression there made the planner expect many rows and
  // hash-join them against a scan of the whole table), and the ids reach the UPDATE as an
  // array, so each is one primary-key lookup. Eligibility is the WHERE of the inner SELECT:
  // tasks_queue_idx (seq, WHERE status = 'queued' AND admitted_at IS NULL) serves it in seq
  // order, and any further condition there only filters the few rows read from its head.
  const rows = await tx<TaskRow[]>`
    UPDATE tasks t SET admitted_at = now(), not_before = NULL, updated_at = now()
     WHERE t.id = ANY(ARRAY(
             SELECT id FROM tasks
              WHERE status = 'queued' AND admitted_at IS NULL
                AND (not_before IS NULL OR not_before <= now())
              ORDER BY seq
              LIMIT ${free}
              FOR UPDATE SKIP LOCKED))
       AND t.status = 'queued' AND t.admitted_at IS NULL
    RETURNING t.*`;
  return rows.map(toTask).sort((a, b) => a.seq - b.seq);
}

/**
 * The tasks the controller must keep an eye on: those holding a slot (admitted, running, or
 * finished with their run not yet seen gone). Bounded by the cap.
 */
export async function activeTasks(sql: Pool): Promise<Task[]> {
  const rows = await sql<TaskRow[]>`
    SELECT * FROM tasks
    WHERE admitted_at IS NOT NULL AND released_at IS NULL
    ORDER BY seq`;
  return rows.map(toTask);
}

/**
 * Gives a finished task's slot back, once nothing runs for it any more. The guarded UPDATE
 * returns the row to exactly one caller across every controller: that is where the task's
 * queue wait and run time are recorded, once.
 */
export async function releaseSlot(sql: Pool, taskId: string): Promise<boolean> {
  const rows = await sql<FinishedTaskTimes[]>`
    UPDATE tasks SET released_at = now()
     WHERE id = ${taskId} AND released_at IS NULL
       AND status IN ('completed', 'failed', 'cancelled')
    RETURNING status, created_at, started_at, finished_at`;
  for (const row of rows) observeFinishedTask(row);
  return rows.length === 1;
}

/**
 * Replaces the generic error of a failed task with the runner's reason (e.g. the worker saw
 * only SIGTERM; the Job says DeadlineExceeded). Never changes the status.
 */
export async function refineFailure(
  sql: Pool,
  taskId: string,
  error: { code: string; message: string },
): Promise<void> {
  await sql`
    UPDATE tasks SET error = ${sql.json(error)}, updated_at = now()
     WHERE id = ${taskId} AND status = 'failed'
       AND error->>'code' IN ('terminated', 'worker_failed', 'lost')
       AND error->>'code' IS DISTINCT FROM ${error.code}`;
}
