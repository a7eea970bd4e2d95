// Deferred, de-duplicated work for the simulated controllers. Store listeners run inside the
// write that emitted the event; a controller that wrote from there would interleave its own
// events with the ones still being delivered, and watchers would see them out of order. So
// controllers only enqueue keys and act on the next turn of the event loop.

export class WorkQueue {
  private pending = new Set<string>();
  private scheduled = false;
  private stopped = false;

  constructor(
    private readonly handler: (key: string) => void,
    private readonly onError: (err: unknown, key: string) => void,
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    this.pending.add(key);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  stop(): void {
    this.stopped = true;
    this.pending.clear();
  }

  private drain(): void {
    this.scheduled = false;
    const keys = [...this.pending];
    this.pending.clear();
    for (const key of keys) {
      if (this.stopped) return;
      try {
        this.handler(key);
      } catch (err) {
        this.onError(err, key);
      }
    }
  }
}

/** Timers the stand-in owns: unref'd (a forgotten stop() must not hold the test process) and
 * all cleared by stop(). */
export class Timers {
  private readonly live = new Set<NodeJS.Timeout>();

  after(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(
      () => {
        this.live.delete(timer);
        fn();
      },
      Math.max(0, ms),
    );
    timer.unref();
    this.live.add(timer);
    return timer;
  }

  cancel(timer: NodeJS.Timeout | undefined): void {
    if (!timer) return;
    clearTimeout(timer);
    this.live.delete(timer);
  }

  clearAll(): void {
    for (const timer of this.live) clearTimeout(timer);
    this.live.clear();
  }
}
