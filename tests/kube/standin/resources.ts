// The resources the stand-in serves, each with what its registry strategy does on create and
// update: defaults, status handling, validation, and the field selectors it supports.
import { badRequest, fieldErrors, invalid, type FieldError, type GroupResource } from "./status.js";
import { deepEqual, dig, isRecord, type KubeObject } from "./objects.js";
import { defaultJob, jobErrors, jobPreDefaultErrors, jobUpdateErrors } from "./job-rules.js";
import { defaultPodSpec, podSpecErrors } from "./pod-spec.js";
import type { FieldReaders } from "./selectors.js";
import { metadataErrors, schemaErrors, secretDataErrors, type ModelKind } from "./validation.js";

export interface ResourceType extends GroupResource {
  version: "v1";
  kind: ModelKind;
  listKind: string;
  apiVersion: string;
  fields: FieldReaders;
  /** Create-time defaults and status reset; metadata (uid, name...) is already set. */
  prepareCreate(obj: KubeObject): FieldError[];
  /** Update-time carry-over from the stored object (status, generation). */
  prepareUpdate(obj: KubeObject, old: KubeObject): void;
  /** Kind-specific rules; `old` is set on updates. */
  errors(obj: KubeObject, old?: KubeObject): FieldError[];
}

/** A scalar field as a field selector compares it. */
function text(value: unknown): string | undefined {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : undefined;
}

const META_FIELDS: FieldReaders = {
  "metadata.name": (o) => o.metadata.name,
  "metadata.namespace": (o) => o.metadata.namespace,
};

/** stringData is write-only: merged into data (base64) and never stored. */
function foldStringData(secret: KubeObject): void {
  const stringData = secret.stringData;
  if (isRecord(stringData)) {
    const data = isRecord(secret.data) ? secret.data : {};
    for (const [k, v] of Object.entries(stringData))
      data[k] = Buffer.from(String(v)).toString("base64");
    secret.data = data;
  }
  delete secret.stringData;
}

export const JOBS: ResourceType = {
  group: "batch",
  resource: "jobs",
  version: "v1",
  kind: "Job",
  listKind: "JobList",
  apiVersion: "batch/v1",
  fields: {
    ...META_FIELDS,
    "status.successful": (o) => text(dig(o, "status", "succeeded") ?? 0),
  },
  prepareCreate(job) {
    const early = jobPreDefaultErrors(job);
    defaultJob(job);
    job.status = {};
    job.metadata.generation = 1;
    return early;
  },
  prepareUpdate(job, old) {
    job.status = old.status;
    const specChanged = !deepEqual(job.spec, old.spec);
    job.metadata.generation = (old.metadata.generation ?? 1) + (specChanged ? 1 : 0);
  },
  errors: (job, old) => [...jobErrors(job), ...(old ? jobUpdateErrors(job, old) : [])],
};

export const PODS: ResourceType = {
  group: "",
  resource: "pods",
  version: "v1",
  kind: "Pod",
  listKind: "PodList",
  apiVersion: "v1",
  fields: {
    ...META_FIELDS,
    "spec.nodeName": (o) => dig(o, "spec", "nodeName") as string | undefined,
    "spec.restartPolicy": (o) => dig(o, "spec", "restartPolicy") as string | undefined,
    "spec.schedulerName": (o) => dig(o, "spec", "schedulerName") as string | undefined,
    "spec.serviceAccountName": (o) => dig(o, "spec", "serviceAccountName") as string | undefined,
    "spec.hostNetwork": (o) => text(dig(o, "spec", "hostNetwork") ?? false),
    "status.phase": (o) => dig(o, "status", "phase") as string | undefined,
    "status.podIP": (o) => dig(o, "status", "podIP") as string | undefined,
    "status.nominatedNodeName": (o) => dig(o, "status", "nominatedNodeName") as string | undefined,
  },
  prepareCreate(pod) {
    const spec = isRecord(pod.spec) ? pod.spec : {};
    pod.spec = spec;
    defaultPodSpec(spec);
    spec.serviceAccountName ??= "default";
    spec.serviceAccount ??= spec.serviceAccountName;
    spec.enableServiceLinks ??= true;
    spec.priority ??= 0;
    pod.status = { phase: "Pending", qosClass: "BestEffort" };
    return [];
  },
  prepareUpdate(pod, old) {
    pod.status = old.status;
  },
  errors(pod, old) {
    const out = podSpecErrors(pod.spec, "spec");
    if (old && !deepEqual(pod.spec, old.spec)) {
      out.push(
        fieldErrors.forbidden(
          "spec",
          "pod updates may not change fields other than `spec.containers[*].image`," +
            "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` " +
            "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` " +
            "(allow it to be set to 1 if it was previously negative)",
        ),
      );
    }
    return out;
  },
};

export const SECRETS: ResourceType = {
  group: "",
  resource: "secrets",
  version: "v1",
  kind: "Secret",
  listKind: "SecretList",
  apiVersion: "v1",
  fields: { ...META_FIELDS, type: (o) => o.type as string | undefined },
  prepareCreate(secret) {
    foldStringData(secret);
    secret.type ??= "Opaque";
    return [];
  },
  prepareUpdate(secret) {
    foldStringData(secret);
  },
  errors(secret, old) {
    const out = secretDataErrors(secret);
    if (old && old.immutable === true && !deepEqual(secret.data, old.data)) {
      out.push(fieldErrors.forbidden("data", "field is immutable when `immutable` is set"));
    }
    if (old && old.type !== secret.type) out.push(fieldErrors.immutable("type", secret.type));
    return out;
  },
};

export const RESOURCES: ResourceType[] = [JOBS, PODS, SECRETS];

export function findResource(group: string, resource: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.group === group && r.resource === resource);
}

/** The kind/apiVersion a body may carry: absent (taken from the URL) or the endpoint's own. */
export function checkTypeMeta(type: ResourceType, body: KubeObject): void {
  if (body.apiVersion !== undefined && body.apiVersion !== type.apiVersion) {
    throw badRequest(
      `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${type.apiVersion})`,
    );
  }
  if (body.kind !== undefined && body.kind !== type.kind) {
    throw badRequest(
      `${String(body.kind)} in version "${type.version}" cannot be handled as a ${type.kind}: ` +
        `no kind "${String(body.kind)}" is registered for version "${type.apiVersion}"`,
    );
  }
}

/** Schema, metadata and kind rules together; 422 Invalid listing every violation. */
export function validateObject(
  type: ResourceType,
  obj: KubeObject,
  early: FieldError[],
  old?: KubeObject,
): void {
  const errors = [
    ...early,
    ...metadataErrors(obj),
    ...schemaErrors(type.kind, type.version, obj),
    ...type.errors(obj, old),
  ];
  if (errors.length > 0) {
    throw invalid(
      { group: type.group, kind: type.kind },
      obj.metadata.name ?? obj.metadata.generateName ?? "",
      errors,
    );
  }
}
