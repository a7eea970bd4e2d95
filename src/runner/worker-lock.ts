// A running worker holds a session advisory lock keyed by its task's seq for as long as it
// lives. Postgres releases it when the worker's connection ends, however the worker died, so
// any process can tell whether a task's worker is alive, and wait for its death, with no
// heartbeat table and no polling.
import type { Pool, Queryable } from "../db/queryable.js";

// The two-key form keeps these locks apart from every other advisory lock in the database.
export const WORKER_LOCK_CLASS = 7_461_001;

function key(seq: number): number {
  // The second key is an int4: fold larger sequences into it (a collision only delays).
  return seq % 2_147_483_647;
}

export async function tryHoldWorkerLock(sql: Queryable, seq: number): Promise<boolean> {
  const rows = await sql<{ ok: boolean }[]>`
    SELECT pg_try_advisory_lock(${WORKER_LOCK_CLASS}, ${key(seq)}) AS ok`;
  return rows[0]?.ok === true;
}

/** True when some session holds the task's worker lock, i.e. its worker is alive. */
export async function isWorkerAlive(sql: Pool, seq: number): Promise<boolean> {
  const rows = await sql<{ held: boolean }[]>`
    SELECT EXISTS (
      SELECT 1 FROM pg_locks
      WHERE locktype = 'advisory' AND classid = ${WORKER_LOCK_CLASS}
        AND objid = ${key(seq)} AND objsubid = 2 AND granted
    ) AS held`;
  return rows[0]?.held === true;
}

/**
 * Resolves when the worker holding the lock is gone: a blocking lock request on a reserved
 * connection returns the moment Postgres releases the dead worker's lock.
 */
export async function waitForWorkerExit(sql: Pool, seq: number): Promise<void> {
  const conn = await sql.reserve();
  try {
    await conn`SELECT pg_advisory_lock(${WORKER_LOCK_CLASS}, ${key(seq)})`;
    await conn`SELECT pg_advisory_unlock(${WORKER_LOCK_CLASS}, ${key(seq)})`;
  } finally {
    conn.release();
  }
}
