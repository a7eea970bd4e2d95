// Task helpers of the bench process: waiting for tasks to end (LISTEN, as the service's own
// waiters do), reading their timestamps with sub-millisecond precision, and submitting.
import type { Sql } from "../../src/db/connect.js";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

/** Records when each task became terminal, as announced by the tasks trigger's NOTIFY. */
export class TerminalWatch {
  readonly endedAt = new Map<string, { status: string; at: number }>();
  private waiters: (() => void)[] = [];
  private unlisten: (() => Promise<void>) | undefined;

  constructor(private readonly sql: Sql) {}

  async start(): Promise<void> {
    const meta = await this.sql.listen("trainyard_task", (payload) => {
      const change = JSON.parse(payload) as { id: string; status: string };
      if (!TERMINAL.has(change.status)) return;
      this.endedAt.set(change.id, { status: change.status, at: nowMs() });
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.unlisten = () => meta.unlisten();
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
  }

  /** Resolves with the time the last of `ids` ended. */
  async waitAll(ids: readonly string[], timeoutMs = 300_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const missing = ids.filter((id) => !this.endedAt.has(id));
      if (missing.length === 0) return Math.max(...ids.map((id) => this.endedAt.get(id)?.at ?? 0));
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`${missing.length} of ${ids.length} tasks did not end in time`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** Wall clock with sub-millisecond precision. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface TaskTimes {
  id: string;
  status: string;
  created: number;
  admitted: number | null;
  started: number | null;
  finished: number | null;
  released: number | null;
}

/** The tasks' timestamps in ms since the epoch, microseconds kept (a Date would drop them). */
export async function taskTimes(sql: Sql, ids: readonly string[]): Promise<TaskTimes[]> {
  return sql<TaskTimes[]>`
    SELECT id, status,
           extract(epoch FROM created_at)::float8 * 1000 AS created,
           extract(epoch FROM admitted_at)::float8 * 1000 AS admitted,
           extract(epoch FROM started_at)::float8 * 1000 AS started,
           extract(epoch FROM finished_at)::float8 * 1000 AS finished,
           extract(epoch FROM released_at)::float8 * 1000 AS released
      FROM tasks WHERE id = ANY(${sql.array(ids as string[])}::uuid[])`;
}

/** POST /train `count` times, `parallel` at once; the ids in submission order. */
export async function submitMany(
  base: string,
  count: number,
  body: Record<string, unknown>,
  parallel = 16,
): Promise<string[]> {
  const ids: string[] = new Array<string>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        const i = next++;
        const res = await fetch(`${base}/train`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        const answer = (await res.json()) as { id?: string };
        if (res.status !== 202 || !answer.id) {
          throw new Error(`POST /train answered ${res.status}: ${JSON.stringify(answer)}`);
        }
        ids[i] = answer.id;
      }
    }),
  );
  return ids;
}

/**
 * Slot freed -> next run started, for a FIFO queue behind a cap: the (j+cap)-th run to start
 * took the slot the j-th run to finish gave back.
 */
export function slotGaps(finished: number[], started: number[], cap: number): number[] {
  const f = [...finished].sort((a, b) => a - b);
  const s = [...started].sort((a, b) => a - b);
  const gaps: number[] = [];
  for (let j = cap; j < s.length; j++) {
    const freed = f[j - cap];
    const start = s[j];
    if (freed !== undefined && start !== undefined) gaps.push(start - freed);
  }
  return gaps;
}
