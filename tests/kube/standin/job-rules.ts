// batch/v1 Job admission as the API server does it (pkg/registry/batch/job/strategy.go,
// pkg/apis/batch/v1/defaults.go, pkg/apis/batch/validation): defaults, the generated selector
// and labels, create-time rules and the fields an update may not change.
import { fieldErrors, type FieldError } from "./status.js";
import { deepEqual, dig, isRecord, type KubeObject } from "./objects.js";
import { defaultPodSpec, podSpecErrors, unsupported } from "./pod-spec.js";
import { labelsErrors } from "./validation.js";

export const JOB_NAME_LABEL = "batch.kubernetes.io/job-name";
export const LEGACY_JOB_NAME_LABEL = "job-name";
export const CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid";
export const LEGACY_CONTROLLER_UID_LABEL = "controller-uid";

function record(parent: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = parent[key];
  if (isRecord(value)) return value;
  const fresh: Record<string, unknown> = {};
  parent[key] = fresh;
  return fresh;
}

/** Errors found before defaulting: a selector given without manualSelector. */
export function jobPreDefaultErrors(job: KubeObject): FieldError[] {
  const spec = isRecord(job.spec) ? job.spec : {};
  if (spec.selector !== undefined && spec.manualSelector !== true) {
    return [fieldErrors.invalid("spec.selector", spec.selector, "`selector` not auto-generated")];
  }
  return [];
}

/** Defaults and the generated selector; needs metadata.uid and metadata.name set. */
export function defaultJob(job: KubeObject): void {
  const spec = record(job, "spec");
  if (spec.completions === undefined && spec.parallelism === undefined) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  spec.parallelism ??= 1;
  spec.backoffLimit ??= 6;
  spec.completionMode ??= "NonIndexed";
  spec.suspend ??= false;
  spec.manualSelector ??= false;
  spec.podReplacementPolicy ??= spec.podFailurePolicy ? "Failed" : "TerminatingOrFailed";
  const template = record(spec, "template");
  const templateMeta = record(template, "metadata");
  defaultPodSpec(record(template, "spec"));
  for (const rule of (dig(spec, "podFailurePolicy", "rules") as unknown[] | undefined) ?? []) {
    for (const pattern of (dig(rule, "onPodConditions") as unknown[] | undefined) ?? []) {
      if (isRecord(pattern)) pattern.status ??= "True";
    }
  }
  if (spec.manualSelector !== true) {
    const uid = job.metadata.uid ?? "";
    const name = job.metadata.name ?? "";
    const labels = record(templateMeta, "labels") as Record<string, string>;
    labels[CONTROLLER_UID_LABEL] = uid;
    labels[JOB_NAME_LABEL] = name;
    labels[LEGACY_CONTROLLER_UID_LABEL] = uid;
    labels[LEGACY_JOB_NAME_LABEL] = name;
    spec.selector = { matchLabels: { [CONTROLLER_UID_LABEL]: uid } };
  }
  // A Job without labels of its own takes its pods' labels.
  const templateLabels = templateMeta.labels as Record<string, string> | undefined;
  if (Object.keys(job.metadata.labels ?? {}).length === 0 && templateLabels) {
    job.metadata.labels = { ...templateLabels };
  }
}

function nonNegative(spec: Record<string, unknown>, field: string, out: FieldError[]): void {
  const value = spec[field];
  if (typeof value === "number" && value < 0) {
    out.push(fieldErrors.invalid(`spec.${field}`, value, "must be greater than or equal to 0"));
  }
}

