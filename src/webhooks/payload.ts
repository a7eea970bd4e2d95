// The body of a callback: {id, created_at, finished_at, status, result | error}. A terminal task
// never changes, so every attempt of a delivery sends the same bytes.
import type { Queryable } from "../db/queryable.js";
import { modelOf } from "../models/store.js";
import { getTask } from "../tasks/store.js";

export interface CallbackPayload {
  id: string;
  created_at: string;
  finished_at: string | null;
  status: string;
  result?: unknown;
  error?: { code: string; message: string };
}

export async function callbackPayload(
  sql: Queryable,
  taskId: string,
): Promise<CallbackPayload | undefined> {
  const task = await getTask(sql, taskId);
  if (!task) return undefined;
  const payload: CallbackPayload = {
    id: task.id,
    created_at: task.createdAt.toISOString(),
    finished_at: task.finishedAt?.toISOString() ?? null,
    status: task.status,
  };
  if (task.status === "completed") {
    const model = await modelOf(sql, task.id);
    payload.result = model?.summary ?? null;
  } else if (task.error) {
    payload.error = task.error;
  }
  return payload;
}
