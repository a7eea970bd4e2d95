// Level-triggered reconcile of one task: compare the row (the truth) with what the runner
// has, and take the single action that closes the gap. Running it twice is harmless: every
// action is idempotent (launch, stop) or a guarded transition.
import type { Logger } from "pino";
import type { Pool } from "../db/queryable.js";
import type { Failure, Runner } from "../runner/runner.js";
import { refineFailure, releaseSlot } from "./admission.js";
import { isTerminal } from "../tasks/status.js";
import { transition } from "../tasks/store.js";
import type { Task } from "../tasks/task.js";

export type Action = "stop" | "forget" | "launch" | "fail" | "none";

/** A finished task whose run has not ended this long after is stopped: it would hold a slot. */
const OVERDUE_MS = 60_000;

export async function reconcileTask(
  sql: Pool,
  runner: Runner,
  task: Task,
  log: Logger,
): Promise<Action> {
  const exec = await runner.inspect(task);

  if (isTerminal(task.status)) {
    // A worker stopped by its runner (e.g. at the deadline) records "terminated"; the runner
    // knows the real reason.
    const failure =
      exec?.state === "active"
        ? exec.failing
        : exec && !exec.succeeded && exec.code
          ? failureOf(exec)
          : undefined;
    if (task.status === "failed" && failure) await refineFailure(sql, task.id, failure);

    if (exec?.state === "active") {
      // 1. Cancelled (or finished long ago) but still executing: stop it. A completed or
      //    failed run that is still exiting ends by itself and keeps its slot until then.
      const overdue = task.finishedAt && Date.now() - task.finishedAt.getTime() > OVERDUE_MS;
      if (task.status !== "cancelled" && !overdue) return "none";
      log.info({ task_id: task.id, status: task.status }, "stopping the run of a finished task");
      await runner.stop(task);
      return "stop";
    }
    // 2. Finished and nothing runs: give the slot back, forget what we knew.
    await releaseSlot(sql, task.id);
    runner.forget(task.id);
    return "forget";
  }

  // 3. Executing: the worker reports its own progress and outcome, unless the runner is
  //    already failing the run (a Job's FailureTarget): then the task fails now, with why.
  if (exec?.state === "active") {
    if (!exec.failing) return "none";
    const failed = await transition(sql, task.id, "failed", { error: exec.failing });
    if (failed)
      log.warn({ task_id: task.id, error: exec.failing }, "task failed: its run is failing");
    return "fail";
  }

  // 4. Queued and not admitted: admission's business, not ours.
  if (task.status === "queued" && task.admittedAt === null) return "none";

  // 5. Admitted and never launched (or the launch was lost in a crash): launch.
  if (task.status === "queued" && exec === undefined) {
    await runner.launch(task);
    return "launch";
  }

  // 6. The run is over but the task is not: the worker died before it could say why.
  const error = exec
    ? exec.succeeded
      ? { code: "no_result", message: "the run succeeded but stored no model" }
      : failureOf(exec)
    : { code: "lost", message: "the task's worker is gone" };
  const failed = await transition(sql, task.id, "failed", { error });
  if (failed) log.warn({ task_id: task.id, error }, "task failed: its run ended without a result");
  await releaseSlot(sql, task.id);
  runner.forget(task.id);
  return "fail";
}

function failureOf(exec: { code?: string; message: string }): Failure {
  return { code: exec.code ?? "worker_failed", message: exec.message };
}
