// Shared by the deploy tests: run the real helm and kubectl (fetched into .tools/bin by
// scripts/k8s-tools.mjs, the pretest hook), parse what they render, and check every object
// against the Kubernetes schemas. No cluster is involved: KUBECONFIG points nowhere.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Container, EnvVar, PodSpec } from "kubernetes-types/core/v1.js";
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";
import { parseAllDocuments } from "yaml";
import { StatefulSet, Deployment } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ClusterRole, Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { validate as validateDeployment } from "kubernetes-models/_schemas/IoK8sApiAppsV1Deployment";
import { validate as validateStatefulSet } from "kubernetes-models/_schemas/IoK8sApiAppsV1StatefulSet";
import { validate as validateJob } from "kubernetes-models/_schemas/IoK8sApiBatchV1Job";
import { validate as validateConfigMap } from "kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap";
import { validate as validateNamespace } from "kubernetes-models/_schemas/IoK8sApiCoreV1Namespace";
import { validate as validateSecret } from "kubernetes-models/_schemas/IoK8sApiCoreV1Secret";
import { validate as validateService } from "kubernetes-models/_schemas/IoK8sApiCoreV1Service";
import { validate as validateServiceAccount } from "kubernetes-models/_schemas/IoK8sApiCoreV1ServiceAccount";
import { validate as validateNetworkPolicy } from "kubernetes-models/_schemas/IoK8sApiNetworkingV1NetworkPolicy";
import { validate as validatePdb } from "kubernetes-models/_schemas/IoK8sApiPolicyV1PodDisruptionBudget";
import { validate as validateClusterRole } from "kubernetes-models/_schemas/IoK8sApiRbacV1ClusterRole";
import { validate as validateRole } from "kubernetes-models/_schemas/IoK8sApiRbacV1Role";
import { validate as validateRoleBinding } from "kubernetes-models/_schemas/IoK8sApiRbacV1RoleBinding";

/** The repository root (this file runs as dist/tests/deploy/helpers.js). */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const CHART = join(ROOT, "charts", "trainyard");
export const HELM = join(ROOT, ".tools", "bin", "helm");
export const KUBECTL = join(ROOT, ".tools", "bin", "kubectl");
/** The release name the docs, skaffold and k8s/ use. */
export const RELEASE = "trainyard";

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta & { name: string };
  [field: string]: unknown;
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Fails (never skips) when the binaries are missing: the deploy checks must not pass unseen. */
export function requireTools(): void {
  for (const tool of [HELM, KUBECTL]) {
    if (!existsSync(tool)) {
      throw new Error(`${tool} is missing: run \`npm run tools:k8s\` (npm test does it first)`);
    }
  }
}

// helm keeps caches and repositories under these; a throwaway home keeps the user's untouched.
const toolHome = mkdtempSync(join(tmpdir(), "trainyard-deploy-test-"));
const TOOL_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: toolHome,
  HELM_CACHE_HOME: join(toolHome, "cache"),
  HELM_CONFIG_HOME: join(toolHome, "config"),
  HELM_DATA_HOME: join(toolHome, "data"),
  // No cluster, ever: nothing here may reach one, even if the user has a kubeconfig.
  KUBECONFIG: join(toolHome, "no-kubeconfig"),
};

export function run(command: string, args: string[]): Promise<Result> {
  requireTools();
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env: TOOL_ENV, cwd: ROOT, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        // A non-numeric code means the command could not run at all (e.g. ENOENT).
        if (error !== null && typeof error.code !== "number") {
          reject(new Error(`${command} did not run: ${error.message}`));
          return;
        }
        resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
      },
    );
  });
}

export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]?.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    objects.push(value as K8sObject);
  }
  return objects;
}

/** `--set` arguments from a list of `key=value` pairs (`--set-json` for JSON values). */
export function setArgs(values: readonly string[]): string[] {
  return values.flatMap((v) => (v.startsWith("json:") ? ["--set-json", v.slice(5)] : ["--set", v]));
}

export interface TemplateOptions {
  release?: string;
  namespace?: string;
}

export async function helmTemplate(
  values: readonly string[] = [],
  opts: TemplateOptions = {},
): Promise<K8sObject[]> {
  const result = await run(HELM, [
    "template",
    opts.release ?? RELEASE,
    CHART,
    "--namespace",
    opts.namespace ?? "trainyard",
    ...setArgs(values),
  ]);
  if (result.code !== 0) throw new Error(`helm template failed:\n${result.stderr}`);
  return parseManifests(result.stdout);
}

