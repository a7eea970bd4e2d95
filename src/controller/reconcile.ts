// Level-triggered reconcile of one task: compare the row (the truth) with what the runner
// has, and take the single action that closes the gap. Running it twice is harmless: every
// action is idempotent (launch, stop) or a guarded transition.
import type { Logger } from "pino";
import type { Pool } from "../db/queryable.js";
import { taskRetries } from "../metrics/registry.js";
import type { Failure, Runner } from "../runner/runner.js";
import { refineFailure, releaseSlot } from "./admission.js";
import { isTerminal } from "../tasks/status.js";
import { awaitsRetry, failTask, releaseForRetry } from "../tasks/store.js";
import type { Task, TaskError } from "../tasks/task.js";

export type Action = "stop" | "forget" | "launch" | "fail" | "retry" | "none";

/** A finished task whose run has not ended this long after is stopped: it would hold a slot. */
const OVERDUE_MS = 60_000;

export async function reconcileTask(
  sql: Pool,
  runner: Runner,
  task: Task,
  log: Logger,
): Promise<Action> {
  if (awaitsRetry(task)) return settleFailedAttempt(sql, runner, task, log);
  const exec = await runner.inspect(task);

  if (isTerminal(task.status)) {
    // A failure recorded before the runner could say why (e.g. "lost" while a Job was still
    // failing): the runner's reason replaces it.
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
      if (task.status !== "cancelled" && !overdue(task.finishedAt)) return "none";
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
  //    already failing the run (a Job's FailureTarget): then the attempt fails now, with why.
  //    Its run is still ending, so a retry waits for it (settleFailedAttempt).
  if (exec?.state === "active") {
    if (!exec.failing) return "none";
    await fail(sql, task, exec.failing, log, "its run is failing");
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
  const after = await fail(sql, task, error, log, "its run ended without a result");
  if (after && awaitsRetry(after)) return settleFailedAttempt(sql, runner, after, log);
  await releaseSlot(sql, task.id);
  runner.forget(task.id);
  return "fail";
}

/**
 * A failed attempt with attempts left holds its slot until its run is gone (as a finished task
 * does); then the task gives the slot up and waits in the queue for its backoff to pass.
 */
async function settleFailedAttempt(
  sql: Pool,
  runner: Runner,
  task: Task,
  log: Logger,
): Promise<Action> {
  const failed = task.previousAttempts.at(-1);
  const previous: Task = { ...task, attempt: task.attempt - 1 };
  const exec = await runner.inspect(previous);
  if (exec?.state === "active") {
    if (!overdue(failed ? new Date(failed.finished_at) : null)) return "none";
    log.info({ task_id: task.id, attempt: previous.attempt }, "stopping a failed attempt's run");
    await runner.stop(previous);
    return "stop";
  }
  if (exec) {
    // Ended but still there (a failed Job is kept until its TTL): the next attempt's run takes
    // the same name, so this one must go first. The runner says when it is gone.
    await runner.stop(previous);
    runner.forget(task.id);
    if (await runner.inspect(previous)) return "stop";
  }
  if (await releaseForRetry(sql, task)) {
    taskRetries.inc({ code: failed?.error.code ?? "unknown" });
    log.info(
      { task_id: task.id, attempt: task.attempt, not_before: task.notBefore },
      "task will be retried",
    );
  }
  runner.forget(task.id);
  return "retry";
}

async function fail(
  sql: Pool,
  task: Task,
  error: TaskError,
  log: Logger,
  why: string,
): Promise<Task | undefined> {
  const after = await failTask(sql, task, error);
  if (after?.status === "failed") log.warn({ task_id: task.id, error }, `task failed: ${why}`);
  else if (after) log.warn({ task_id: task.id, error }, `attempt ${task.attempt} failed: ${why}`);
  return after;
}

function overdue(since: Date | null): boolean {
  return since !== null && Date.now() - since.getTime() > OVERDUE_MS;
}

function failureOf(exec: { code?: string; message: string }): Failure {
  return { code: exec.code ?? "worker_failed", message: exec.message };
}
