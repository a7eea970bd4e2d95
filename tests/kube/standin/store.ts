// The stand-in's etcd: every object of every resource, one global revision that every write
// advances (an object's resourceVersion is the revision of its last write, as with etcd3), and
// a bounded history of changes for watches. Restarting the HTTP server keeps all of it, like a
// persisted etcd; compaction empties the history so old revisions answer 410 Gone.
import { tooOldResourceVersion } from "./status.js";
import { clone, deepEqual, keyOf, objectKey, type KubeObject } from "./objects.js";

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  type: EventType;
  resource: string;
  /** The object after the change; for DELETED its last state, stamped with the delete revision. */
  object: KubeObject;
  /** The object before the change (MODIFIED, DELETED), for selector transitions and snapshots. */
  previous?: KubeObject;
  revision: number;
}

export type StoreListener = (event: StoreEvent) => void;

export class ObjectStore {
  private revision: number;
  /** Every change after this revision is still in the history. */
  private compacted: number;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private history: StoreEvent[] = [];
  private readonly listeners = new Set<StoreListener>();

  constructor(
    private readonly historyLimit: number,
    startRevision: number,
  ) {
    this.revision = startRevision;
    this.compacted = startRevision;
  }

  get currentRevision(): number {
    return this.revision;
  }

  /** The oldest revision a watch may still start from. */
  get compactedRevision(): number {
    return this.compacted;
  }

  get(resource: string, namespace: string, name: string): KubeObject | undefined {
    const obj = this.bucket(resource).get(objectKey(namespace, name));
    return obj ? clone(obj) : undefined;
  }

  /** Current objects of a resource, in one namespace or all, ordered by namespace/name. */
  list(resource: string, namespace?: string): KubeObject[] {
    return this.sorted(
      [...this.bucket(resource).values()].filter(
        (o) => namespace === undefined || o.metadata.namespace === namespace,
      ),
    ).map(clone);
  }

  /**
   * The objects as they were at `revision`: the current state with every later change undone.
   * Lets paginated lists (continue tokens) and exact-revision lists be consistent snapshots.
   */
  snapshotAt(resource: string, revision: number, namespace?: string): KubeObject[] {
    if (revision < this.compacted) throw tooOldResourceVersion(revision, this.compacted);
    const state = new Map(this.bucket(resource));
    for (let i = this.history.length - 1; i >= 0; i--) {
      const event = this.history[i];
      if (!event || event.revision <= revision) break;
      if (event.resource !== resource) continue;
      const key = keyOf(event.object);
      if (event.type === "ADDED") state.delete(key);
      else if (event.previous) state.set(key, event.previous);
    }
    return this.sorted(
      [...state.values()].filter(
        (o) => namespace === undefined || o.metadata.namespace === namespace,
      ),
    ).map(clone);
  }

  create(resource: string, obj: KubeObject): KubeObject {
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(++this.revision);
    this.bucket(resource).set(keyOf(stored), stored);
    this.emit({ type: "ADDED", resource, object: stored, revision: this.revision });
    return clone(stored);
  }

  /**
   * Replaces an existing object. An update that changes nothing writes nothing (no new
   * revision, no event), as the API server's GuaranteedUpdate skips no-op writes.
   */
  update(resource: string, obj: KubeObject): KubeObject {
    const bucket = this.bucket(resource);
    const key = keyOf(obj);
    const previous = bucket.get(key);
    if (!previous) throw new Error(`stand-in store: update of missing ${resource} ${key}`);
    const candidate = clone(obj);
    candidate.metadata.resourceVersion = previous.metadata.resourceVersion;
    if (deepEqual(candidate, previous)) return clone(previous);
    candidate.metadata.resourceVersion = String(++this.revision);
    bucket.set(key, candidate);
    this.emit({ type: "MODIFIED", resource, object: candidate, previous, revision: this.revision });
    return clone(candidate);
  }

  remove(resource: string, namespace: string, name: string): KubeObject | undefined {
    const bucket = this.bucket(resource);
    const key = objectKey(namespace, name);
    const previous = bucket.get(key);
    if (!previous) return undefined;
    bucket.delete(key);
    const last = clone(previous);
    last.metadata.resourceVersion = String(++this.revision);
    this.emit({ type: "DELETED", resource, object: last, previous, revision: this.revision });
    return clone(last);
  }

  /** Changes after `revision`, oldest first; 410 Expired when some were compacted away. */
  eventsAfter(revision: number): StoreEvent[] {
    if (revision < this.compacted) throw tooOldResourceVersion(revision, this.compacted);
    return this.history.filter((e) => e.revision > revision);
  }

  /** Forgets the whole history: any revision older than the current one is now too old. */
  compact(): void {
    this.history = [];
    this.compacted = this.revision;
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: StoreEvent): void {
    this.history.push(event);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped) this.compacted = dropped.revision;
    }
    for (const listener of [...this.listeners]) listener(event);
  }

  private bucket(resource: string): Map<string, KubeObject> {
    let bucket = this.objects.get(resource);
    if (!bucket) {
      bucket = new Map();
      this.objects.set(resource, bucket);
    }
    return bucket;
  }

  private sorted(objects: KubeObject[]): KubeObject[] {
    return objects.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  }
}
