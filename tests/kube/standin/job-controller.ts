// The Job controller of kube-controller-manager (1.31+ semantics), for NonIndexed Jobs:
// creates pods from the template (owned, with the tracking finalizer), counts finished pods
// once (removing the finalizer as it counts), and ends the Job with the interim condition
// first: SuccessCriteriaMet then Complete, FailureTarget then Failed (only after the Job's
// remaining pods have terminated). Also: backoff between replacement pods, backoffLimit,
// activeDeadlineSeconds, podFailurePolicy, suspend/resume, and ttlSecondsAfterFinished.
import type { Job, JobCondition, JobSpec, JobStatus } from "kubernetes-types/batch/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import { JOB_TRACKING_FINALIZER, type Deleter } from "./deletion.js";
import {
  REASONS,
  ensureCondition,
  findCondition,
  matchPodFailurePolicy,
} from "./job-conditions.js";
import { clone, now, type KubeObject } from "./objects.js";
import { ApiError } from "./status.js";
import type { Registry } from "./registry.js";
import { JOBS, PODS } from "./resources.js";
import { Timers, WorkQueue } from "./work-queue.js";

type JobObject = KubeObject & Job;
type PodObject = KubeObject & Pod;

export interface JobControllerOptions {
  /** Delay before the first replacement pod after a failure; doubles per failure, up to 10x. */
  podBackoffMs: number;
  onError: (err: unknown) => void;
}

const isTerminal = (p: Pod): boolean =>
  p.status?.phase === "Succeeded" || p.status?.phase === "Failed";
const hasFinalizer = (p: Pod): boolean =>
  (p.metadata?.finalizers ?? []).includes(JOB_TRACKING_FINALIZER);