function podFailurePolicyErrors(spec: Record<string, unknown>): FieldError[] {
  const out: FieldError[] = [];
  const rules = dig(spec, "podFailurePolicy", "rules");
  if (!Array.isArray(rules)) return out;
  if (dig(spec, "template", "spec", "restartPolicy") !== "Never") {
    out.push(
      fieldErrors.invalid(
        "spec.template.spec.restartPolicy",
        dig(spec, "template", "spec", "restartPolicy"),
        'only "Never" is supported when podFailurePolicy is specified',
      ),
    );
  }
  const names = new Set(
    ((dig(spec, "template", "spec", "containers") as unknown[] | undefined) ?? []).map((c) =>
      dig(c, "name"),
    ),
  );
  rules.forEach((rule, i) => {
    const at = `spec.podFailurePolicy.rules[${i}]`;
    const onExitCodes = dig(rule, "onExitCodes");
    const onPodConditions = dig(rule, "onPodConditions");
    if (onExitCodes && onPodConditions) {
      out.push(
        fieldErrors.invalid(
          at,
          "",
          "specifying both OnExitCodes and OnPodConditions is not supported",
        ),
      );
    } else if (!onExitCodes && !onPodConditions) {
      out.push(
        fieldErrors.invalid(
          at,
          "",
          "specifying one of OnExitCodes and OnPodConditions is required",
        ),
      );
    }
    const action = dig(rule, "action");
    if (action === "FailIndex") out.push(unsupported(`${at}.action`));
    else if (!["Count", "FailJob", "Ignore"].includes(String(action))) {
      out.push(
        fieldErrors.notSupported(`${at}.action`, action, [
          "Count",
          "FailIndex",
          "FailJob",
          "Ignore",
        ]),
      );
    }
    if (!onExitCodes) return;
    const operator = dig(onExitCodes, "operator");
    if (operator !== "In" && operator !== "NotIn") {
      out.push(fieldErrors.notSupported(`${at}.onExitCodes.operator`, operator, ["In", "NotIn"]));
    }
    const values = dig(onExitCodes, "values");
    if (!Array.isArray(values) || values.length === 0) {
      out.push(fieldErrors.required(`${at}.onExitCodes.values`));
    } else if (operator === "In" && values.includes(0)) {
      const j = values.indexOf(0);
      out.push(
        fieldErrors.invalid(
          `${at}.onExitCodes.values[${j}]`,
          0,
          "must not be 0 for the In operator",
        ),
      );
    }
    const container = dig(onExitCodes, "containerName");
    if (typeof container === "string" && !names.has(container)) {
      out.push(
        fieldErrors.invalid(
          `${at}.onExitCodes.containerName`,
          container,
          "must be one of the container or initContainer names in the pod template",
        ),
      );
    }
  });
  return out;
}

/** ValidateJob after defaulting, minus what the schema check already reported. */
export function jobErrors(job: KubeObject): FieldError[] {
  const spec = isRecord(job.spec) ? job.spec : {};
  const out: FieldError[] = [];
  for (const field of [
    "parallelism",
    "completions",
    "activeDeadlineSeconds",
    "backoffLimit",
    "ttlSecondsAfterFinished",
  ]) {
    nonNegative(spec, field, out);
  }
  const templateLabels = dig(spec, "template", "metadata", "labels") as
    Record<string, string> | undefined;
  out.push(...labelsErrors("spec.template.labels", templateLabels));
  out.push(...podSpecErrors(dig(spec, "template", "spec"), "spec.template.spec"));
  const restartPolicy = dig(spec, "template", "spec", "restartPolicy");
  if (restartPolicy !== "OnFailure" && restartPolicy !== "Never") {
    out.push(
      fieldErrors.notSupported("spec.template.spec.restartPolicy", restartPolicy, [
        "OnFailure",
        "Never",
      ]),
    );
  }
  out.push(...podFailurePolicyErrors(spec));
  if (spec.completionMode === "Indexed") out.push(unsupported("spec.completionMode"));
  for (const field of ["successPolicy", "backoffLimitPerIndex", "maxFailedIndexes"]) {
    if (spec[field] !== undefined) out.push(unsupported(`spec.${field}`));
  }
  return out;
}

const IMMUTABLE_SPEC_FIELDS = [
  "completions",
  "selector",
  "template",
  "completionMode",
  "podFailurePolicy",
  "managedBy",
];

/** ValidateJobSpecUpdate: what a PATCH or PUT may not change. */
export function jobUpdateErrors(updated: KubeObject, old: KubeObject): FieldError[] {
  const out: FieldError[] = [];
  for (const field of IMMUTABLE_SPEC_FIELDS) {
    const now = dig(updated, "spec", field);
    if (!deepEqual(now, dig(old, "spec", field)))
      out.push(fieldErrors.immutable(`spec.${field}`, now));
  }
  return out;
}
