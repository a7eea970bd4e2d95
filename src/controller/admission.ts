// The cap, enforced in the database (rule 3): under one transaction-scoped advisory lock,
// count the slots in use and admit the oldest queued tasks into the free ones. A slot is taken
// at admission and given back only when the run is gone (released_at, migration 005), so a
// finished task whose worker or Job is still ending keeps its slot until then. A task waiting
// out a retry's backoff (not_before, migration 007) is not admitted before its time.
// Two controllers, or one restarted mid-admission, can never admit past the cap, because
// the count and the admission are serialised by the lock and committed together.
import type { Pool } from "../db/queryable.js";
import { observeFinishedTask, type FinishedTaskTimes } from "../metrics/registry.js";
import { toTask, type Task, type TaskRow } from "../tasks/task.js";

export const ADMISSION_LOCK = 7_461_000;

export async function admit(sql: Pool, cap: number): Promise<Task[]> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${ADMISSION_LOCK})`;
    const rows = await tx<TaskRow[]>`
      WITH active AS (
        SELECT count(*)::int AS n FROM tasks
        WHERE admitted_at IS NOT NULL AND released_at IS NULL
      ), next AS (
        SELECT id FROM tasks
        WHERE status = 'queued' AND admitted_at IS NULL
          AND (not_before IS NULL OR not_before <= now())
        ORDER BY seq
        LIMIT GREATEST(${cap} - (SELECT n FROM active), 0)
        FOR UPDATE SKIP LOCKED
      )
      UPDATE tasks t SET admitted_at = now(), not_before = NULL, updated_at = now()
      FROM next WHERE t.id = next.id AND t.status = 'queued'
      RETURNING t.*`;
    return rows.map(toTask).sort((a, b) => a.seq - b.seq);
  });
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
