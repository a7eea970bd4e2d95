// Deletion as the API server and the garbage collector carry it out: graceful pod deletion,
// the finalizers that hold an object (orphan, foregroundDeletion, the Job controller's pod
// tracking finalizer), and cascading to dependents by ownerReference:
//   Background  the owner goes now; the collector then deletes its dependents.
//   Foreground  the owner stays (deletionTimestamp, foregroundDeletion) until they are gone.
//   Orphan      the owner stays (orphan) until its dependents no longer reference it.
// DELETE of a batch/v1 Job without a policy orphans: that is batch/v1's REST default.
import type { Pod } from "kubernetes-types/core/v1.js";
import { badRequest, conflict, deleted, notFound, type Status } from "./status.js";
import { keyOf, now, type KubeObject } from "./objects.js";
import type { Kubelet } from "./kubelet.js";
import type { ResourceType } from "./resources.js";
import type { ObjectStore } from "./store.js";
import { WorkQueue } from "./work-queue.js";

export const ORPHAN = "orphan";
export const FOREGROUND = "foregroundDeletion";
export const JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking";

export type PropagationPolicy = "Orphan" | "Background" | "Foreground";

export interface DeleteOptions {
  propagationPolicy?: PropagationPolicy;
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

/** DeleteOptions from the body and the query (query wins, as the server decodes both). */
export function parseDeleteOptions(body: unknown, query: URLSearchParams): DeleteOptions {
  const opts: DeleteOptions = {};
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const policy = query.get("propagationPolicy") ?? (b.propagationPolicy as string | undefined);
  const orphan =
    query.get("orphanDependents") ?? (b.orphanDependents as boolean | string | undefined);
  if (policy !== undefined && policy !== null) {
    if (!["Orphan", "Background", "Foreground"].includes(policy)) {
      throw badRequest(
        `propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`,
      );
    }
    opts.propagationPolicy = policy as PropagationPolicy;
  } else if (orphan !== undefined && orphan !== null) {
    opts.propagationPolicy = String(orphan) === "true" ? "Orphan" : "Background";
  }
  const grace = query.get("gracePeriodSeconds") ?? b.gracePeriodSeconds;
  if (grace !== undefined && grace !== null) opts.gracePeriodSeconds = Number(grace);
  if (typeof b.preconditions === "object" && b.preconditions !== null) {
    opts.preconditions = b.preconditions;
  }
  return opts;
}

function ownedBy(obj: KubeObject, uid: string): boolean {
  return (obj.metadata.ownerReferences ?? []).some((r) => r.uid === uid);
}

export class Deleter {
  private readonly queue: WorkQueue;
  private unsubscribe: () => void = () => undefined;

  constructor(
    private readonly store: ObjectStore,
    private readonly kubelet: Kubelet,
    onError: (err: unknown) => void,
  ) {
    this.queue = new WorkQueue((key) => this.collect(key), onError);
  }

  start(): void {
    this.unsubscribe = this.store.subscribe((event) => {
      const key = `${event.resource}|${keyOf(event.object)}|${event.object.metadata.uid ?? ""}`;
      if (event.type === "DELETED") {
        // An owner is gone (its dependents may now be garbage), or a dependent is (an owner
        // in foreground deletion may now go).
        this.queue.add(`owner-gone|${event.object.metadata.uid ?? ""}`);
        for (const ref of event.object.metadata.ownerReferences ?? [])
          this.queue.add(`owner|${ref.uid}`);
      } else if (event.object.metadata.deletionTimestamp) this.queue.add(key);
    });
  }

  stop(): void {
    this.unsubscribe();
    this.queue.stop();
  }

  /** The DELETE verb. Answers the deleted object, or a Success Status when it went at once. */
  delete(
    type: ResourceType,
    namespace: string,
    name: string,
    opts: DeleteOptions,
  ): KubeObject | Status {
    const obj = this.store.get(type.resource, namespace, name);
    if (!obj) throw notFound(type, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== obj.metadata.uid) {
      throw conflict(
        type,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid ?? ""}`,
      );
    }
    if (pre?.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion) {
      throw conflict(
        type,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion ?? ""}`,
      );
    }
    if (type.resource === "pods") return this.deletePod(obj, opts.gracePeriodSeconds);
    const policy = opts.propagationPolicy ?? (type.resource === "jobs" ? "Orphan" : "Background");
    if (policy === "Background") {
      if ((obj.metadata.finalizers ?? []).length === 0) {
        this.store.remove(type.resource, namespace, name);
        return deleted(type, name, obj.metadata.uid ?? "");
      }
      return this.markDeleting(type.resource, obj, undefined);
    }
    return this.markDeleting(type.resource, obj, policy === "Orphan" ? ORPHAN : FOREGROUND);
  }

