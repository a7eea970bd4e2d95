// The watch protocol: one JSON event per line over a chunked 200 response.
//   resourceVersion unset or "0"  synthetic ADDED for every current object, then changes;
//   resourceVersion N             every change after N (replayed from history), then live;
//   N older than the history      one ERROR event (Status 410 Expired), then the end;
//   allowWatchBookmarks           periodic BOOKMARK events carrying only the revision;
//   sendInitialEvents             the synthetic ADDED, then a BOOKMARK marked initial-events-end;
//   timeoutSeconds                the server ends the stream (cleanly) after that long.
// Label and field selectors filter as the watch cache does: an object that stops matching
// is sent as DELETED, one that starts matching as ADDED.
import type { ServerResponse } from "node:http";
import { ApiError, badRequest, type Status } from "./status.js";
import type { KubeObject } from "./objects.js";
import type { ResourceType } from "./resources.js";
import type { FieldSelector, LabelSelector } from "./selectors.js";
import type { ObjectStore, StoreEvent } from "./store.js";

export interface WatchRequest {
  type: ResourceType;
  namespace: string | undefined;
  labels: LabelSelector;
  fields: FieldSelector;
  resourceVersion: string | null;
  allowBookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds: number | undefined;
}

interface OpenWatch {
  end(abrupt: boolean): void;
}

type Line = { type: string; object: KubeObject | Status };

export class WatchHub {
  private readonly open = new Set<OpenWatch>();

  constructor(
    private readonly store: ObjectStore,
    private readonly bookmarkIntervalMs: () => number,
  ) {}

  get count(): number {
    return this.open.size;
  }

  /** Ends every open watch: cleanly (like a server-side timeout) or by resetting the socket. */
  dropAll(abrupt: boolean): number {
    const n = this.open.size;
    for (const w of [...this.open]) w.end(abrupt);
    return n;
  }

  serve(req: WatchRequest, res: ServerResponse): void {
    const { type } = req;
    const rvText = req.resourceVersion;
    const fromStart = rvText === null || rvText === "" || rvText === "0";
    const since = fromStart ? undefined : Number(rvText);
    if (since !== undefined && (!Number.isInteger(since) || since < 0)) {
      throw badRequest(
        `invalid resource version: strconv.ParseUint: parsing "${rvText}": invalid syntax`,
      );
    }
    const matches = (obj: KubeObject | undefined): boolean =>
      !!obj &&
      (req.namespace === undefined || obj.metadata.namespace === req.namespace) &&
      req.labels.matches(obj.metadata.labels) &&
      req.fields.matches(obj);
    const translate = (e: StoreEvent): Line | undefined => {
      if (e.resource !== type.resource) return undefined;
      const now = e.type !== "DELETED" && matches(e.object);
      const before = e.type !== "ADDED" && matches(e.previous);
      if (now && before) return { type: "MODIFIED", object: e.object };
      if (now) return { type: "ADDED", object: e.object };
      if (before) return { type: "DELETED", object: e.object };
      return undefined;
    };

    res.writeHead(200, {
      "content-type": "application/json",
      "cache-control": "no-cache, private",
      "transfer-encoding": "chunked",
    });
    res.flushHeaders();
    const write = (line: Line): void => {
      res.write(`${JSON.stringify(line)}\n`);
    };

    let backlog: Line[];
    try {
      backlog = fromStart
        ? this.store
            .list(type.resource, req.namespace)
            .filter(matches)
            .map((object) => ({ type: "ADDED", object }))
        : this.store.eventsAfter(since ?? 0).flatMap((e) => translate(e) ?? []);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      // The watch cache answers a compacted revision inside the stream, not with a 410 status.
      write({ type: "ERROR", object: err.status });
      res.end();
      return;
    }
    const lastSent = Math.max(since ?? 0, this.store.currentRevision);
    const unsubscribe = this.store.subscribe((e) => {
      if (e.revision <= lastSent) return;
      const line = translate(e);
      if (line) write(line);
    });
    for (const line of backlog) write(line);
    const bookmark = (annotations?: Record<string, string>): Line => ({
      type: "BOOKMARK",
      object: {
        kind: type.kind,
        apiVersion: type.apiVersion,
        metadata: {
          resourceVersion: String(this.store.currentRevision),
          ...(annotations ? { annotations } : {}),
        },
      },
    });
    if (req.sendInitialEvents && req.allowBookmarks)
      write(bookmark({ "k8s.io/initial-events-end": "true" }));

    const timers: NodeJS.Timeout[] = [];
    if (req.allowBookmarks)
      timers.push(setInterval(() => write(bookmark()), this.bookmarkIntervalMs()));
    if (req.timeoutSeconds !== undefined)
      timers.push(setTimeout(() => watch.end(false), req.timeoutSeconds * 1000));
    const watch: OpenWatch = {
      end: (abrupt) => {
        cleanup();
        if (abrupt) res.socket?.destroy();
        else res.end();
      },
    };
    const cleanup = (): void => {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      this.open.delete(watch);
    };
    this.open.add(watch);
    res.on("close", cleanup);
  }
}