export async function kustomize(path: string): Promise<K8sObject[]> {
  const result = await run(KUBECTL, ["kustomize", join(ROOT, path)]);
  if (result.code !== 0) throw new Error(`kubectl kustomize ${path} failed:\n${result.stderr}`);
  return parseManifests(result.stdout);
}

// ---------------------------------------------------------------------------------------------
// Schema validation.

type SchemaValidate = ((data: unknown) => boolean) & { errors?: unknown[] | null };
type ModelClass = new (data: never) => { validate(): void };

/**
 * The schema check of a model whose package does not export its schemas (the CRD packages):
 * its validate() runs the schema on `this`, so calling it on any object reads the same fields.
 */
function modelSchema(model: ModelClass): SchemaValidate {
  const validate = model.prototype as { validate(this: unknown): void };
  const check: SchemaValidate = (data: unknown) => {
    try {
      validate.validate.call(data);
      check.errors = null;
      return true;
    } catch (err) {
      check.errors = [err instanceof Error ? err.message : String(err)];
      return false;
    }
  };
  return check;
}

/** Every kind the chart and k8s/ may render, by apiVersion/kind; anything else is an error. */
const MODELS: Record<string, { model: ModelClass; validate: SchemaValidate }> = {
  "apps/v1/Deployment": { model: Deployment, validate: validateDeployment },
  "apps/v1/StatefulSet": { model: StatefulSet, validate: validateStatefulSet },
  // Not in the chart: the Jobs the controller builds (job-contract.test.ts).
  "batch/v1/Job": { model: Job, validate: validateJob },
  "v1/ConfigMap": { model: ConfigMap, validate: validateConfigMap },
  "v1/Namespace": { model: Namespace, validate: validateNamespace },
  "v1/Secret": { model: Secret, validate: validateSecret },
  "v1/Service": { model: Service, validate: validateService },
  "v1/ServiceAccount": { model: ServiceAccount, validate: validateServiceAccount },
  "networking.k8s.io/v1/NetworkPolicy": { model: NetworkPolicy, validate: validateNetworkPolicy },
  "policy/v1/PodDisruptionBudget": { model: PodDisruptionBudget, validate: validatePdb },
  "rbac.authorization.k8s.io/v1/ClusterRole": { model: ClusterRole, validate: validateClusterRole },
  "rbac.authorization.k8s.io/v1/Role": { model: Role, validate: validateRole },
  "rbac.authorization.k8s.io/v1/RoleBinding": { model: RoleBinding, validate: validateRoleBinding },
  // The Prometheus Operator's CRD (serviceMonitor.enabled), from its published schema.
  "monitoring.coreos.com/v1/ServiceMonitor": {
    model: ServiceMonitor,
    validate: modelSchema(ServiceMonitor),
  },
};

/**
 * Field names the schema does not know. The generated validators read each property the schema
 * defines (and iterate maps), but never look at others: wrap the object in proxies that record
 * what was read, and whatever was never read is unknown to Kubernetes (a typo like
 * readOnlyRootFileSystem, which the API server would drop silently or reject).
 */
function unknownFields(validate: SchemaValidate, object: unknown): string[] {
  const seen: { path: string; target: object; read: Set<string> }[] = [];
  const wrap = (value: unknown, path: string): unknown => {
    if (value === null || typeof value !== "object") return value;
    const read = new Set<string>();
    seen.push({ path, target: value, read });
    const children = new Map<string, unknown>();
    return new Proxy(value, {
      get(target, key, receiver) {
        const child: unknown = Reflect.get(target, key, receiver);
        if (typeof key !== "string") return child;
        read.add(key);
        if (child === null || typeof child !== "object") return child;
        if (!children.has(key)) children.set(key, wrap(child, `${path}/${key}`));
        return children.get(key);
      },
    });
  };
  validate(wrap(object, ""));
  const unknown: string[] = [];
  for (const { path, target, read } of seen) {
    if (Array.isArray(target)) continue;
    for (const key of Object.keys(target)) if (!read.has(key)) unknown.push(`${path}/${key}`);
  }
  return unknown;
}

