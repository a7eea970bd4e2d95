// StandInApiServer: a faithful-enough Kubernetes API server for a Job client, on plain HTTP
// at 127.0.0.1, with a simulated Job controller, garbage collector and one kubelet that runs
// containers as local processes. See docs/testing-kubernetes.md for what it is and is not.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiError, internalError, pathNotFound, unauthorized } from "./status.js";
import type { ImageConfig } from "./container-env.js";
import { Deleter } from "./deletion.js";
import { discovery } from "./discovery.js";
import { Faults, type FailOptions, type RequestFilter, type RequestRecord } from "./faults.js";
import { handleResource, selectorsOf, type Reply } from "./handlers.js";
import { JobController } from "./job-controller.js";
import { Kubelet } from "./kubelet.js";
import type { KubeObject } from "./objects.js";
import { serveLog } from "./pod-logs.js";
import { Registry } from "./registry.js";
import { parseRequest, type RequestInfo } from "./request-info.js";
import { ObjectStore } from "./store.js";
import { WatchHub } from "./watch.js";
import { writeKubeconfig } from "./kubeconfig.js";

export interface StandInOptions {
  /** Image name -> local directory (and optional ENTRYPOINT/CMD/ENV). Others fail to pull. */
  images?: Record<string, ImageConfig>;
  /** Namespaces that exist (default ["default"]); writeKubeconfig adds its own. */
  namespaces?: string[];
  /** Bearer token every request must carry (default "stand-in-token"); null: no check. */
  token?: string | null;
  /** The user named in 403 messages. */
  userName?: string;
  /** Changes kept for watches before the oldest are compacted away (default 1000). */
  historyLimit?: number;
  /** Period of BOOKMARK events on watches that allow them (default 1000 ms; real ~60 s). */
  bookmarkIntervalMs?: number;
  /** Caps graceful stops of containers (default: none, the pod's own period, 30 s by default). */
  maxGracePeriodSeconds?: number;
  /** First delay before a Job's replacement pod after a failure (default 500 ms; real 10 s). */
  podBackoffMs?: number;
  /** First restart delay of an OnFailure container (default 500 ms; real 10 s). */
  restartBackoffMs?: number;
  /** Retry period of a pod blocked on an image or a missing Secret (default 500 ms). */
  retryMs?: number;
  /** The first revision (default 1). */
  startRevision?: number;
  /** Port to listen on (default 0: any free one; kept across restart()). */
  port?: number;
}

export interface RestartOptions {
  /** Forget the watch history: a watch from any earlier revision then gets 410 Expired. */
  compactHistory?: boolean;
  /** How long the server stays unreachable (default 0). */
  downtimeMs?: number;
}

export class StandInApiServer {
  readonly faults = new Faults();
  /** Errors inside the simulated controllers; a test may assert there were none. */
  readonly internalErrors: unknown[] = [];
  private readonly store: ObjectStore;
  private readonly registry: Registry;
  private readonly kubelet: Kubelet;
  private readonly deleter: Deleter;
  private readonly jobs: JobController;
  private readonly watches: WatchHub;
  private readonly images: Record<string, ImageConfig>;
  private server: Server | undefined;
  /** Aborted when the server closes: requests still sleeping in an injected delay give up. */
  private closing = new AbortController();
  private port: number;
  private started = false;
  private readonly onExit = (): void => {
    // Last resort if a test forgets stop(): no pod process may outlive the test process.
    void this.kubelet.stop();
  };

