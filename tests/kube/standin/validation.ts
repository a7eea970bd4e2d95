// What the API server refuses, and how: the official OpenAPI schema (kubernetes-models) for
// shapes and types, plus the hand-written rules of pkg/apis/*/validation that the schema
// cannot say (names, label syntax, restart policies, immutability). Type errors are decode
// errors on the real server (400 BadRequest); everything else is a field error (422 Invalid).
import { Job } from "kubernetes-models/batch/v1";
import { Pod, Secret } from "kubernetes-models/v1";
import { badRequest, fieldErrors, type FieldError } from "./status.js";
import { dig, type KubeObject } from "./objects.js";

interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

const MODELS = {
  Job: (o: KubeObject) => new Job(o).validate(),
  Pod: (o: KubeObject) => new Pod(o).validate(),
  Secret: (o: KubeObject) => new Secret(o).validate(),
} as const;

export type ModelKind = keyof typeof MODELS;

/** "/spec/template/spec/containers/0/env" -> "spec.template.spec.containers[0].env" */
export function fieldPath(instancePath: string, child?: string): string {
  const parts = instancePath.split("/").filter((p) => p !== "");
  if (child !== undefined) parts.push(child);
  let out = "";
  for (const part of parts) {
    const token = part.replace(/~1/g, "/").replace(/~0/g, "~");
    out += /^\d+$/.test(token) ? `[${token}]` : out ? `.${token}` : token;
  }
  return out;
}

function valueAt(obj: KubeObject, instancePath: string): unknown {
  const steps = instancePath
    .split("/")
    .filter((p) => p !== "")
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  return dig(obj, ...steps);
}

function goType(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  return typeof value === "object" ? "object" : typeof value;
}

/**
 * Checks `obj` against the official schema of `kind`. Throws 400 for what would fail to
 * decode; returns the field errors the API server reports as 422.
 */