/** Problems of one object: unknown kind, schema errors, unknown fields. Empty when valid. */
export function schemaProblems(object: K8sObject): string[] {
  const key = `${object.apiVersion}/${object.kind}`;
  const entry = MODELS[key];
  const where = `${key} ${object.metadata?.name ?? "(no name)"}`;
  if (!entry) return [`${where}: no schema for this kind`];
  const problems: string[] = [];
  try {
    new entry.model(object as never).validate();
  } catch (err) {
    problems.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!entry.validate(object)) {
    problems.push(`${where}: ${JSON.stringify(entry.validate.errors)}`);
  }
  for (const field of unknownFields(entry.validate, object)) {
    problems.push(`${where}: unknown field ${field}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Looking things up in a render.

export function find(objects: K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

export function get(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = find(objects, kind, name);
  if (!found) {
    const have = objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ");
    throw new Error(`no ${kind}/${name} in the render; it has: ${have}`);
  }
  return found;
}

export function ofKind(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

export interface Workload {
  object: K8sObject;
  pod: PodSpec;
}

/** Every pod template of the render (Deployments, StatefulSets). */
export function workloads(objects: K8sObject[]): Workload[] {
  return objects
    .filter((o) => ["Deployment", "StatefulSet", "DaemonSet", "Job"].includes(o.kind))
    .map((object) => {
      const spec = object.spec as { template?: { spec?: PodSpec } } | undefined;
      const pod = spec?.template?.spec;
      if (!pod) throw new Error(`${object.kind}/${object.metadata.name} has no pod template`);
      return { object, pod };
    });
}

export function workload(objects: K8sObject[], kind: string, name: string): Workload {
  const object = get(objects, kind, name);
  const pod = (object.spec as { template: { spec: PodSpec } }).template.spec;
  return { object, pod };
}

export function onlyContainer(pod: PodSpec): Container {
  if (pod.containers.length !== 1) throw new Error("expected exactly one container");
  return pod.containers[0] as Container;
}

/** The image the chart builds is the trainyard one; Postgres's containers are another program. */
export function isTrainyard(container: Container): boolean {
  return /(^|\/)trainyard[:@]/.test(container.image ?? "");
}

/** A Secret's value, from data (base64) or stringData (plain, as the API server merges it). */
export function decodeSecret(secret: K8sObject, key: string): string {
  const plain = (secret.stringData as Record<string, string> | undefined)?.[key];
  if (plain !== undefined) return plain;
  const value = (secret.data as Record<string, string> | undefined)?.[key];
  if (value === undefined) throw new Error(`Secret ${secret.metadata.name} has no key ${key}`);
  return Buffer.from(value, "base64").toString("utf8");
}

export interface EnvOptions {
  /** The pod's namespace, for fieldRef metadata.namespace. */
  namespace: string;
  /** Values of secrets the render does not contain (existingSecret). */
  placeholders?: Record<string, string>;
}

/**
 * The environment a container would get: its ConfigMap envFrom (from the render) overlaid by
 * its env list, with Secret references resolved from rendered Secrets (or the placeholders) and
 * the downward API's namespace. Throws on a reference that would leave the pod unstartable.
 */
export function containerEnv(
  container: Container,
  objects: K8sObject[],
  opts: EnvOptions,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    if (!name) throw new Error(`unsupported envFrom in ${container.name}`);
    const configMap = get(objects, "ConfigMap", name);
    Object.assign(env, configMap.data as Record<string, string>);
  }
  for (const variable of container.env ?? [])
    env[variable.name] = envValue(variable, objects, opts);
  return env;
}

function envValue(variable: EnvVar, objects: K8sObject[], opts: EnvOptions): string {
  if (variable.value !== undefined) return variable.value;
  const from = variable.valueFrom;
  if (from?.secretKeyRef) {
    const { name, key } = from.secretKeyRef;
    const secret = find(objects, "Secret", name ?? "");
    if (secret) return decodeSecret(secret, key);
    const placeholder = opts.placeholders?.[`${name}/${key}`];
    if (placeholder === undefined) throw new Error(`${variable.name}: no Secret ${name}/${key}`);
    return placeholder;
  }
  if (from?.configMapKeyRef) {
    const data = get(objects, "ConfigMap", from.configMapKeyRef.name ?? "").data;
    return (data as Record<string, string>)[from.configMapKeyRef.key] ?? "";
  }
  if (from?.fieldRef?.fieldPath === "metadata.namespace") return opts.namespace;
  throw new Error(`${variable.name}: unsupported valueFrom ${JSON.stringify(from)}`);
}

/** All names a container's environment may define, ConfigMap keys included. */
export function envNames(container: Container, objects: K8sObject[]): string[] {
  const names = new Set<string>();
  for (const source of container.envFrom ?? []) {
    const data = get(objects, "ConfigMap", source.configMapRef?.name ?? "").data;
    for (const key of Object.keys(data as object)) names.add(key);
  }
  for (const variable of container.env ?? []) names.add(variable.name);
  return [...names].sort();
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  return pkg.version;
}
