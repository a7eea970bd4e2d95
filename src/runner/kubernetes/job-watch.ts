// One informer over this installation's training Jobs (list, then watch from the list's
// resourceVersion; the client relists by itself on 410 Gone). The client's informer stops for
// good on any other error, so this restarts it with backoff, resuming from the last
// resourceVersion it saw. Its cache is what the runner inspects: no list-polling.
import {
  ADD,
  DELETE,
  ERROR,
  UPDATE,
  makeInformer,
  type BatchV1Api,
  type Informer,
  type KubeConfig,
  type ObjectCache,
  type V1Job,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { classifyKubeError, type KubeError } from "./api-errors.js";

export type JobEvent = "added" | "updated" | "deleted";

export class JobWatch {
  private readonly informer: Informer<V1Job> & ObjectCache<V1Job>;
  private readonly syncedOnce: Promise<void>;
  private markSynced: () => void = () => undefined;
  private backoffMs = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failedSinceStart: KubeError | undefined;
  /** The last error that stopped the watch, until it works again (readiness reports it). */
  problem: KubeError | undefined;

  constructor(
    kubeconfig: KubeConfig,
    batch: BatchV1Api,
    private readonly namespace: string,
    labelSelector: string,
    onJob: (job: V1Job, event: JobEvent) => void,
    private readonly log: Logger,
  ) {
    this.syncedOnce = new Promise((resolve) => (this.markSynced = resolve));
    this.informer = makeInformer(
      kubeconfig,
      `/apis/batch/v1/namespaces/${namespace}/jobs`,
      () => batch.listNamespacedJob({ namespace, labelSelector }),
      labelSelector,
    );
    this.informer.on(ADD, (job) => onJob(job, "added"));
    this.informer.on(UPDATE, (job) => onJob(job, "updated"));
    this.informer.on(DELETE, (job) => onJob(job, "deleted"));
    this.informer.on(ERROR, (err) => this.onError(err));
  }

  start(): void {
    void this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  /** Resolves once the first list has been loaded into the cache. */
  synced(): Promise<void> {
    return this.syncedOnce;
  }

  get(name: string): V1Job | undefined {
    return this.informer.get(name, this.namespace);
  }

  list(): readonly V1Job[] {
    return this.informer.list(this.namespace);
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    this.failedSinceStart = undefined;
    try {
      await this.informer.start();
    } catch (err) {
      this.onError(err);
      return;
    }
    if (this.failedSinceStart) return; // onError scheduled the restart
    if (this.problem) this.log.info("kubernetes: watching Jobs again");
    this.problem = undefined;
    this.backoffMs = 0;
    this.markSynced();
  }

  private onError(err: unknown): void {
    const kube = classifyKubeError(err);
    this.failedSinceStart = kube;
    this.problem = kube;
    if (this.stopped) return;
    this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 250), 30_000);
    const level = kube.kind === "auth" ? "error" : "warn";
    this.log[level](
      { status: kube.status, reason: kube.reason, err: kube.message, retry_in_ms: this.backoffMs },
      kube.kind === "auth"
        ? "kubernetes: not allowed to watch Jobs (check the controller's RBAC)"
        : "kubernetes: the Job watch stopped; restarting",
    );
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.run(), this.backoffMs);
    this.restartTimer.unref();
  }
}
