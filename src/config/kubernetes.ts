// The Kubernetes runner: where and how the controller creates the training Jobs, and which
// credentials it uses to talk to the API server.
import { readFileSync } from "node:fs";
import { ConfigError, int, json, list, oneOf, type Env } from "./env.js";

export interface KubernetesConfig {
  /** Namespace of the Jobs; the pod's own namespace when running in a cluster. */
  namespace: string;
  /** app.kubernetes.io/instance of our Jobs: two releases in one namespace never touch each other's. */
  instance: string;
  /** A kubeconfig file; unset means the in-cluster service account (or ~/.kube/config outside). */
  kubeconfig: string | undefined;
  /** Running in a pod (KUBERNETES_SERVICE_HOST is set): use the service account. */
  inCluster: boolean;
  jobPrefix: string;
  image: string | undefined;
  imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  /** The Secret holding the database URL the worker reads; never inlined in the Job. */
  databaseSecretName: string;
  databaseSecretKey: string;
  serviceAccountName: string | undefined;
  ttlSecondsAfterFinished: number;
  backoffLimit: number;
  cpuRequest: string;
  cpuLimit: string;
  memoryRequest: string;
  memoryLimit: string;
  nodeSelector: Record<string, string>;
  tolerations: unknown[];
  priorityClassName: string | undefined;
  imagePullSecrets: string[];
  /** Kueue LocalQueue: set means Jobs are created suspended with the queue-name label. */
  kueueQueueName: string | undefined;
}

const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

function inClusterNamespace(): string | undefined {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/;

function quantity(env: Env, name: string, fallback: string): string {
  const raw = env[name]?.trim() || fallback;
  if (!QUANTITY.test(raw)) throw new ConfigError(name, `is not a Kubernetes quantity: "${raw}"`);
  return raw;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function label(env: Env, name: string, fallback: string): string {
  const raw = env[name]?.trim() || fallback;
  if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(raw)) {
    throw new ConfigError(name, `must be a valid label value, got "${raw}"`);
  }
  return raw;
}

export function kubernetesConfig(env: Env): KubernetesConfig {
  const jobPrefix = env.TRAINYARD_JOB_PREFIX?.trim() || "trainyard-train";
  // The Job name is <prefix>-<uuid>: 36 characters of uuid, 63 in all.
  if (!DNS_LABEL.test(jobPrefix) || jobPrefix.length > 26) {
    throw new ConfigError("TRAINYARD_JOB_PREFIX", "must be a DNS label of at most 26 characters");
  }
  return {
    namespace: env.TRAINYARD_K8S_NAMESPACE?.trim() || inClusterNamespace() || "default",
    instance: label(env, "TRAINYARD_INSTANCE", "trainyard"),
    kubeconfig: env.KUBECONFIG?.trim() || undefined,
    inCluster: Boolean(env.KUBERNETES_SERVICE_HOST),
    jobPrefix,
    image: env.TRAINYARD_WORKER_IMAGE?.trim() || undefined,
    imagePullPolicy: oneOf(
      env,
      "TRAINYARD_WORKER_IMAGE_PULL_POLICY",
      ["Always", "IfNotPresent", "Never"] as const,
      "IfNotPresent",
    ),
    databaseSecretName: env.TRAINYARD_WORKER_DATABASE_SECRET?.trim() || "trainyard-database",
    databaseSecretKey: env.TRAINYARD_WORKER_DATABASE_SECRET_KEY?.trim() || "database-url",
    serviceAccountName: env.TRAINYARD_WORKER_SERVICE_ACCOUNT?.trim() || undefined,
    ttlSecondsAfterFinished: int(env, "TRAINYARD_JOB_TTL_SECONDS", 600, 0, 604800),
    backoffLimit: int(env, "TRAINYARD_JOB_BACKOFF_LIMIT", 0, 0, 10),
    cpuRequest: quantity(env, "TRAINYARD_WORKER_CPU_REQUEST", "100m"),
    cpuLimit: quantity(env, "TRAINYARD_WORKER_CPU_LIMIT", "1"),
    memoryRequest: quantity(env, "TRAINYARD_WORKER_MEMORY_REQUEST", "128Mi"),
    memoryLimit: quantity(env, "TRAINYARD_WORKER_MEMORY_LIMIT", "512Mi"),
    nodeSelector: json(env, "TRAINYARD_WORKER_NODE_SELECTOR", {}, (v) => {
      return typeof v === "object" && v !== null && !Array.isArray(v)
        ? Object.values(v).every((x) => typeof x === "string")
        : false;
    }),
    tolerations: json(env, "TRAINYARD_WORKER_TOLERATIONS", [], Array.isArray),
    priorityClassName: env.TRAINYARD_WORKER_PRIORITY_CLASS?.trim() || undefined,
    imagePullSecrets: list(env, "TRAINYARD_WORKER_IMAGE_PULL_SECRETS"),
    kueueQueueName: env.TRAINYARD_KUEUE_QUEUE_NAME?.trim() || undefined,
  };
}
