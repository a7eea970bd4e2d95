// Runs each task as a child process: `node dist/src/main.js worker <id>`, the same command a
// Job container runs. Children are detached into their own process group, so a controller
// that restarts or dies does not take running trainings with it; the new controller finds
// them again through their worker locks (worker-lock.ts) and waits for their end there.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, closeSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { Pool } from "../db/queryable.js";
import type { Task } from "../tasks/task.js";
import { EXIT } from "./exit-codes.js";
import type { Execution, Runner } from "./runner.js";
import { isWorkerAlive, waitForWorkerExit } from "./worker-lock.js";

/** The compiled entrypoint beside this file's folder: dist/src/main.js. */
export const MAIN_PATH = fileURLToPath(new URL("../main.js", import.meta.url));

export interface LocalRunnerOptions {
  logDir: string;
  cancelGraceMs: number;
  /** Extra environment for workers (the database URL of this process). */
  workerEnv: Record<string, string>;
  /** A run's time limit when its task names none. */
  defaultTimeoutMs: number;
}

interface Child {
  process: ChildProcess;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  deadline?: NodeJS.Timeout;
}

export class LocalRunner implements Runner {
  readonly kind = "local";
  private readonly children = new Map<string, Child>();
  private readonly watched = new Set<string>();
  /** Tasks whose run was stopped at its time limit. */
  private readonly expired = new Set<string>();
  private listener: (taskId: string) => void = () => undefined;
  private closed = false;

  constructor(
    private readonly sql: Pool,
    private readonly opts: LocalRunnerOptions,
    private readonly log: Logger,
  ) {
    mkdirSync(opts.logDir, { recursive: true });
  }

  launch(task: Task): Promise<void> {
    const known = this.children.get(task.id);
    if (known && !known.exit) return Promise.resolve();
    // The worker's output goes to a file it writes itself, so it outlives this process.
    const out = openSync(join(this.opts.logDir, `${task.id}.log`), "a");
    try {
      const child = spawn(process.execPath, [MAIN_PATH, "worker", task.id], {
        detached: true,
        stdio: ["ignore", out, out],
        env: { ...this.opts.workerEnv },
      });
      const entry: Child = { process: child };
      this.children.set(task.id, entry);
      child.once("error", (err) => {
        this.log.error({ err, task_id: task.id }, "worker could not be started");
        entry.exit ??= { code: null, signal: null };
        this.listener(task.id);
      });
      // The run's time limit, as activeDeadlineSeconds is for a Job.
      entry.deadline = setTimeout(() => this.expire(task), this.timeoutMs(task));
      entry.deadline.unref();
      child.once("exit", (code, signal) => {
        clearTimeout(entry.deadline);
        entry.exit = { code, signal };
        this.log.info({ task_id: task.id, code, signal }, "worker exited");
        this.listener(task.id);
      });
      this.log.info({ task_id: task.id, pid: child.pid }, "worker started");
    } finally {
      closeSync(out);
    }
    return Promise.resolve();
  }

  async stop(task: Task): Promise<void> {
    const own = this.children.get(task.id);
    const pid = own && !own.exit ? own.process.pid : this.orphanPid(task);
    if (pid === undefined) return;
    signalGroup(pid, "SIGTERM");
    const timer = setTimeout(() => {
      if (own ? !own.exit : isOurWorker(pid, task.id)) signalGroup(pid, "SIGKILL");
    }, this.opts.cancelGraceMs);
    timer.unref();
    await Promise.resolve();
  }

  async discard(taskId: string): Promise<void> {
    // Only our own children: without the task there is no recorded pid to trust.
    const own = this.children.get(taskId);
    if (!own || own.exit || own.process.pid === undefined) return;
    const pid = own.process.pid;
    signalGroup(pid, "SIGTERM");
    setTimeout(() => {
      if (!own.exit) signalGroup(pid, "SIGKILL");
    }, this.opts.cancelGraceMs).unref();
    await Promise.resolve();
  }

  async inspect(task: Task): Promise<Execution | undefined> {
    const own = this.children.get(task.id);
    if (own && !own.exit) return { state: "active" };
    // Not (or no longer) our child: the lock says whether any worker of this task is alive.
    if (await isWorkerAlive(this.sql, task.seq)) {
      this.watch(task);
      // A worker adopted from an earlier controller: its time limit runs from its start.
      const started = task.startedAt?.getTime();
      if (!own && started !== undefined && Date.now() - started > this.timeoutMs(task)) {
        this.expire(task);
      }
      return { state: "active" };
    }
    if (this.expired.has(task.id) && (!own?.exit || own.exit.code !== 0)) {
      return {
        state: "exited",
        succeeded: false,
        reason: "DeadlineExceeded",
        code: "DeadlineExceeded",
        message: `the run exceeded its time limit of ${this.timeoutMs(task) / 1000} s`,
      };
    }
    if (!own?.exit) return undefined;
    const { code, signal } = own.exit;
    if (code === EXIT.unrecorded) {
      return {
        state: "exited",
        succeeded: false,
        reason: "Error",
        code: "outcome_unrecorded",
        message: "the worker could not record the run's outcome: the database refused its writes",
      };
    }
    return {
      state: "exited",
      succeeded: code === 0,
      reason: signal ? "Killed" : code === 0 ? "Exited" : "Error",
      message: signal ? `worker killed by ${signal}` : `worker exited with code ${String(code)}`,
    };
  }

  private timeoutMs(task: Task): number {
    const seconds = task.params.timeout_seconds;
    return seconds === undefined ? this.opts.defaultTimeoutMs : seconds * 1000;
  }

  /** The time limit passed: stop the run (SIGTERM, then SIGKILL), remembered as the reason. */
  private expire(task: Task): void {
    if (this.closed) return;
    this.expired.add(task.id);
    this.log.warn({ task_id: task.id }, "run exceeded its time limit; stopping it");
    void this.stop(task);
  }

  executions(): Promise<string[]> {
    return Promise.resolve([...this.children.keys()]);
  }

  forget(taskId: string): void {
    const child = this.children.get(taskId);
    if (child?.exit) this.children.delete(taskId);
    if (!child || child.exit) this.expired.delete(taskId);
  }

  onChange(listener: (taskId: string) => void): void {
    this.listener = listener;
  }

  close(): Promise<void> {
    // Running workers are left to finish: they record their own outcome.
    this.closed = true;
    for (const child of this.children.values()) {
      clearTimeout(child.deadline);
      child.process.unref();
    }
    return Promise.resolve();
  }

  /** Waits, in the background, for a worker we did not start to die, then reconciles it. */
  private watch(task: Task): void {
    if (this.watched.has(task.id)) return;
    this.watched.add(task.id);
    waitForWorkerExit(this.sql, task.seq)
      .catch((err: unknown) => this.log.warn({ err, task_id: task.id }, "lost sight of worker"))
      .finally(() => {
        this.watched.delete(task.id);
        if (!this.closed) this.listener(task.id);
      });
  }

  /** A worker started by an earlier controller on this host, from the ref it recorded. */
  private orphanPid(task: Task): number | undefined {
    const match = /^pid:(\d+)@(.+)$/.exec(task.runnerRef ?? "");
    if (!match || match[2] !== hostname()) return undefined;
    const pid = Number(match[1]);
    return isOurWorker(pid, task.id) ? pid : undefined;
  }
}

export function workerRef(): string {
  return `pid:${process.pid}@${hostname()}`;
}

/** Guards against a recycled pid: the process must be the worker of this very task. */
function isOurWorker(pid: number, taskId: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(taskId);
  } catch {
    return false;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // Negative pid: the whole group, the worker and anything it started.
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