  constructor(private readonly options: StandInOptions = {}) {
    const onError = (err: unknown): void => {
      this.internalErrors.push(err);
    };
    this.port = options.port ?? 0;
    this.images = { ...options.images };
    this.store = new ObjectStore(options.historyLimit ?? 1000, options.startRevision ?? 1);
    this.registry = new Registry(this.store, new Set(options.namespaces ?? ["default"]));
    this.kubelet = new Kubelet(this.store, {
      images: this.images,
      nodeName: "stand-in-node",
      maxGracePeriodSeconds: options.maxGracePeriodSeconds,
      restartBackoffMs: options.restartBackoffMs ?? 500,
      retryMs: options.retryMs ?? 500,
      onError,
    });
    this.deleter = new Deleter(this.store, this.kubelet, onError);
    this.jobs = new JobController(this.registry, this.deleter, {
      podBackoffMs: options.podBackoffMs ?? 500,
      onError,
    });
    this.watches = new WatchHub(this.store, () => options.bookmarkIntervalMs ?? 1000);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The current revision: the resourceVersion the next list would carry. */
  get revision(): number {
    return this.store.currentRevision;
  }

  get openWatches(): number {
    return this.watches.count;
  }

  async start(): Promise<void> {
    if (!this.started) {
      this.kubelet.start();
      this.deleter.start();
      this.jobs.start();
      process.once("exit", this.onExit);
      this.started = true;
    }
    await this.listen();
  }

  /** Kills every pod process (whole process groups), closes every connection. */
  async stop(): Promise<void> {
    process.removeListener("exit", this.onExit);
    this.jobs.stop();
    this.deleter.stop();
    await this.close();
    await this.kubelet.stop();
  }

  /**
   * Stops listening and comes back on the same port, with every object and the revision
   * kept (a persisted etcd); processes keep running meanwhile, as pods do on their nodes.
   */
  async restart(opts: RestartOptions = {}): Promise<void> {
    await this.close();
    if (opts.downtimeMs) await sleep(opts.downtimeMs);
    // Compacted as it comes back: changes made while it was down are gone from history too.
    if (opts.compactHistory) this.store.compact();
    await this.listen();
  }

  /** Forgets the watch history now (etcd compaction). */
  compact(): void {
    this.store.compact();
  }

  writeKubeconfig(path: string, namespace = "default"): void {
    this.registry.namespaces.add(namespace);
    writeKubeconfig(path, { server: this.url, namespace, token: this.token ?? "stand-in-token" });
  }

  addNamespace(namespace: string): void {
    this.registry.namespaces.add(namespace);
  }

  addImage(name: string, config: ImageConfig): void {
    this.images[name] = config;
  }

  /** An object as stored now (no HTTP, no faults): for assertions. */
  get(
    resource: "jobs" | "pods" | "secrets",
    namespace: string,
    name: string,
  ): KubeObject | undefined {
    return this.store.get(resource, namespace, name);
  }

  list(resource: "jobs" | "pods" | "secrets", namespace?: string): KubeObject[] {
    return this.store.list(resource, namespace);
  }

  /** The local processes of a pod's containers (pid of the latest run). */
  podProcesses(
    namespace: string,
    pod: string,
  ): { container: string; pid: number | undefined; running: boolean }[] {
    return this.kubelet.processes(namespace, pod);
  }

  /** Signals a running container's process group (a crash, an OOM kill with SIGKILL). */
  signalContainer(
    namespace: string,
    pod: string,
    signal: NodeJS.Signals = "SIGKILL",
    container?: string,
  ): boolean {
    return this.kubelet.signal(namespace, pod, container, signal);
  }

  // Fault injection --------------------------------------------------------------------------

  /** Ends every open watch now; `abrupt` resets the connections instead of ending the streams. */
  dropWatches(opts: { abrupt?: boolean } = {}): number {
    return this.watches.dropAll(opts.abrupt ?? false);
  }

  /** The next `count` matching requests fail (500 by default; see FailOptions). */
  failNext(count: number, options: FailOptions = {}): void {
    this.faults.failNext(count, options);
  }

  /** Delays matching responses by `ms` until the returned function is called. */
  delayResponses(ms: number, filter: RequestFilter = {}): () => void {
    return this.faults.delay(ms, filter);
  }

  /** Answers matching requests 403 Forbidden (as RBAC would) until the returned function is called. */
  forbid(filter: RequestFilter): () => void {
    return this.faults.forbid(filter);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Requests served so far, optionally filtered (method, path, verb, resource). */
  requests(filter: RequestFilter = {}): RequestRecord[] {
    return this.faults.log(filter);
  }

  // HTTP -----------------------------------------------------------------------------------

  private get token(): string | null {
    return this.options.token === undefined ? "stand-in-token" : this.options.token;
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => void this.onRequest(req, res));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    this.closing = new AbortController();
  }

  private async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.closing.abort();
    this.watches.dropAll(false);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const info = parseRequest(req.method ?? "GET", url);
    const record: RequestRecord = {
      at: Date.now(),
      method: info.method,
      path: info.path,
      query: url.search,
      verb: info.verb,
      resource: info.resource,
      ...(info.namespace !== undefined ? { namespace: info.namespace } : {}),
      ...(info.name !== undefined ? { name: info.name } : {}),
      status: 0,
    };
    this.faults.requests.push(record);
    res.on("close", () => {
      record.status = res.headersSent && !record.dropped ? res.statusCode : 0;
    });
    res.setHeader("audit-id", crypto.randomUUID());
    try {
      const delay = this.faults.delayFor(info);
      if (delay > 0) {
        const closing = this.closing.signal;
        await sleep(delay, undefined, { signal: closing }).catch(() => undefined);
        if (closing.aborted || res.destroyed) return;
      }
      if (this.token !== null && req.headers.authorization !== `Bearer ${this.token}`) {
        record.fault = "unauthorized";
        throw unauthorized();
      }
      const failure = this.faults.takeFailure(info);
      if (failure && !failure.afterCommit) {
        record.fault = "injected";
        if (failure.dropConnection) record.dropped = true;
        this.sendFailure(res, failure.error, failure.dropConnection, failure.plainText);
        return;
      }
      if (info.type && this.faults.isForbidden(info)) {
        record.fault = "forbidden";
        throw this.faults.forbiddenError(
          info,
          info.type,
          this.options.userName ?? "system:serviceaccount:default:trainyard",
        );
      }
      const reply = await this.dispatch(info, req, res);
      if (failure) {
        record.fault = "injected";
        // The work is done; the client is told it failed (or loses the connection).
        if (failure.dropConnection) record.dropped = true;
        this.sendFailure(res, failure.error, failure.dropConnection, failure.plainText);
        return;
      }
      if (reply) this.send(res, reply.status, reply.body);
      // A stream (watch, followed log) is recorded as answered once its headers are out.
      else if (res.headersSent) record.status = res.statusCode;
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof ApiError) this.sendError(res, err);
      else {
        this.internalErrors.push(err);
        this.sendError(res, internalError(String(err)));
      }
    }
  }

  /** The reply for a plain request; undefined when the handler streamed the response itself. */
  private async dispatch(
    info: RequestInfo,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<Reply | undefined> {
    if (info.nonResource) {
      if (["/healthz", "/livez", "/readyz"].includes(info.path)) {
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end("ok");
        return undefined;
      }
      const doc = discovery(info.path, `127.0.0.1:${this.port}`);
      if (doc === undefined || info.method !== "GET") throw pathNotFound();
      return { status: 200, body: doc };
    }
    const type = info.type;
    if (!type) throw pathNotFound();
    if (info.verb === "watch") {
      const { labels, fields } = selectorsOf(type, info.query);
      const timeout = info.query.get("timeoutSeconds");
      this.watches.serve(
        {
          type,
          namespace: info.namespace,
          labels,
          fields,
          resourceVersion: info.query.get("resourceVersion"),
          allowBookmarks: info.query.get("allowWatchBookmarks") === "true",
          sendInitialEvents: info.query.get("sendInitialEvents") === "true",
          timeoutSeconds: timeout ? Number(timeout) : undefined,
        },
        res,
      );
      return undefined;
    }
    if (info.subresource === "log" && type.resource === "pods" && info.verb === "get") {
      serveLog(this.store, this.kubelet, info.namespace ?? "", info.name ?? "", info.query, res);
      return undefined;
    }
    return handleResource(this.registry, this.deleter, info, req);
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, {
      "content-type": "application/json",
      "cache-control": "no-cache, private",
    });
    res.end(JSON.stringify(body));
  }

  private sendError(res: ServerResponse, err: ApiError): void {
    for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
    this.send(res, err.code, err.status);
  }

  private sendFailure(res: ServerResponse, err: ApiError, drop: boolean, plainText: boolean): void {
    if (drop) {
      res.socket?.destroy();
      return;
    }
    if (plainText) {
      for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
      res.writeHead(err.code, { "content-type": "text/plain; charset=utf-8" });
      res.end(`${err.status.message ?? ""}\n`);
      return;
    }
    this.sendError(res, err);
  }
}
