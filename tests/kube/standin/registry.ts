// The generic registry (k8s.io/apiserver/pkg/registry/generic): create, update and patch of
// any served resource, with the server-owned metadata the API server sets and the checks it
// makes in its order: namespace exists, body consistent with the URL, optimistic concurrency,
// strategy defaults, validation, then storage (AlreadyExists).
import { applyPatch, type PatchType } from "./patch.js";
import { alreadyExists, badRequest, conflict, notFound, staleObject } from "./status.js";
import { clone, generateName, isRecord, newUid, now, type KubeObject } from "./objects.js";
import { checkTypeMeta, validateObject, type ResourceType } from "./resources.js";
import type { ObjectStore } from "./store.js";

const NAMESPACES = { group: "", resource: "namespaces" };

const SERVER_OWNED = [
  "uid",
  "resourceVersion",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "generation",
  "managedFields",
  "selfLink",
] as const;

export class Registry {
  constructor(
    readonly store: ObjectStore,
    readonly namespaces: Set<string>,
  ) {}

  get(type: ResourceType, namespace: string, name: string): KubeObject {
    const obj = this.store.get(type.resource, namespace, name);
    if (!obj) throw notFound(type, name);
    return obj;
  }

  create(
    type: ResourceType,
    namespace: string,
    body: unknown,
    opts: { dryRun?: boolean } = {},
  ): KubeObject {
    if (!isRecord(body))
      throw badRequest(
        `${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: the body is not an object`,
      );
    const obj = clone(body) as KubeObject;
    obj.metadata = isRecord(obj.metadata) ? obj.metadata : {};
    checkTypeMeta(type, obj);
    if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== namespace) {
      throw badRequest(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
    if (!this.namespaces.has(namespace)) throw notFound(NAMESPACES, namespace);
    const generated = !obj.metadata.name && !!obj.metadata.generateName;
    for (const field of SERVER_OWNED) delete obj.metadata[field];
    if (generated) obj.metadata.name = generateName(obj.metadata.generateName ?? "");
    obj.metadata.namespace = namespace;
    obj.metadata.uid = newUid();
    obj.metadata.creationTimestamp = now();
    const ordered: KubeObject = {
      apiVersion: type.apiVersion,
      kind: type.kind,
      ...obj,
      metadata: obj.metadata,
    };
    const early = type.prepareCreate(ordered);
    validateObject(type, ordered, early);
    const name = ordered.metadata.name ?? "";
    if (this.store.get(type.resource, namespace, name)) {
      // A generated name that collides is retried, as the server's GenerateName does.
      if (generated) return this.create(type, namespace, body, opts);
      throw alreadyExists(type, name);
    }
    if (opts.dryRun) return ordered;
    return this.store.create(type.resource, ordered);
  }

  /** PUT: the body replaces the object (status and server-owned metadata excepted). */
  replace(type: ResourceType, namespace: string, name: string, body: unknown): KubeObject {
    if (!isRecord(body) || !isRecord(body.metadata))
      throw badRequest("the body of an update must be an object with metadata");
    const old = this.get(type, namespace, name);
    return this.write(type, old, clone(body) as KubeObject);
  }

  patch(
    type: ResourceType,
    namespace: string,
    name: string,
    patchType: PatchType,
    patchBody: unknown,
  ): KubeObject {
    const old = this.get(type, namespace, name);
    const patched = applyPatch(patchType, old, patchBody);
    if (!isRecord(patched) || !isRecord(patched.metadata))
      throw badRequest("the patch removed the object's metadata");
    // A resourceVersion in the patch is a precondition; without one, the patch applies to
    // whatever is current.
    const rvInPatch =
      isRecord(patchBody) &&
      isRecord(patchBody.metadata) &&
      "resourceVersion" in patchBody.metadata;
    const next = patched as KubeObject;
    if (!rvInPatch && patchType !== "application/json-patch+json")
      next.metadata.resourceVersion = old.metadata.resourceVersion;
    return this.write(type, old, next);
  }

  private write(type: ResourceType, old: KubeObject, next: KubeObject): KubeObject {
    const name = old.metadata.name ?? "";
    checkTypeMeta(type, next);
    if (next.metadata.name !== undefined && next.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    if (
      next.metadata.namespace !== undefined &&
      next.metadata.namespace !== old.metadata.namespace
    ) {
      throw badRequest(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
    const rv = next.metadata.resourceVersion;
    if (rv !== undefined && rv !== "" && rv !== old.metadata.resourceVersion)
      throw staleObject(type, name);
    if (next.metadata.uid !== undefined && next.metadata.uid !== old.metadata.uid) {
      throw conflict(
        type,
        name,
        `Precondition failed: UID in precondition: ${next.metadata.uid}, UID in object meta: ${old.metadata.uid ?? ""}`,
      );
    }
    for (const field of SERVER_OWNED) {
      if (old.metadata[field] === undefined) delete next.metadata[field];
      else (next.metadata as Record<string, unknown>)[field] = old.metadata[field];
    }
    next.metadata.name = name;
    next.metadata.namespace = old.metadata.namespace;
    next.apiVersion = type.apiVersion;
    next.kind = type.kind;
    type.prepareUpdate(next, old);
    validateObject(type, next, [], old);
    return this.store.update(type.resource, next);
  }
}
