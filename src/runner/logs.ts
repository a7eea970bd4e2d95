// A task's log, as GET /train/{id}/logs reads it: the last bytes of it, or those and then
// whatever the run still writes. Where it lives depends on the runner: a file the local worker
// writes ($TRAINYARD_DATA_DIR/logs/<id>.log, so the API process must share the data dir: true
// in `all` and for processes on one host), or the pod's log in Kubernetes
// (kubernetes/pod-logs.ts).
import { open, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Pool } from "../db/queryable.js";
import type { Task } from "../tasks/task.js";
import { isWorkerAlive } from "./worker-lock.js";

/** The log exists somewhere but cannot be read now (e.g. the Kubernetes API refused): 503. */
export class LogUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LogUnavailableError";
  }
}

export interface FollowOptions {
  /** Resolves when the task has ended (its terminal status was seen). */
  ended: Promise<unknown>;
  /** The client went away, or the process shuts down: stop at once. */
  signal: AbortSignal;
}

/** Writes a chunk to the client; resolves once it may write more (backpressure). */
export type WriteChunk = (chunk: Buffer) => Promise<void>;

export interface LogSource {
  /** The log's last `maxBytes` bytes, from a line start; undefined when there is no log. */
  tail(task: Task, maxBytes: number): Promise<Buffer | undefined>;
  /**
   * Writes the last `maxBytes` bytes, then everything the run appends, and returns once the
   * task has ended and its run has written its last line, or the signal aborts. A log that does
   * not exist yet is waited for. Resolves false when the task ended without any log.
   */
  follow(task: Task, maxBytes: number, write: WriteChunk, opts: FollowOptions): Promise<boolean>;
}

/** The log's last `maxBytes`, started at a line start when the cut falls inside a line. */
export function lastBytes(data: Buffer, maxBytes: number): Buffer {
  if (data.length <= maxBytes) return data;
  const cut = data.subarray(data.length - maxBytes);
  // Only a cut that did not land on a line start loses the partial line; a cut inside one long
  // line keeps the bytes (better a partial line than nothing).
  if (data[data.length - maxBytes - 1] === 0x0a) return cut;
  // The window's own last byte does not count: a newline there ends the cut line itself.
  const nl = cut.subarray(0, cut.length - 1).indexOf(0x0a);
  return nl === -1 ? cut : cut.subarray(nl + 1);
}

/** How often a followed file is checked for growth: short enough to feel live, cheap (a stat). */
const FOLLOW_POLL_MS = 200;
/** After the task ended, how long its worker may take to exit (its last lines come then). */
const EXIT_WAIT_MS = 10_000;
const READ_CHUNK = 64 * 1024;

export function localLogPath(logDir: string, taskId: string): string {
  return join(logDir, `${taskId}.log`);
}

export class LocalLogSource implements LogSource {
  constructor(
    private readonly sql: Pool,
    private readonly logDir: string,
    private readonly pollMs = FOLLOW_POLL_MS,
  ) {}

  async tail(task: Task, maxBytes: number): Promise<Buffer | undefined> {
    const path = localLogPath(this.logDir, task.id);
    const size = await sizeOf(path);
    return size === undefined ? undefined : tailOf(path, size, maxBytes);
  }

  async follow(
    task: Task,
    maxBytes: number,
    write: WriteChunk,
    { ended, signal }: FollowOptions,
  ): Promise<boolean> {
    const path = localLogPath(this.logDir, task.id);
    let done = false;
    void ended.then(() => (done = true));
    let position: number | undefined;
    let exitDeadline: number | undefined;

    while (!signal.aborted) {
      const size = await sizeOf(path);
      if (size !== undefined) {
        if (position === undefined) {
          const head = await tailOf(path, size, maxBytes);
          position = size;
          if (head && head.length > 0) await write(head);
        } else if (size < position) {
          position = 0; // truncated or replaced: start over
        }
        while (size > position && !signal.aborted) {
          const end = Math.min(size, position + READ_CHUNK);
          const chunk = await readRange(path, position, end);
          if (chunk.length === 0) break;
          position += chunk.length;
          await write(chunk);
        }
      }
      if (done) {
        // The worker commits its status before it writes its last lines and exits: wait for
        // its exit (its lock), then read once more. Bounded: a stuck worker is not our reader's
        // problem, and cancelled tasks' workers are killed after the grace period anyway.
        exitDeadline ??= Date.now() + EXIT_WAIT_MS;
        if (Date.now() >= exitDeadline || !(await isWorkerAlive(this.sql, task.seq))) {
          if (size !== undefined && position !== undefined) await this.drain(path, position, write);
          return position !== undefined || (await sizeOf(path)) !== undefined;
        }
      }
      // Woken early when the task ends, so the last lines go out without a poll's delay.
      await Promise.race([sleep(this.pollMs, undefined, { signal }), ended]).catch(() => undefined);
    }
    return true;
  }

  private async drain(path: string, from: number, write: WriteChunk): Promise<void> {
    const size = (await sizeOf(path)) ?? from;
    let position = from;
    while (size > position) {
      const chunk = await readRange(path, position, Math.min(size, position + READ_CHUNK));
      if (chunk.length === 0) return;
      position += chunk.length;
      await write(chunk);
    }
  }
}

/** Removes the log files of deleted tasks (retention); a missing file is fine. */
export async function removeLocalLogs(logDir: string, taskIds: string[]): Promise<void> {
  await Promise.all(
    taskIds.map((id) =>
      unlink(localLogPath(logDir, id)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      }),
    ),
  );
}

/** The last `maxBytes` of the file's first `size` bytes. */
async function tailOf(path: string, size: number, maxBytes: number): Promise<Buffer> {
  // One byte more than the window: it tells whether the window starts a line.
  return lastBytes(await readRange(path, Math.max(0, size - maxBytes - 1), size), maxBytes);
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

async function readRange(path: string, from: number, to: number): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(to - from);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
