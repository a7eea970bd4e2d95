// The controller: while it leads, it admits queued tasks into free slots and reconciles
// tasks with their runs. Events drive it (task NOTIFYs, runner exits); a slow periodic
// resync is only the safety net. All work goes through one loop that never overlaps itself
// and never throws: a failure is logged and the work is tried again with backoff.
import type { Logger } from "pino";
import type { Pool } from "../db/queryable.js";
import type { Runner } from "../runner/runner.js";
import type { TaskEvents } from "../tasks/events.js";
import { getTask, nextRetryInMs } from "../tasks/store.js";
import { activeTasks, admit } from "./admission.js";
import { LeaderElection } from "./leader.js";
import { reconcileTask } from "./reconcile.js";

export interface ControllerOptions {
  maxRunning: number;
  resyncMs: number;
  leaderBeatMs?: number;
}

export class Controller {
  private leading = false;
  private running: Promise<void> | undefined;
  private wanted = { resync: false, admit: false, ids: new Set<string>() };
  private readonly leader: LeaderElection;
  private resyncTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly sql: Pool,
    private readonly events: TaskEvents,
    private readonly runner: Runner,
    private readonly opts: ControllerOptions,
    private readonly log: Logger,
  ) {
    this.leader = new LeaderElection(
      sql,
      {
        onElected: () => {
          this.leading = true;
          this.kick({ resync: true, admit: true });
        },
        onDeposed: () => {
          this.leading = false;
        },
      },
      log,
      opts.leaderBeatMs,
    );
  }

  start(): void {
    this.events.onChange((change) => {
      if (change.status === "queued") this.kick({ admit: true });
      else if (change.status !== "running") this.kick({ admit: true, id: change.id });
    });
    // Notifications may have been missed while the listener was away.
    this.events.onListen(() => this.kick({ resync: true, admit: true }));
    this.runner.onChange((id) => this.kick({ admit: true, id }));
    this.resyncTimer = setInterval(
      () => this.kick({ resync: true, admit: true }),
      this.opts.resyncMs,
    );
    this.leader.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.backoffTimer);
    await this.leader.stop();
    await this.running;
    await this.runner.close();
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Asks for work; coalesces with work already asked for. Never throws, never blocks. */
  kick(what: { resync?: boolean; admit?: boolean; id?: string }): void {
    if (what.resync) this.wanted.resync = true;
    if (what.admit) this.wanted.admit = true;
    if (what.id) this.wanted.ids.add(what.id);
    this.running ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      await this.loop();
    } finally {
      this.running = undefined;
    }
    // Work asked for between the loop's last check and here must not wait for the next kick.
    if (this.hasWork() && this.leading && !this.stopped && !this.retryTimer) {
      this.kick({});
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped && this.leading && !this.retryTimer && this.hasWork()) {
      const { resync, admit: doAdmit, ids } = this.wanted;
      this.wanted = { resync: false, admit: false, ids: new Set() };
      try {
        if (resync) await this.resync();
        for (const id of ids) await this.reconcileId(id);
        if (doAdmit) await this.admitAndLaunch();
        this.failures = 0;
      } catch (err) {
        // Put the work back and try again later; the database may be away.
        this.wanted.resync ||= resync;
        this.wanted.admit ||= doAdmit;
        for (const id of ids) this.wanted.ids.add(id);
        this.failures++;
        const delay = Math.min(250 * 2 ** this.failures, 10_000);
        this.log.warn({ err, retry_in_ms: delay }, "controller: work failed; will retry");
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick({});
        }, delay);
        return;
      }
    }
  }

  private hasWork(): boolean {
    return this.wanted.resync || this.wanted.admit || this.wanted.ids.size > 0;
  }

  /** Every task that should have a run, and every run the runner knows of. */
  private async resync(): Promise<void> {
    const tasks = await activeTasks(this.sql);
    const seen = new Set(tasks.map((t) => t.id));
    for (const task of tasks) await reconcileTask(this.sql, this.runner, task, this.log);
    for (const id of await this.runner.executions()) {
      if (!seen.has(id)) await this.reconcileId(id);
    }
  }

  private async reconcileId(id: string): Promise<void> {
    const task = await getTask(this.sql, id);
    if (task) {
      await reconcileTask(this.sql, this.runner, task, this.log);
      return;
    }
    // A run whose task does not exist (deleted, or another database's): it must not run on.
    this.log.warn({ task_id: id }, "removing a run that has no task");
    await this.runner.discard(id);
    this.runner.forget(id);
  }

  private async admitAndLaunch(): Promise<void> {
    const admitted = await admit(this.sql, this.opts.maxRunning);
    for (const task of admitted) {
      this.log.info({ task_id: task.id, attempt: task.attempt }, "task admitted");
      await reconcileTask(this.sql, this.runner, task, this.log);
    }
    await this.wakeForRetries();
  }

  /** No event marks the end of a retry's backoff: a timer asks for admission then. */
  private async wakeForRetries(): Promise<void> {
    const ms = await nextRetryInMs(this.sql);
    clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    if (ms === undefined) return;
    // Never later than the resync, which would admit it anyway; never a busy loop.
    const delay = Math.min(Math.max(ms, 50), this.opts.resyncMs);
    this.backoffTimer = setTimeout(() => this.kick({ admit: true }), delay);
    this.backoffTimer.unref();
  }
}
