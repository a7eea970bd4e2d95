// Leader election on a Postgres session advisory lock. Only the leader acts. Correctness
// never depends on it (the cap and the guarded transitions hold with two actors at once); it
// only saves duplicate work, so a simple scheme is enough: followers try the lock every few
// seconds, and the leader checks its session on the same beat. Postgres frees the lock when a
// dead leader's session ends, so a successor takes over within one beat of that.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Pool } from "../db/queryable.js";

export const LEADER_LOCK = 7_461_002;

export interface LeaderCallbacks {
  onElected(): void;
  onDeposed(): void;
}

export class LeaderElection {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly sql: Pool,
    private readonly callbacks: LeaderCallbacks,
    private readonly log: Logger,
    private readonly beatMs = 2000,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        await this.holdWhileLeading(signal);
      } catch (err) {
        if (!signal.aborted) this.log.warn({ err }, "leader election: database unreachable");
      }
      await sleep(this.beatMs, undefined, { signal }).catch(() => undefined);
    }
  }

  private async holdWhileLeading(signal: AbortSignal): Promise<void> {
    const conn = await this.sql.reserve();
    let leading = false;
    try {
      const rows = await conn<{ ok: boolean }[]>`SELECT pg_try_advisory_lock(${LEADER_LOCK}) AS ok`;
      if (rows[0]?.ok !== true) return;
      leading = true;
      this.log.info("leader election: this controller leads");
      this.callbacks.onElected();
      while (!signal.aborted) {
        await sleep(this.beatMs, undefined, { signal }).catch(() => undefined);
        // Throws when the session is gone, and with it the lock.
        if (!signal.aborted) await conn`SELECT 1`;
      }
      await conn`SELECT pg_advisory_unlock(${LEADER_LOCK})`;
    } finally {
      if (leading) {
        this.log.info("leader election: no longer leading");
        this.callbacks.onDeposed();
      }
      conn.release();
    }
  }
}
