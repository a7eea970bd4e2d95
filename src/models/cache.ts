// The latest model, memoised in memory. Every API process drops its copy when any task
// completes (NOTIFY) and when its listener reconnects (it may have missed one), so a newer
// model is served from the next request on. Concurrent misses share one database read.
import type { Queryable } from "../db/queryable.js";
import type { TaskEvents } from "../tasks/events.js";
import { latestModel, type StoredModel } from "./store.js";

export class LatestModelCache {
  private current: Promise<StoredModel | undefined> | undefined;

  constructor(
    private readonly sql: Queryable,
    events: TaskEvents,
  ) {
    events.onChange((change) => {
      if (change.status === "completed") this.invalidate();
    });
    events.onListen(() => this.invalidate());
  }

  get(): Promise<StoredModel | undefined> {
    if (this.current) return this.current;
    const read = latestModel(this.sql);
    this.current = read;
    read.then(
      // "No model yet" is not cached: the first completion must be seen even if its
      // notification raced with this read.
      (model) => {
        if (!model && this.current === read) this.current = undefined;
      },
      () => {
        if (this.current === read) this.current = undefined;
      },
    );
    return read;
  }

  /** A read in flight when this runs is dropped too: it may predate the new model. */
  invalidate(): void {
    this.current = undefined;
  }
}