  /** Graceful pod deletion; unscheduled and finished pods have nothing to stop and go at once. */
  deletePod(pod: KubeObject, gracePeriodSeconds?: number): KubeObject {
    const spec = pod.spec as Pod["spec"];
    const phase = (pod.status as Pod["status"])?.phase;
    let grace = gracePeriodSeconds ?? spec?.terminationGracePeriodSeconds ?? 30;
    if (!spec?.nodeName || phase === "Succeeded" || phase === "Failed") grace = 0;
    const namespace = pod.metadata.namespace ?? "";
    const name = pod.metadata.name ?? "";
    if (pod.metadata.deletionTimestamp) {
      // Deleting again may only shorten the grace period.
      if (grace < (pod.metadata.deletionGracePeriodSeconds ?? grace + 1)) {
        pod.metadata.deletionGracePeriodSeconds = grace;
        return this.store.update("pods", pod);
      }
      return pod;
    }
    if (grace === 0 && (pod.metadata.finalizers ?? []).length === 0) {
      return this.store.remove("pods", namespace, name) ?? pod;
    }
    pod.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000)
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z");
    pod.metadata.deletionGracePeriodSeconds = grace;
    return this.store.update("pods", pod);
  }

  private markDeleting(
    resource: string,
    obj: KubeObject,
    finalizer: string | undefined,
  ): KubeObject {
    if (!obj.metadata.deletionTimestamp) {
      obj.metadata.deletionTimestamp = now();
      obj.metadata.deletionGracePeriodSeconds = 0;
    }
    if (finalizer && !(obj.metadata.finalizers ?? []).includes(finalizer)) {
      obj.metadata.finalizers = [...(obj.metadata.finalizers ?? []), finalizer];
    }
    return this.store.update(resource, obj);
  }

  private dependents(uid: string): KubeObject[] {
    return this.store.list("pods").filter((p) => ownedBy(p, uid));
  }

  private collect(key: string): void {
    const [kind = "", a = "", b = ""] = key.split("|");
    if (kind === "owner-gone") {
      // Background cascade: dependents whose owner no longer exists are deleted.
      for (const pod of this.dependents(a)) this.releaseAndDelete(pod, a);
      return;
    }
    if (kind === "owner") {
      for (const resource of ["jobs"]) {
        const owner = this.store.list(resource).find((o) => o.metadata.uid === a);
        if (owner?.metadata.deletionTimestamp) this.queue.add(`${resource}|${keyOf(owner)}|${a}`);
      }
      return;
    }
    const [namespace = "", name = ""] = a.split("/");
    const obj = this.store.get(kind, namespace, name);
    if (!obj || obj.metadata.uid !== b || !obj.metadata.deletionTimestamp) return;
    const finalizers = obj.metadata.finalizers ?? [];
    if (finalizers.includes(ORPHAN)) {
      for (const pod of this.dependents(b)) this.orphan(pod, b);
      this.dropFinalizer(kind, obj, ORPHAN);
    } else if (finalizers.includes(FOREGROUND)) {
      const blocking = this.dependents(b);
      for (const pod of blocking) this.releaseAndDelete(pod, b);
      if (blocking.length === 0) this.dropFinalizer(kind, obj, FOREGROUND);
    } else if (finalizers.length === 0) {
      if (kind === "pods" && !this.kubelet.canRemove(namespace, name, b)) return;
      this.store.remove(kind, namespace, name);
    }
  }

  private dropFinalizer(resource: string, obj: KubeObject, finalizer: string): void {
    obj.metadata.finalizers = (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    if (obj.metadata.finalizers.length === 0) delete obj.metadata.finalizers;
    this.store.update(resource, obj);
  }

  /** What the collector and the Job controller do to the pods of an orphaning Job. */
  private orphan(pod: KubeObject, ownerUid: string): void {
    const refs = (pod.metadata.ownerReferences ?? []).filter((r) => r.uid !== ownerUid);
    if (refs.length > 0) pod.metadata.ownerReferences = refs;
    else delete pod.metadata.ownerReferences;
    this.withoutTrackingFinalizer(pod);
    this.store.update("pods", pod);
  }

  private releaseAndDelete(pod: KubeObject, ownerUid: string): void {
    const others = (pod.metadata.ownerReferences ?? []).filter((r) => r.uid !== ownerUid);
    // Another owner that still exists keeps the dependent alive.
    if (others.some((r) => this.store.list("jobs").some((j) => j.metadata.uid === r.uid))) return;
    if (this.withoutTrackingFinalizer(pod)) this.store.update("pods", pod);
    const fresh = this.store.get("pods", pod.metadata.namespace ?? "", pod.metadata.name ?? "");
    if (fresh && !fresh.metadata.deletionTimestamp) this.deletePod(fresh);
  }

  private withoutTrackingFinalizer(pod: KubeObject): boolean {
    const before = pod.metadata.finalizers ?? [];
    const after = before.filter((f) => f !== JOB_TRACKING_FINALIZER);
    if (after.length === before.length) return false;
    if (after.length > 0) pod.metadata.finalizers = after;
    else delete pod.metadata.finalizers;
    return true;
  }
}
