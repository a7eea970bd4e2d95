// Pod spec defaulting and the container rules both Jobs (their template) and Pods share,
// as pkg/apis/core/v1/defaults.go and pkg/apis/core/validation apply them.
import { fieldErrors, type FieldError } from "./status.js";
import { dig, isRecord } from "./objects.js";
import { containersErrors } from "./validation.js";

/** The image's tag decides the default pull policy: latest (or none) pulls Always. */
function defaultPullPolicy(image: string): string {
  const lastPart = image.split("/").pop() ?? image;
  if (lastPart.includes("@")) return "IfNotPresent";
  const tag = lastPart.includes(":") ? lastPart.split(":").pop() : undefined;
  return !tag || tag === "latest" ? "Always" : "IfNotPresent";
}

export function defaultPodSpec(spec: Record<string, unknown>): void {
  spec.dnsPolicy ??= "ClusterFirst";
  spec.restartPolicy ??= "Always";
  spec.schedulerName ??= "default-scheduler";
  spec.securityContext ??= {};
  spec.terminationGracePeriodSeconds ??= 30;
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  for (const c of containers) {
    if (!isRecord(c)) continue;
    if (typeof c.image === "string") c.imagePullPolicy ??= defaultPullPolicy(c.image);
    c.resources ??= {};
    c.terminationMessagePath ??= "/dev/termination-log";
    c.terminationMessagePolicy ??= "File";
    for (const e of Array.isArray(c.env) ? c.env : []) {
      const fieldRef = dig(e, "valueFrom", "fieldRef");
      if (isRecord(fieldRef)) fieldRef.apiVersion ??= "v1";
    }
  }
}

/** A pod-level field the stand-in's kubelet does not simulate: refused, never ignored. */
export function unsupported(field: string): FieldError {
  return fieldErrors.forbidden(field, "not supported by the stand-in API server (tests/kube)");
}

export function podSpecErrors(spec: unknown, path: string): FieldError[] {
  const out = containersErrors(spec, path);
  const init = dig(spec, "initContainers");
  if (Array.isArray(init) && init.length > 0) out.push(unsupported(`${path}.initContainers`));
  const grace = dig(spec, "terminationGracePeriodSeconds");
  if (typeof grace === "number" && grace < 0) {
    out.push(
      fieldErrors.invalid(
        `${path}.terminationGracePeriodSeconds`,
        grace,
        "must be greater than or equal to 0",
      ),
    );
  }
  return out;
}