const isReady = (p: Pod): boolean =>
  (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

/** isPodFailed: with podReplacementPolicy TerminatingOrFailed a pod being deleted has failed. */
function isPodFailed(p: Pod, spec: JobSpec): boolean {
  if (p.status?.phase === "Failed") return true;
  if (spec.podReplacementPolicy === "Failed") return false;
  return !!p.metadata?.deletionTimestamp && p.status?.phase !== "Succeeded";
}

interface Backoff {
  failures: number;
  lastFailureAt: number;
}

export class JobController {
  private readonly queue: WorkQueue;
  private readonly timers = new Timers();
  private readonly jobTimers = new Map<string, NodeJS.Timeout>();
  private readonly backoff = new Map<string, Backoff>();
  /** Job uid -> when this controller wrote its terminal condition (ms). */
  private readonly finishedAt = new Map<string, number>();
  private unsubscribe: () => void = () => undefined;

  constructor(
    private readonly registry: Registry,
    private readonly deleter: Deleter,
    private readonly options: JobControllerOptions,
  ) {
    this.queue = new WorkQueue(
      (key) => this.sync(key),
      (err) => options.onError(err),
    );
  }

  start(): void {
    this.unsubscribe = this.registry.store.subscribe((event) => {
      const ns = event.object.metadata.namespace ?? "";
      if (event.resource === "jobs") this.queue.add(`${ns}/${event.object.metadata.name ?? ""}`);
      if (event.resource !== "pods") return;
      for (const ref of event.object.metadata.ownerReferences ?? []) {
        if (ref.kind === "Job" && ref.controller) this.queue.add(`${ns}/${ref.name}`);
      }
    });
  }

  stop(): void {
    this.unsubscribe();
    this.queue.stop();
    this.timers.clearAll();
  }

  /** Re-syncs `key` after `ms` (deadline, backoff, TTL); one pending timer per Job. */
  private syncLater(key: string, ms: number): void {
    this.timers.cancel(this.jobTimers.get(key));
    this.jobTimers.set(
      key,
      this.timers.after(ms, () => this.queue.add(key)),
    );
  }

  private sync(key: string): void {
    const [namespace = "", name = ""] = key.split("/");
    const job = this.registry.store.get("jobs", namespace, name) as JobObject | undefined;
    if (!job?.spec || job.metadata.deletionTimestamp) return;
    if (job.spec.managedBy && job.spec.managedBy !== "kubernetes.io/job-controller") return;
    const status: JobStatus = clone(job.status ?? {});
    const conditions: JobCondition[] = status.conditions ?? [];
    if (findCondition(conditions, "Complete") || findCondition(conditions, "Failed")) {
      this.expireAfterTtl(key, job, conditions);
      return;
    }
    const spec = job.spec;
    let pods = (this.registry.store.list("pods", namespace) as PodObject[]).filter((p) =>
      (p.metadata.ownerReferences ?? []).some((r) => r.controller && r.uid === job.metadata.uid),
    );
    const suspended = spec.suspend === true;
    if (!status.startTime && !suspended) status.startTime = now();
    let failing = findCondition(conditions, "FailureTarget");
    this.count(key, spec, status, pods, !!failing);
    pods = this.refresh(pods);

    if (!failing && !findCondition(conditions, "SuccessCriteriaMet")) {
      const verdict = this.failureVerdict(spec, status, pods);
      if (verdict) {
        ensureCondition(conditions, "FailureTarget", "True", verdict[0], verdict[1]);
        failing = findCondition(conditions, "FailureTarget");
        this.count(key, spec, status, pods, true);
        pods = this.refresh(pods);
      } else if (spec.activeDeadlineSeconds !== undefined && !suspended && status.startTime) {
        const left = Date.parse(status.startTime) + spec.activeDeadlineSeconds * 1000 - Date.now();
        this.syncLater(key, left + 5);
      }
    }
    const active = (): PodObject[] =>
      pods.filter((p) => !isTerminal(p) && !p.metadata.deletionTimestamp);
    const terminating = (): number =>
      pods.filter((p) => !isTerminal(p) && !!p.metadata.deletionTimestamp).length;
    const finish: [string, string, string][] = [];

    if (failing) {
      for (const p of active()) this.deleter.deletePod(p);
      pods = this.refresh(pods);
      if (terminating() === 0) finish.push(["Failed", failing.reason ?? "", failing.message ?? ""]);
    } else {
      const completions = spec.completions;
      const succeeded = status.succeeded ?? 0;
      const complete =
        completions === undefined || completions === null
          ? succeeded > 0 && active().length === 0
          : succeeded >= completions && active().length === 0;
      if (complete || findCondition(conditions, "SuccessCriteriaMet")) {
        ensureCondition(conditions, "SuccessCriteriaMet", "True", ...REASONS.completions);
        if (terminating() === 0) finish.push(["Complete", ...REASONS.completions]);
      } else if (suspended) {
        for (const p of active()) this.removePod(p);
        pods = this.refresh(pods);
        ensureCondition(conditions, "Suspended", "True", "JobSuspended", "Job suspended");
      } else {
        if (ensureCondition(conditions, "Suspended", "False", "JobResumed", "Job resumed")) {
          status.startTime = now(); // the deadline counts from the resume
        }
        pods = this.manage(key, job, spec, status, pods, active().length);
      }
    }

    const activeNow = active();
    status.active = activeNow.length || undefined;
    status.ready = activeNow.filter(isReady).length;
    status.terminating = terminating();
    status.uncountedTerminatedPods = {};
    status.conditions = conditions.length > 0 ? conditions : undefined;
    job.status = status;
    let written = this.registry.store.update("jobs", job) as JobObject;
    for (const [type, reason, message] of finish) {
      // The terminal condition is its own write, after the interim one (as the controller does).
      const next = clone(written.status ?? {});
      const list = next.conditions ?? [];
      ensureCondition(list, type, "True", reason, message);
      next.conditions = list;
      if (type === "Complete")
        next.completionTime = list.find((c) => c.type === "Complete")?.lastTransitionTime;
      written = this.registry.store.update("jobs", { ...written, status: next }) as JobObject;
      this.backoff.delete(key);
      this.finishedAt.set(written.metadata.uid ?? "", Date.now());
      this.expireAfterTtl(key, written, list);
    }
  }

  /** Counts finished pods still carrying the tracking finalizer, then releases them. */
  private count(
    key: string,
    spec: JobSpec,
    status: JobStatus,
    pods: PodObject[],
    failing: boolean,
  ): void {
    for (const pod of pods) {
      if (!hasFinalizer(pod)) continue;
      if (pod.status?.phase === "Succeeded") status.succeeded = (status.succeeded ?? 0) + 1;
      else if (isPodFailed(pod, spec) || failing) {
        if (matchPodFailurePolicy(spec, pod).counts) status.failed = (status.failed ?? 0) + 1;
        const b = this.backoff.get(key) ?? { failures: 0, lastFailureAt: 0 };
        this.backoff.set(key, { failures: b.failures + 1, lastFailureAt: Date.now() });
      } else continue;
      this.releasePod(pod);
    }
  }

  private failureVerdict(
    spec: JobSpec,
    status: JobStatus,
    pods: PodObject[],
  ): [string, string] | undefined {
    for (const pod of pods) {
      if (!isPodFailed(pod, spec)) continue;
      const message = matchPodFailurePolicy(spec, pod).failJobMessage;
      if (message) return ["PodFailurePolicy", message];
    }
    const limit = spec.backoffLimit ?? 6;
    if ((status.failed ?? 0) > limit) return [...REASONS.backoff];
    if (spec.template.spec?.restartPolicy === "OnFailure") {
      const restarts = pods
        .filter((p) => !isTerminal(p))
        .flatMap((p) => p.status?.containerStatuses ?? [])
        .reduce((sum, cs) => sum + cs.restartCount, 0);
      if (limit === 0 ? restarts > 0 : restarts >= limit) return [...REASONS.backoff];
    }
    const deadline = spec.activeDeadlineSeconds;
    if (deadline !== undefined && status.startTime && spec.suspend !== true) {
      if (Date.now() - Date.parse(status.startTime) >= deadline * 1000)
        return [...REASONS.deadline];
    }
    return undefined;
  }

  /** Creates the pods that are missing, respecting the failure backoff. */
  private manage(
    key: string,
    job: JobObject,
    spec: JobSpec,
    status: JobStatus,
    pods: PodObject[],
    active: number,
  ): PodObject[] {
    const parallelism = spec.parallelism ?? 1;
    const succeeded = status.succeeded ?? 0;
    const want =
      spec.completions === undefined || spec.completions === null
        ? succeeded > 0
          ? active
          : parallelism
        : Math.min(spec.completions - succeeded, parallelism);
    if (active >= want) return pods;
    const b = this.backoff.get(key);
    if (b && b.failures > 0) {
      const delay = Math.min(
        this.options.podBackoffMs * 2 ** (b.failures - 1),
        this.options.podBackoffMs * 10,
      );
      const wait = b.lastFailureAt + delay - Date.now();
      if (wait > 0) {
        this.syncLater(key, wait);
        return pods;
      }
    }
    const created = [...pods];
    for (let i = active; i < want; i++) created.push(this.createPod(job) as PodObject);
    return created;
  }

  private createPod(job: JobObject): KubeObject {
    const template = job.spec?.template;
    const name = job.metadata.name ?? "";
    return this.registry.create(PODS, job.metadata.namespace ?? "", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        generateName: `${name}-`,
        labels: { ...template?.metadata?.labels },
        ...(template?.metadata?.annotations
          ? { annotations: { ...template.metadata.annotations } }
          : {}),
        ownerReferences: [
          {
            apiVersion: JOBS.apiVersion,
            kind: "Job",
            name,
            uid: job.metadata.uid ?? "",
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
        finalizers: [JOB_TRACKING_FINALIZER],
      },
      spec: clone(template?.spec),
    });
  }

  private releasePod(pod: PodObject): void {
    const fresh = this.registry.store.get(
      "pods",
      pod.metadata.namespace ?? "",
      pod.metadata.name ?? "",
    );
    if (!fresh) return;
    fresh.metadata.finalizers = (fresh.metadata.finalizers ?? []).filter(
      (f) => f !== JOB_TRACKING_FINALIZER,
    );
    if (fresh.metadata.finalizers.length === 0) delete fresh.metadata.finalizers;
    this.registry.store.update("pods", fresh);
  }

  /** deleteJobPods: released first, so a pod removed for suspension is not a failure. */
  private removePod(pod: PodObject): void {
    this.releasePod(pod);
    const fresh = this.registry.store.get(
      "pods",
      pod.metadata.namespace ?? "",
      pod.metadata.name ?? "",
    );
    if (fresh) this.deleter.deletePod(fresh);
  }

  /** The pods as stored now (this sync's own writes included); removed ones drop out. */
  private refresh(pods: PodObject[]): PodObject[] {
    return pods.flatMap((p): PodObject[] => {
      const fresh = this.registry.store.get(
        "pods",
        p.metadata.namespace ?? "",
        p.metadata.name ?? "",
      );
      return fresh && fresh.metadata.uid === p.metadata.uid ? [fresh as PodObject] : [];
    });
  }

  /** The TTL-after-finished controller: deletes the finished Job (Foreground) once due. */
  private expireAfterTtl(key: string, job: JobObject, conditions: JobCondition[]): void {
    const ttl = job.spec?.ttlSecondsAfterFinished;
    if (ttl === undefined || ttl === null) return;
    const end = conditions.find(
      (c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True",
    );
    // API times have second precision; the moment this controller saw the end is sharper.
    const uid = job.metadata.uid ?? "";
    const endedAt = this.finishedAt.get(uid) ?? Date.parse(end?.lastTransitionTime ?? now());
    this.finishedAt.set(uid, endedAt);
    const due = endedAt + ttl * 1000 - Date.now();
    if (due > 0) {
      this.syncLater(key, due);
      return;
    }
    try {
      this.deleter.delete(JOBS, job.metadata.namespace ?? "", job.metadata.name ?? "", {
        propagationPolicy: "Foreground",
        preconditions: { uid: job.metadata.uid ?? "" },
      });
    } catch (err) {
      // Gone or replaced meanwhile: nothing left to expire.
      if (!(err instanceof ApiError)) throw err;
    }
  }
}
