// A run's entrypoint, in a child process or a Job container: `trainyard worker <task-id>`.
// Load the data, fit, store the model with the task's move to completed, exit 0. The worker
// records its own outcome (completed, or failed with the reason) so the controller only has
// to step in for ends it cannot report: a stop by its runner, a kill, an OOM, a lost node.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Pool } from "./db/queryable.js";
import { classifyPgError } from "./db/connect.js";
import { withPatience } from "./db/patience.js";
import { completeWithModel } from "./models/store.js";
import { EXIT } from "./runner/exit-codes.js";
import { workerRef } from "./runner/local.js";
import { tryHoldWorkerLock } from "./runner/worker-lock.js";
import { TaskEvents } from "./tasks/events.js";
import { failTask, getTask, setProgress, transition } from "./tasks/store.js";
import type { TaskError } from "./tasks/task.js";
import { DEFAULT_DATA_PATH, loadPenguins } from "./training/dataset.js";
import { fitModel, type ModelSummary } from "./training/fit.js";

export interface WorkerOptions {
  datasetPath?: string | undefined;
  /** See DEFAULT_WRITE_PATIENCE_MS. */
  writePatienceMs?: number | undefined;
}

/** How long the worker keeps trying to record its outcome while the database is unavailable. */
export const DEFAULT_WRITE_PATIENCE_MS = 60_000;

export async function runWorker(
  sql: Pool,
  taskId: string,
  opts: WorkerOptions,
  log: Logger,
): Promise<number> {
  const task = await getTask(sql, taskId);
  if (!task) {
    log.error({ task_id: taskId }, "no such task");
    return EXIT.usage;
  }
  log = log.child({ task_id: taskId });
  // The lock lives as long as this connection: it is how others know this worker is alive.
  const lockConn = await sql.reserve();
  try {
    if (!(await tryHoldWorkerLock(lockConn, task.seq))) {
      log.warn("another worker holds this task; leaving it to that one");
      return EXIT.ok;
    }
    return await runHoldingLock(sql, taskId, opts, log);
  } catch (err) {
    if (!classifyPgError(err).retryable) throw err;
    // The database refused our writes for longer than our patience: the controller fails the
    // task once it can (outcome_unrecorded), and a task with attempts left is tried again.
    log.error({ err }, "the database refused this run's writes for too long; outcome not recorded");
    return EXIT.unrecorded;
  } finally {
    lockConn.release();
  }
}

async function runHoldingLock(
  sql: Pool,
  taskId: string,
  opts: WorkerOptions,
  log: Logger,
): Promise<number> {
  const patience = { patienceMs: opts.writePatienceMs ?? DEFAULT_WRITE_PATIENCE_MS, log };
  const ref = workerRef();
  let started = await withPatience(
    "record the start",
    () => transition(sql, taskId, "running", { runnerRef: ref }),
    patience,
  );
  const now = started ?? (await getTask(sql, taskId));
  // Our own start, committed by a try whose answer was lost: ours to run.
  if (!started && now?.status === "running" && now.runnerRef === ref) started = now;
  if (!started) {
    if (now?.status === "running") {
      // A previous worker started it and died (we hold its lock now): never run twice.
      await withPatience(
        "record the loss",
        () =>
          failTask(sql, now, { code: "lost", message: "the task's worker died during the run" }),
        patience,
      );
    } else {
      log.info({ status: now?.status }, "task is not startable; nothing to do");
    }
    return EXIT.ok;
  }
  log.info({ params: started.params }, "training started");

  const outcome = await train(sql, started.id, started.params.duration_seconds, opts, log);
  if ("exit" in outcome) return outcome.exit;
  if ("error" in outcome) {
    log.error({ err: outcome.error }, "training failed");
    await withPatience(
      "record the failure",
      () => failTask(sql, started, outcome.failure),
      patience,
    );
    return EXIT.failed;
  }
  const { summary } = outcome;
  if (
    await withPatience("store the model", () => completeWithModel(sql, taskId, summary), patience)
  ) {
    log.info({ r_squared: summary.r_squared, n: summary.n }, "training completed");
  } else {
    // Cancelled meanwhile, or an earlier try committed and only its answer was lost.
    log.info("task no longer running when its model was to be stored; nothing stored now");
  }
  return EXIT.ok;
}

type TrainOutcome =
  { summary: ModelSummary } | { error: unknown; failure: TaskError } | { exit: number };

/** Loads, waits out the simulated duration, fits: everything but recording the outcome. */
async function train(
  sql: Pool,
  taskId: string,
  durationSeconds: number,
  opts: WorkerOptions,
  log: Logger,
): Promise<TrainOutcome> {
  const abort = new AbortController();
  const events = new TaskEvents(sql, log);
  events.onChange((c) => {
    if (c.id === taskId && c.status === "cancelled") abort.abort("cancelled");
  });
  const onSignal = (): void => abort.abort("terminated");
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  try {
    await events.start();
    // Progress is best effort: a lost write must never fail the run.
    const report = (phase: string, fraction: number): Promise<void> =>
      setProgress(sql, taskId, { phase, fraction: Math.round(fraction * 1000) / 1000 }).then(
        () => undefined,
        (err: unknown) => log.warn({ err }, "could not record progress"),
      );
    await report("loading", 0);
    const rows = await loadPenguins(opts.datasetPath ?? DEFAULT_DATA_PATH);
    if (durationSeconds > 0) await simulate(durationSeconds * 1000, abort.signal, report);
    abort.signal.throwIfAborted();
    await report("fitting", 0.9);
    const summary = fitModel(rows);
    await report("storing", 0.95);
    return { summary };
  } catch (err) {
    // A cancel reaches the worker two ways: the NOTIFY, or the runner's SIGTERM, whichever
    // comes first. The log should say "cancelled" either way, so a stop asks the database.
    if (
      abort.signal.aborted &&
      (abort.signal.reason === "cancelled" || (await wasCancelled(sql, taskId)))
    ) {
      log.info("training cancelled");
      return { exit: EXIT.ok };
    }
    if (abort.signal.aborted) {
      // Stopped by the runner (time limit, eviction, node drain): the runner knows why, and
      // whether that earns a retry, so the controller records it (reconcile.ts), not us.
      log.warn("worker stopped before the run ended");
      return { exit: EXIT.terminated };
    }
    // The database, not the training, failed (e.g. the LISTEN for cancels): not a verdict.
    if (classifyPgError(err).retryable) throw err;
    const message = err instanceof Error ? err.message : String(err);
    return { error: err, failure: { code: "training_failed", message } };
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    await events.stop();
  }
}

/** Whether the task is cancelled; false when the database cannot say (the stop stays a stop). */
async function wasCancelled(sql: Pool, taskId: string): Promise<boolean> {
  try {
    return (await getTask(sql, taskId))?.status === "cancelled";
  } catch {
    return false;
  }
}

/**
 * The simulated part of a run (so that it can be watched and cancelled): waits `ms`, reporting
 * the fraction elapsed about twenty times, at most once a second.
 */
async function simulate(
  ms: number,
  signal: AbortSignal,
  report: (phase: string, fraction: number) => Promise<void>,
): Promise<void> {
  const step = Math.max(1000, ms / 20);
  const start = Date.now();
  for (;;) {
    const elapsed = Date.now() - start;
    // Loading and fitting are the first and last tenth; the simulated wait is the rest.
    await report("simulating", 0.05 + 0.85 * Math.min(1, elapsed / ms));
    if (elapsed >= ms) return;
    await sleep(Math.min(step, ms - elapsed), undefined, { signal });
  }
}
