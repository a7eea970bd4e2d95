// A container's environment and argv as the kubelet builds them: env in order with $(VAR)
// references to earlier entries expanded, values from Secrets and from the pod's own fields,
// envFrom Secrets, then command/args over the image's entrypoint/cmd. Nothing of the test
// process's own environment leaks in except PATH (so `node`, `sh` resolve).
import type { Container, EnvVar, Pod } from "kubernetes-types/core/v1.js";
import type { KubeObject } from "./objects.js";

export interface ImageConfig {
  /** The directory the container's process runs in (the image's WORKDIR, mapped locally). */
  workingDir: string;
  /** The image's ENTRYPOINT, used when the container has no command. */
  entrypoint?: string[];
  /** The image's CMD, used when the container has neither command nor args. */
  cmd?: string[];
  /** The image's ENV: below the container's env, above PATH. */
  env?: Record<string, string>;
}

/** Why a container cannot be created yet: the kubelet's waiting reason and message. */
export class ContainerConfigError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export type SecretLookup = (namespace: string, name: string) => KubeObject | undefined;

/** $(VAR) expands from `env`; $$(VAR) escapes to a literal $(VAR); unknown refs stay as is. */
export function expand(text: string, env: Record<string, string>): string {
  return text.replace(
    /\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)/g,
    (match, name: string | undefined) => {
      if (match === "$$") return "$";
      return name !== undefined && name in env ? (env[name] ?? "") : match;
    },
  );
}

function secretValue(
  lookup: SecretLookup,
  namespace: string,
  ref: { name?: string; key: string; optional?: boolean },
): string | undefined {
  const secret = lookup(namespace, ref.name ?? "");
  if (!secret) {
    if (ref.optional) return undefined;
    throw new ContainerConfigError(
      "CreateContainerConfigError",
      `secret "${ref.name ?? ""}" not found`,
    );
  }
  const data = (secret.data ?? {}) as Record<string, string>;
  const encoded = data[ref.key];
  if (encoded === undefined) {
    if (ref.optional) return undefined;
    throw new ContainerConfigError(
      "CreateContainerConfigError",
      `couldn't find key ${ref.key} in Secret ${namespace}/${ref.name ?? ""}`,
    );
  }
  return Buffer.from(encoded, "base64").toString("utf8");
}

/** fieldRef paths the downward API supports for env. */
function fieldValue(pod: Pod, fieldPath: string): string {
  const simple: Record<string, string | undefined> = {
    "metadata.name": pod.metadata?.name,
    "metadata.namespace": pod.metadata?.namespace,
    "metadata.uid": pod.metadata?.uid,
    "spec.nodeName": pod.spec?.nodeName,
    "spec.serviceAccountName": pod.spec?.serviceAccountName,
    "status.podIP": pod.status?.podIP,
    "status.hostIP": pod.status?.hostIP,
  };
  if (fieldPath in simple) return simple[fieldPath] ?? "";
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (m) {
    const map = m[1] === "labels" ? pod.metadata?.labels : pod.metadata?.annotations;
    return map?.[m[2] ?? ""] ?? "";
  }
  throw new ContainerConfigError(
    "CreateContainerConfigError",
    `unsupported fieldPath: ${fieldPath}`,
  );
}

function envValue(
  e: EnvVar,
  pod: Pod,
  lookup: SecretLookup,
  env: Record<string, string>,
): string | undefined {
  if (e.valueFrom?.secretKeyRef)
    return secretValue(lookup, pod.metadata?.namespace ?? "", e.valueFrom.secretKeyRef);
  if (e.valueFrom?.fieldRef) return fieldValue(pod, e.valueFrom.fieldRef.fieldPath);
  if (e.valueFrom) {
    throw new ContainerConfigError(
      "CreateContainerConfigError",
      `env ${e.name}: only secretKeyRef and fieldRef are supported by the stand-in`,
    );
  }
  return expand(e.value ?? "", env);
}

export function containerEnv(
  container: Container,
  pod: Pod,
  image: ImageConfig,
  lookup: SecretLookup,
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOSTNAME: pod.metadata?.name ?? "",
    ...image.env,
  };
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      throw new ContainerConfigError(
        "CreateContainerConfigError",
        "envFrom configMapRef is not supported by the stand-in",
      );
    }
    const ref = source.secretRef;
    if (!ref) continue;
    const secret = lookup(pod.metadata?.namespace ?? "", ref.name ?? "");
    if (!secret) {
      if (ref.optional) continue;
      throw new ContainerConfigError(
        "CreateContainerConfigError",
        `secret "${ref.name ?? ""}" not found`,
      );
    }
    for (const [k, v] of Object.entries((secret.data ?? {}) as Record<string, string>)) {
      env[(source.prefix ?? "") + k] = Buffer.from(v, "base64").toString("utf8");
    }
  }
  for (const e of container.env ?? []) {
    const value = envValue(e, pod, lookup, env);
    if (value !== undefined) env[e.name] = value;
  }
  return env;
}

/** command/args over the image's ENTRYPOINT/CMD, as the container runtime combines them. */
export function containerArgv(
  container: Container,
  image: ImageConfig,
  env: Record<string, string>,
): string[] {
  const command = container.command ?? image.entrypoint ?? [];
  const args = container.args ?? (container.command ? [] : (image.cmd ?? []));
  return [...command, ...args].map((part) => expand(part, env));
}

/** The image key a container names, with docker.io/library/ and :latest spelled out or not. */
export function findImage(
  images: Record<string, ImageConfig>,
  image: string,
): ImageConfig | undefined {
  const bare = image.replace(/^docker\.io\/(library\/)?/, "");
  const candidates = [image, bare, bare.includes(":") ? bare : `${bare}:latest`];
  for (const c of candidates) if (images[c]) return images[c];
  return undefined;
}