export function schemaErrors(kind: ModelKind, version: string, obj: KubeObject): FieldError[] {
  try {
    MODELS[kind](obj);
    return [];
  } catch (err) {
    const errors = (err as { errors?: SchemaError[] }).errors;
    if (!Array.isArray(errors)) throw err;
    const out: FieldError[] = [];
    for (const e of errors) {
      const value = valueAt(obj, e.instancePath);
      const field = fieldPath(e.instancePath);
      const cannot = `${kind} in version "${version}" cannot be handled as a ${kind}`;
      if (e.keyword === "type") {
        throw badRequest(
          `${cannot}: json: cannot unmarshal ${goType(value)} into Go struct field .${field} ` +
            `of type ${String(e.params.type)}`,
        );
      }
      if (e.keyword === "format" && e.params.format === "byte") {
        throw badRequest(`${cannot}: illegal base64 data at input byte 0`);
      }
      if (e.keyword === "required") {
        out.push(fieldErrors.required(fieldPath(e.instancePath, String(e.params.missingProperty))));
      } else if (e.keyword === "enum") {
        const allowed = (e.params.allowedValues as unknown[]).map(String);
        out.push(fieldErrors.notSupported(field, value, allowed));
      } else {
        out.push(fieldErrors.invalid(field, value, e.message ?? e.keyword));
      }
    }
    return out;
  }
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', " +
  "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for " +
  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and " +
  "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex " +
  "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or " +
  "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value', " +
  " or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_NAME_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end " +
  "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for " +
  "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

export function subdomainErrors(field: string, value: string): FieldError[] {
  const out: FieldError[] = [];
  if (value.length > 253)
    out.push(fieldErrors.invalid(field, value, "must be no more than 253 characters"));
  if (!DNS1123_SUBDOMAIN.test(value)) out.push(fieldErrors.invalid(field, value, SUBDOMAIN_MSG));
  return out;
}

export function dnsLabelErrors(field: string, value: string): FieldError[] {
  const out: FieldError[] = [];
  if (value.length > 63)
    out.push(fieldErrors.invalid(field, value, "must be no more than 63 characters"));
  if (!DNS1123_LABEL.test(value)) out.push(fieldErrors.invalid(field, value, LABEL_MSG));
  return out;
}

export function labelValueErrors(field: string, value: string): FieldError[] {
  const out: FieldError[] = [];
  if (value.length > 63)
    out.push(fieldErrors.invalid(field, value, "must be no more than 63 bytes"));
  if (!LABEL_VALUE.test(value)) out.push(fieldErrors.invalid(field, value, LABEL_VALUE_MSG));
  return out;
}

function qualifiedNameErrors(field: string, key: string): FieldError[] {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : "";
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const out: FieldError[] = [];
  if (slash >= 0 && (!DNS1123_SUBDOMAIN.test(prefix) || prefix.length > 253)) {
    out.push(fieldErrors.invalid(field, key, `prefix part ${SUBDOMAIN_MSG}`));
  }
  if (name.length > 63)
    out.push(fieldErrors.invalid(field, key, "name part must be no more than 63 bytes"));
  if (!QUALIFIED_NAME.test(name)) out.push(fieldErrors.invalid(field, key, QUALIFIED_NAME_MSG));
  return out;
}

export function labelsErrors(
  field: string,
  labels: Record<string, string> | undefined,
): FieldError[] {
  const out: FieldError[] = [];
  for (const [key, value] of Object.entries(labels ?? {})) {
    out.push(...qualifiedNameErrors(field, key), ...labelValueErrors(field, value));
  }
  return out;
}

export function annotationsErrors(
  field: string,
  annotations: Record<string, string> | undefined,
): FieldError[] {
  return Object.keys(annotations ?? {}).flatMap((key) => qualifiedNameErrors(field, key));
}

/** ValidateObjectMeta for a namespaced object whose name must be a DNS-1123 subdomain. */
export function metadataErrors(obj: KubeObject): FieldError[] {
  const meta = obj.metadata;
  const out: FieldError[] = [];
  if (!meta.name)
    out.push(fieldErrors.required("metadata.name", "name or generateName is required"));
  else out.push(...subdomainErrors("metadata.name", meta.name));
  out.push(...labelsErrors("metadata.labels", meta.labels));
  out.push(...annotationsErrors("metadata.annotations", meta.annotations));
  return out;
}

/** The container rules the schema cannot express (ValidatePodSpec, the parts we rely on). */
export function containersErrors(spec: unknown, path: string): FieldError[] {
  const out: FieldError[] = [];
  const containers = dig(spec, "containers");
  if (!Array.isArray(containers) || containers.length === 0) {
    // The schema already reported a missing list; an empty one is the same error.
    if (Array.isArray(containers)) out.push(fieldErrors.required(`${path}.containers`));
    return out;
  }
  const seen = new Set<string>();
  containers.forEach((c, i) => {
    const at = `${path}.containers[${i}]`;
    const name = dig(c, "name");
    if (typeof name === "string") {
      if (seen.has(name)) out.push(fieldErrors.duplicate(`${at}.name`, name));
      seen.add(name);
      out.push(...dnsLabelErrors(`${at}.name`, name));
    }
    if (!dig(c, "image")) out.push(fieldErrors.required(`${at}.image`));
    const env = dig(c, "env");
    if (Array.isArray(env)) {
      env.forEach((e, j) => {
        const envName = dig(e, "name");
        if (typeof envName === "string" && !ENV_VAR_NAME.test(envName)) {
          out.push(
            fieldErrors.invalid(
              `${at}.env[${j}].name`,
              envName,
              "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit",
            ),
          );
        }
        const from = dig(e, "valueFrom");
        if (from !== undefined && dig(e, "value")) {
          out.push(
            fieldErrors.invalid(
              `${at}.env[${j}].valueFrom`,
              "",
              "may not be specified when `value` is not empty",
            ),
          );
        }
      });
    }
  });
  return out;
}

export function secretDataErrors(obj: KubeObject): FieldError[] {
  const out: FieldError[] = [];
  let total = 0;
  for (const [key, value] of Object.entries((obj.data as Record<string, string>) ?? {})) {
    if (!CONFIG_KEY.test(key)) {
      out.push(
        fieldErrors.invalid(
          `data[${key}]`,
          key,
          "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        ),
      );
    }
    total += Buffer.from(value, "base64").length;
  }
  if (total > 1024 * 1024)
    out.push({
      type: "FieldValueTooLong",
      field: "data",
      body: "Too long: must have at most 1048576 bytes",
    });
  return out;
}
