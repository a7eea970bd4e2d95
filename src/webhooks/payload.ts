// The body of a callback: {id, created_at, finished_at, status, result | error}. A terminal task
// never changes, so every attempt of a delivery sends the same bytes. What it is built from is
// read together with the claim of the delivery (claimDue in outbox.ts): one round trip.
import type { TaskError } from "../tasks/task.js";

/** The task's columns and its model's summary, as the claim reads them. */
export interface PayloadSource {
  id: string;
  createdAt: Date;
  finishedAt: Date | null;
  status: string;
  error: TaskError | null;
  /** The model's summary; null when the task has none (or is not completed). */
  summary: unknown;
}

export interface CallbackPayload {
  id: string;
  created_at: string;
  finished_at: string | null;
  status: string;
  result?: unknown;
  error?: TaskError;
}

export function callbackPayload(task: PayloadSource): CallbackPayload {
  const payload: CallbackPayload = {
    id: task.id,
    created_at: task.createdAt.toISOString(),
    finished_at: task.finishedAt?.toISOString() ?? null,
    status: task.status,
  };
  if (task.status === "completed") {
    payload.result = task.summary ?? null;
  } else if (task.error) {
    payload.error = task.error;
  }
  return payload;
}
