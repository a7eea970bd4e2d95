// The task as the code sees it, mapped from its row.
import type { Status } from "./status.js";

export interface TaskError {
  /** Stable machine-readable reason, e.g. worker_failed, lost, cancelled. */
  code: string;
  message: string;
}

export interface TaskParams {
  duration_seconds: number;
  /** The run's time limit; absent on tasks stored before it existed. */
  timeout_seconds?: number;
  /** Retries, present only when the task asked for more than one attempt. */
  max_attempts?: number;
  /** The wait before the second attempt; it doubles for each one after. */
  retry_backoff_seconds?: number;
  /** Whether a run stopped at its time limit is retried too (not by default). */
  retry_on_timeout?: boolean;
}

/** The longest wait between two attempts, however many attempts and however long the base. */
export const MAX_RETRY_BACKOFF_SECONDS = 3600;

/** What an earlier attempt of a task did. */
export interface PreviousAttempt {
  attempt: number;
  started_at: string | null;
  finished_at: string;
  error: TaskError;
  runner_ref: string | null;
}

export interface Progress {
  /** loading, simulating, fitting, storing */
  phase: string;
  /** 0 to 1 */
  fraction: number;
}

/** The tenant of every task when TRAINYARD_TENANTS is not set. */
export const DEFAULT_TENANT = "default";

export interface Task {
  id: string;
  seq: number;
  status: Status;
  app: string;
  /** Who submitted it ("default" when no tenants are configured). */
  tenant: string;
  params: TaskParams;
  idempotencyKey: string | null;
  callbackUrl: string | null;
  error: TaskError | null;
  runnerRef: string | null;
  createdAt: Date;
  admittedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  progress: Progress | null;
  /** Bumped on every status or progress change (the SSE event id). */
  version: number;
  /** The attempt the task is on, from 1. */
  attempt: number;
  previousAttempts: PreviousAttempt[];
  /** While waiting out a retry's backoff: when the next attempt may be admitted. */
  notBefore: Date | null;
}

export interface TaskRow {
  id: string;
  seq: string | number;
  status: Status;
  app: string;
  tenant: string;
  params: TaskParams;
  idempotency_key: string | null;
  callback_url: string | null;
  error: TaskError | null;
  runner_ref: string | null;
  created_at: Date;
  admitted_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  progress: Progress | null;
  version: number;
  attempt: number;
  previous_attempts: PreviousAttempt[];
  not_before: Date | null;
}

/** How many attempts the task may make in all. */
export function maxAttempts(task: Pick<Task, "params">): number {
  return task.params.max_attempts ?? 1;
}

export function toTask(row: TaskRow): Task {
  return {
    id: row.id,
    seq: Number(row.seq),
    status: row.status,
    app: row.app,
    tenant: row.tenant,
    params: row.params,
    idempotencyKey: row.idempotency_key,
    callbackUrl: row.callback_url,
    error: row.error,
    runnerRef: row.runner_ref,
    createdAt: row.created_at,
    admittedAt: row.admitted_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    progress: row.progress,
    version: row.version,
    attempt: row.attempt,
    previousAttempts: row.previous_attempts,
    notBefore: row.not_before,
  };
}
