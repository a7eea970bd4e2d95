// Level-triggered reconcile of one task: compare the row (the truth) with what the runner
// has, and take the single action that closes the gap. Running it twice is harmless: every
// action is idempotent (launch, stop) or a guarded transition.
import type { Logger } from "pino";
import type { Pool } from "../db/queryable.js";
import type { Runner } from "../runner/runner.js";
import { releaseSlot } from "./admission.js";
import { isTerminal } from "../tasks/status.js";
import { transition } from "../tasks/store.js";
import type { Task } from "../tasks/task.js";

export type Action = "stop" | "forget" | "launch" | "fail" | "none";

export async function reconcileTask(
  sql: Pool,
  runner: Runner,
  task: Task,
  log: Logger,
): Promise<Action> {
  const exec = await runner.inspect(task);

  // 1. Finished or cancelled, but still executing: stop it.
  if (isTerminal(task.status)) {
    if (exec?.state === "active") {
      log.info({ task_id: task.id, status: task.status }, "stopping the run of a finished task");
      await runner.stop(task);
      return "stop";
    }
    // 2. Finished and nothing runs: give the slot back, forget what we knew.
    await releaseSlot(sql, task.id);
    runner.forget(task.id);
    return "forget";
  }

  // 3. Executing: the worker reports its own progress and outcome.
  if (exec?.state === "active") return "none";

  // 4. Queued and not admitted: admission's business, not ours.
  if (task.status === "queued" && task.admittedAt === null) return "none";

  // 5. Admitted and never launched (or the launch was lost in a crash): launch.
  if (task.status === "queued" && exec === undefined) {
    await runner.launch(task);
    return "launch";
  }

  // 6. The run is over but the task is not: the worker died before it could say why.
  const error = exec
    ? { code: exec.succeeded ? "no_result" : "worker_failed", message: exec.message }
    : { code: "lost", message: "the task's worker is gone" };
  const failed = await transition(sql, task.id, "failed", { error });
  if (failed) log.warn({ task_id: task.id, error }, "task failed: its run ended without a result");
  await releaseSlot(sql, task.id);
  runner.forget(task.id);
  return "fail";
}
