// Runs each task as a batch/v1 Job. Launch creates the Job (a retried create meets
// AlreadyExists, never a second run); stop deletes it with propagationPolicy Background so its
// pod goes too; inspect reads the informer's cache, never the API server. Every Job event wakes
// the controller for that task: the controller stays level-triggered.
import { BatchV1Api, CoreV1Api, KubeConfig, type V1Job } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Config } from "../../config.js";
import type { Task } from "../../tasks/task.js";
import type { Execution, Runner } from "../runner.js";
import { KubeApiError, withRetry } from "./api-errors.js";
import { buildJob, jobName, labelSelector, TASK_ID_LABEL } from "./job-spec.js";
import { JobWatch, type JobEvent } from "./job-watch.js";

/** The longest termination message kept in a task's error. */
const MAX_MESSAGE = 1024;

export function loadKubeConfig(kubeconfig: string | undefined, inCluster: boolean): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else if (inCluster) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

export class KubernetesRunner implements Runner {
  readonly kind = "kubernetes";
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly watch: JobWatch;
  private readonly namespace: string;
  /** Created by us and not yet seen by the informer: counts as active, not launched twice. */
  private readonly created = new Set<string>();
  /** Deleted by us: never deleted twice. */
  private readonly deleted = new Set<string>();
  private readonly messages = new Map<string, string>();
  private listener: (taskId: string) => void = () => undefined;

  constructor(
    kc: KubeConfig,
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.namespace = config.kubernetes.namespace;
    if (!config.kubernetes.image) {
      throw new Error("TRAINYARD_WORKER_IMAGE must be set for the Kubernetes runner");
    }
    this.batch = kc.makeApiClient(BatchV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.watch = new JobWatch(
      kc,
      this.batch,
      this.namespace,
      labelSelector(config.kubernetes),
      (job, event) => this.onJob(job, event),
      log,
    );
    this.watch.start();
  }

  /** Why the runner cannot work right now (e.g. RBAC), for readiness; undefined when fine. */
  problem(): string | undefined {
    const p = this.watch.problem;
    return p
      ? `kubernetes API: ${p.status ?? "no answer"} ${p.reason ?? ""} ${p.message}`
      : undefined;
  }

  async launch(task: Task): Promise<void> {
    await this.watch.synced();
    const name = jobName(this.config.kubernetes, task.id);
    if (this.created.has(task.id) || this.watch.get(name)) return;
    const body = buildJob(task, this.config.kubernetes, {
      timeoutSeconds: task.params.timeout_seconds ?? this.config.defaultTimeoutSeconds,
      logLevel: this.config.logLevel,
      datasetPath: this.config.datasetPath,
      writePatienceSeconds: this.config.workerWritePatienceSeconds,
    });
    try {
      await withRetry("create Job", () =>
        this.batch.createNamespacedJob({ namespace: this.namespace, body }),
      );
      this.log.info({ task_id: task.id, job: name }, "job created");
    } catch (err) {
      // Our own earlier create (a retry after a lost answer, or another controller): fine.
      if (!(err instanceof KubeApiError && err.kube.reason === "AlreadyExists")) throw err;
    }
    this.created.add(task.id);
  }

  async stop(task: Task): Promise<void> {
    await this.delete(task.id);
  }

  async discard(taskId: string): Promise<void> {
    await this.delete(taskId);
  }

  async inspect(task: Task): Promise<Execution | undefined> {
    await this.watch.synced();
    const job = this.watch.get(jobName(this.config.kubernetes, task.id));
    if (!job) {
      // Created but not yet in the cache: active. Deleted by us, or gone: nothing.
      return this.created.has(task.id) && !this.deleted.has(task.id)
        ? { state: "active" }
        : undefined;
    }
    const condition = (type: string) =>
      job.status?.conditions?.find((c) => c.type === type && c.status === "True");
    if (condition("Complete")) {
      return { state: "exited", succeeded: true, reason: "Complete", message: "the Job completed" };
    }
    const failed = condition("Failed");
    const failing = failed ?? condition("FailureTarget");
    if (failing) {
      const reason = failing.reason ?? "Failed";
      const message = await this.failureMessage(task.id, job, failing.message);
      // FailureTarget: the Job is failing but its pod may still be terminating.
      return failed
        ? { state: "exited", succeeded: false, reason, code: reason, message }
        : { state: "active", failing: { code: reason, message } };
    }
    return { state: "active" };
  }

  executions(): Promise<string[]> {
    const ids = new Set(this.created);
    for (const job of this.watch.list()) {
      const id = job.metadata?.labels?.[TASK_ID_LABEL];
      if (id) ids.add(id);
    }
    return Promise.resolve([...ids]);
  }

  forget(taskId: string): void {
    this.created.delete(taskId);
    this.deleted.delete(taskId);
    this.messages.delete(taskId);
  }

  onChange(listener: (taskId: string) => void): void {
    this.listener = listener;
  }

  async close(): Promise<void> {
    // Jobs run on without us: the next controller adopts them from the informer's first list.
    await this.watch.stop();
  }

  private onJob(job: V1Job, event: JobEvent): void {
    const taskId = job.metadata?.labels?.[TASK_ID_LABEL];
    if (!taskId) return;
    if (event !== "deleted") this.created.delete(taskId); // the cache has it now
    this.listener(taskId);
  }

  private async delete(taskId: string): Promise<void> {
    if (this.deleted.has(taskId)) return;
    const name = jobName(this.config.kubernetes, taskId);
    try {
      await withRetry("delete Job", () =>
        this.batch.deleteNamespacedJob({
          name,
          namespace: this.namespace,
          // Without it the API server orphans the pod, which would run on.
          propagationPolicy: "Background",
        }),
      );
      this.log.info({ task_id: taskId, job: name }, "job deleted");
    } catch (err) {
      if (!(err instanceof KubeApiError && err.kube.kind === "not_found")) throw err;
    }
    this.deleted.add(taskId);
    this.created.delete(taskId);
  }

  /** The condition's message and the failed pod's termination message (its last log lines). */
  private async failureMessage(
    taskId: string,
    job: V1Job,
    conditionMessage: string | undefined,
  ): Promise<string> {
    const known = this.messages.get(taskId);
    if (known !== undefined) return known;
    let detail = "";
    try {
      const pods = await withRetry("list pods", () =>
        this.core.listNamespacedPod({
          namespace: this.namespace,
          labelSelector: `batch.kubernetes.io/job-name=${job.metadata?.name ?? ""}`,
        }),
      );
      for (const pod of pods.items) {
        const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
        if (terminated?.message) detail = terminated.message.trim();
      }
    } catch (err) {
      this.log.warn({ err, task_id: taskId }, "could not read the failed pod's message");
    }
    const message = [conditionMessage, detail].filter(Boolean).join(": ").slice(-MAX_MESSAGE);
    this.messages.set(taskId, message || "the Job failed");
    return this.messages.get(taskId) ?? "";
  }
}
