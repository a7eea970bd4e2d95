// How a task looks on the wire, the same in every app and route.
import { maxAttempts, type Task } from "../tasks/task.js";

export interface TaskView {
  id: string;
  status: string;
  app: string;
  tenant: string;
  duration_seconds: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** The worker's phase and fraction done; null before it reports. */
  progress: { phase: string; fraction: number } | null;
  error?: { code: string; message: string };
  /** The retry fields, present when the task asked for more than one attempt. */
  attempt?: number;
  max_attempts?: number;
  /** While the task waits out a retry's backoff. */
  next_attempt_at?: string;
  previous_attempts?: {
    attempt: number;
    started_at: string | null;
    finished_at: string;
    error: { code: string; message: string };
  }[];
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function taskView(task: Task): TaskView {
  return {
    id: task.id,
    status: task.status,
    app: task.app,
    tenant: task.tenant,
    duration_seconds: task.params.duration_seconds,
    created_at: task.createdAt.toISOString(),
    started_at: iso(task.startedAt),
    finished_at: iso(task.finishedAt),
    // A completed run's last report is "storing"; what a reader wants to see is that it is done.
    progress: task.status === "completed" ? { phase: "done", fraction: 1 } : task.progress,
    ...(task.error ? { error: task.error } : {}),
    ...(maxAttempts(task) > 1 ? retryView(task) : {}),
  };
}

function retryView(task: Task): Partial<TaskView> {
  const backoffEnd = task.status === "queued" && task.admittedAt === null && task.notBefore;
  return {
    attempt: task.attempt,
    max_attempts: maxAttempts(task),
    ...(backoffEnd ? { next_attempt_at: backoffEnd.toISOString() } : {}),
    // Timestamps come from jsonb as Postgres writes them: normalised to the API's ISO form.
    previous_attempts: task.previousAttempts.map((a) => ({
      attempt: a.attempt,
      started_at: a.started_at ? new Date(a.started_at).toISOString() : null,
      finished_at: new Date(a.finished_at).toISOString(),
      error: a.error,
    })),
  };
}

export const statusPath = (id: string): string => `/train/${id}/status`;
export const resultPath = (id: string): string => `/train/${id}/result`;
