// The seam between the controller and whatever executes a training run: a child process
// (local) or a Kubernetes Job. The controller is level-triggered: it asks the runner what
// exists for a task (inspect) and takes the one action that closes the gap (launch, stop).
import type { Task } from "../tasks/task.js";

export interface Failure {
  /** Stable reason, e.g. DeadlineExceeded, BackoffLimitExceeded, PodFailurePolicy. */
  code: string;
  message: string;
}

export type Execution =
  /** Running, or about to: leave it alone. `failing`: it is being failed and will end. */
  | { state: "active"; failing?: Failure }
  /**
   * Ended; the worker normally records its own outcome before it exits. `code` names the
   * failure when the runner knows it better than "worker_failed".
   */
  | { state: "exited"; succeeded: boolean; reason: string; message: string; code?: string };

export interface Runner {
  readonly kind: string;
  /** Starts the task's run. Idempotent: a second launch of the same task starts nothing. */
  launch(task: Task): Promise<void>;
  /** Stops the task's run if there is one (cancel). Idempotent. */
  stop(task: Task): Promise<void>;
  /** Stops and removes the run of a task that no longer exists. Idempotent. */
  discard(taskId: string): Promise<void>;
  /** What exists for this task now; undefined when nothing does (never launched, or gone). */
  inspect(task: Task): Promise<Execution | undefined>;
  /** Ids of the tasks this runner has executions for, to find runs whose task is gone. */
  executions(): Promise<string[]>;
  /** Drops what the runner remembers of a finished run, once its task is terminal. */
  forget(taskId: string): void;
  /** Called whenever a run changes (started, exited, vanished): the controller reconciles. */
  onChange(listener: (taskId: string) => void): void;
  close(): Promise<void>;
  /** Why the runner cannot work right now (readiness reports it); undefined when fine. */
  problem?(): string | undefined;
}
