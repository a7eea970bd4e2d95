// A container's log as the kubelet keeps it: lines with the time they were written, capped
// like the kubelet's rotation, readable with the options of GET .../pods/{name}/log.
import { nowNano } from "./objects.js";

interface LogLine {
  time: Date;
  /** Ends with "\n" unless it is the partial last line. */
  text: string;
}

export interface LogReadOptions {
  tailLines?: number;
  limitBytes?: number;
  sinceSeconds?: number;
  sinceTime?: Date;
  timestamps?: boolean;
}

type Listener = (segment: string, time: Date) => void;

/** The kubelet rotates container logs at 10 MiB; older output is gone. */
const CAPACITY_BYTES = 10 * 1024 * 1024;

export class LogBuffer {
  private lines: LogLine[] = [];
  private bytes = 0;
  private listeners = new Set<Listener>();
  private closedWaiters: (() => void)[] = [];
  closed = false;

  append(data: string): void {
    const time = new Date();
    let rest = data;
    while (rest.length > 0) {
      const nl = rest.indexOf("\n");
      const segment = nl === -1 ? rest : rest.slice(0, nl + 1);
      rest = nl === -1 ? "" : rest.slice(nl + 1);
      const last = this.lines[this.lines.length - 1];
      if (last && !last.text.endsWith("\n")) last.text += segment;
      else this.lines.push({ time, text: segment });
      this.bytes += Buffer.byteLength(segment);
      for (const listener of this.listeners) listener(segment, time);
    }
    while (this.bytes > CAPACITY_BYTES && this.lines.length > 1) {
      const dropped = this.lines.shift();
      if (dropped) this.bytes -= Buffer.byteLength(dropped.text);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const resolve of this.closedWaiters.splice(0)) resolve();
  }

  whenClosed(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((r) => this.closedWaiters.push(r));
  }

  text(): string {
    return this.lines.map((l) => l.text).join("");
  }

  /** The last `maxLines` lines, at most `maxBytes` of them (FallbackToLogsOnError's message). */
  tail(maxLines: number, maxBytes: number): string {
    const text = this.lines
      .slice(-maxLines)
      .map((l) => l.text)
      .join("");
    const buf = Buffer.from(text);
    return buf.length <= maxBytes ? text : buf.subarray(buf.length - maxBytes).toString("utf8");
  }

  read(options: LogReadOptions): string {
    const since =
      options.sinceTime ??
      (options.sinceSeconds !== undefined
        ? new Date(Date.now() - options.sinceSeconds * 1000)
        : undefined);
    let lines = since ? this.lines.filter((l) => l.time >= since) : this.lines;
    if (options.tailLines !== undefined) {
      lines = options.tailLines === 0 ? [] : lines.slice(-options.tailLines);
    }
    const text = lines
      .map((l) => (options.timestamps ? `${nowNano(l.time)} ${l.text}` : l.text))
      .join("");
    return limit(text, options.limitBytes);
  }

  /** New output as it arrives; returns the unsubscribe function. */
  follow(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether the text so far ends mid-line (a follower must not stamp a continuation). */
  endsMidLine(): boolean {
    const last = this.lines[this.lines.length - 1];
    return last !== undefined && !last.text.endsWith("\n");
  }
}

export function limit(text: string, limitBytes: number | undefined): string {
  if (limitBytes === undefined) return text;
  const buf = Buffer.from(text);
  return buf.length <= limitBytes ? text : buf.subarray(0, limitBytes).toString("utf8");
}

export function stamp(segment: string, time: Date, atLineStart: boolean): string {
  return atLineStart ? `${nowNano(time)} ${segment}` : segment;
}
