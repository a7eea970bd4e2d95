// The only reader of process.env. Every setting is typed, defaulted and validated here, once,
// at start-up; a bad value stops the process with a message naming the variable.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { resolve } from "node:path";

export const APP_NAMES = [
  "naive",
  "polling",
  "webhook",
  "webhook-client",
  "controller",
  "worker",
  "all",
] as const;
export type AppName = (typeof APP_NAMES)[number];

/** The HTTP apps, with the variable that moves each one's port and its default port. */
export const HTTP_APPS = {
  naive: { portVar: "TRAINYARD_NAIVE_PORT", defaultPort: 8003 },
  polling: { portVar: "TRAINYARD_POLLING_PORT", defaultPort: 8004 },
  webhook: { portVar: "TRAINYARD_WEBHOOK_PORT", defaultPort: 8005 },
  "webhook-client": { portVar: "TRAINYARD_WEBHOOK_CLIENT_PORT", defaultPort: 8006 },
} as const;
export type HttpAppName = keyof typeof HTTP_APPS;

export const RUNNER_KINDS = ["local", "kubernetes"] as const;
export type RunnerKind = (typeof RUNNER_KINDS)[number];

export interface WebhookConfig {
  /** Standard Webhooks secrets (whsec_<base64>); every one signs, so receivers can rotate. */
  signingSecrets: string[];
  maxAttempts: number;
  backoff: "fixed" | "exponential";
  /** Fixed delay, or the first delay of the exponential schedule. */
  backoffSeconds: number;
  backoffMaxSeconds: number;
  timeoutSeconds: number;
  /** Refuse loopback and private addresses too (link-local and metadata are always refused). */
  blockPrivate: boolean;
  /** Hosts that stay allowed when blockPrivate is set (cluster-internal receivers). */
  allowedHosts: string[];
  /** How many deliveries one dispatcher sends at once. */
  concurrency: number;
  /** The webhook client: its own public callback URL and the webhook server it asks to train. */
  clientPublicUrl: string;
  serverUrl: string;
  /** The bearer token the webhook client sends to the webhook server (when that has auth on). */
  serverToken: string | undefined;
}

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

export interface RetentionConfig {
  /** Finished tasks, delivery records and received callbacks older than this go; 0 keeps all. */
  days: number;
  /** How often the leading controller runs a retention pass. */
  intervalSeconds: number;
  /** Rows deleted per transaction: short transactions, short locks. */
  batchSize: number;
  /** Pause between two batches, so that a large backlog is deleted without crowding out work. */
  batchPauseMs: number;
}

export interface LogsConfig {
  /** How much of a task's log GET /train/{id}/logs returns when tail_bytes is not given. */
  tailBytes: number;
  /** The most tail_bytes may ask for. */
  maxTailBytes: number;
}

export interface Config {
  /** Unset means: start the embedded Postgres in dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPostgresPort: number;
  host: string;
  ports: Record<HttpAppName, number>;
  /** The controller's health endpoints (/livez, /readyz) when it runs on its own. */
  controllerPort: number;
  logLevel: string;
  runner: RunnerKind;
  /** At most this many tasks admitted or running at once, across every controller. */
  maxRunning: number;
  defaultDurationSeconds: number;
  maxDurationSeconds: number;
  /** A run's time limit (Job activeDeadlineSeconds): the default, and the most a task may ask. */
  defaultTimeoutSeconds: number;
  maxTimeoutSeconds: number;
  /** The most attempts a task may ask for (max_attempts), and its retry backoff by default. */
  maxAttempts: number;
  defaultRetryBackoffSeconds: number;
  naiveWaitSeconds: number;
  retryAfterSeconds: number;
  cancelGraceSeconds: number;
  resyncSeconds: number;
  bodyLimitBytes: number;
  /** Request line plus headers; beyond it the answer is 431. */
  maxHeaderBytes: number;
  /** The whole request (headers and body) must arrive within this; else 408. */
  requestTimeoutSeconds: number;
  /** Bearer tokens with full access, and read-only ones. Both empty: no authentication. */
  apiTokens: string[];
  apiReadTokens: string[];
  /** POST /train per client (token, else address) per minute, per process; 0 is no limit. */
  submitRatePerMinute: number;
  submitBurst: number;
  /** Proxies (addresses or CIDRs) whose X-Forwarded-For names the client; empty: none. */
  trustProxy: string[];
  shutdownGraceSeconds: number;
  dbPoolSize: number;
  /** Where the penguins CSV lives; the worker reads it. */
  datasetPath: string | undefined;
  webhooks: WebhookConfig;
  kubernetes: KubernetesConfig;
  retention: RetentionConfig;
  logs: LogsConfig;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(", ")}, got "${raw}"`);
  }
  return raw as T;
}

function databaseUrl(env: Env): string | undefined {
  const raw = env.DATABASE_URL;
  if (raw === undefined || raw.trim() === "") return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The value may hold a password: never echo it.
    throw new ConfigError("DATABASE_URL", "is not a valid URL");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ConfigError("DATABASE_URL", "must start with postgres:// or postgresql://");
  }
  return raw;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === "") return fallback;
  if (["1", "true", "yes", "on"].includes(raw)) return true;
  if (["0", "false", "no", "off"].includes(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${env[name]}"`);
}

function list(env: Env, name: string): string[] {
  return (env[name] ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

function httpUrl(env: Env, name: string, fallback: string): string {
  const raw = env[name]?.trim() || fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `is not a valid URL: "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(name, "must be an http:// or https:// URL");
  }
  return raw.replace(/\/+$/, "");
}

function json<T>(env: Env, name: string, fallback: T, check: (value: unknown) => boolean): T {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new ConfigError(name, "must be JSON");
  }
  if (!check(value)) throw new ConfigError(name, "has the wrong shape");
  return value as T;
}

function signingSecrets(env: Env): string[] {
  const secrets = list(env, "TRAINYARD_WEBHOOK_SIGNING_SECRETS");
  for (const secret of secrets) {
    const key = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : "";
    // Never echo the value: it is a secret.
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || Buffer.from(key, "base64").length < 16) {
      throw new ConfigError(
        "TRAINYARD_WEBHOOK_SIGNING_SECRETS",
        "each secret must be whsec_ followed by at least 16 bytes of base64",
      );
    }
  }
  return secrets;
}

// RFC 6750's token68 alphabet; 16 characters at least, so that a token cannot be guessed.
const TOKEN = /^[A-Za-z0-9._~+/-]{16,512}=*$/;

function tokens(env: Env, name: string): string[] {
  const values = list(env, name);
  // Never echo a value: it is a secret.
  if (values.some((t) => !TOKEN.test(t))) {
    throw new ConfigError(
      name,
      "each token must be 16 to 512 characters of A-Z a-z 0-9 - . _ ~ + / (then any =)",
    );
  }
  return values;
}

function apiTokens(env: Env): { full: string[]; read: string[] } {
  const full = tokens(env, "TRAINYARD_API_TOKENS");
  const read = tokens(env, "TRAINYARD_API_READ_TOKENS");
  if (read.some((t) => full.includes(t))) {
    throw new ConfigError("TRAINYARD_API_READ_TOKENS", "a token cannot be read-only and full too");
  }
  return { full, read };
}

function serverToken(env: Env): string | undefined {
  const [token, ...more] = tokens(env, "TRAINYARD_WEBHOOK_SERVER_TOKEN");
  if (more.length > 0) throw new ConfigError("TRAINYARD_WEBHOOK_SERVER_TOKEN", "takes one token");
  return token;
}

function proxies(env: Env, name: string): string[] {
  const values = list(env, name);
  for (const value of values) {
    const [address = "", prefix, ...rest] = value.split("/");
    const version = isIP(address);
    const bits = version === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (version === 0 || !prefixOk || rest.length > 0) {
      throw new ConfigError(name, `must be IP addresses or CIDR ranges, got "${value}"`);
    }
  }
  return values;
}

function webhookConfig(env: Env): WebhookConfig {
  const backoffSeconds = int(env, "TRAINYARD_WEBHOOK_BACKOFF_SECONDS", 2, 0, 3600);
  return {
    signingSecrets: signingSecrets(env),
    maxAttempts: int(env, "TRAINYARD_WEBHOOK_MAX_ATTEMPTS", 3, 1, 100),
    backoff: oneOf(env, "TRAINYARD_WEBHOOK_BACKOFF", ["fixed", "exponential"] as const, "fixed"),
    backoffSeconds,
    backoffMaxSeconds: int(
      env,
      "TRAINYARD_WEBHOOK_BACKOFF_MAX_SECONDS",
      Math.max(300, backoffSeconds),
      backoffSeconds,
      86400,
    ),
    timeoutSeconds: int(env, "TRAINYARD_WEBHOOK_TIMEOUT_SECONDS", 10, 1, 600),
    blockPrivate: bool(env, "TRAINYARD_WEBHOOK_BLOCK_PRIVATE", false),
    allowedHosts: list(env, "TRAINYARD_WEBHOOK_ALLOWED_HOSTS").map((h) => h.toLowerCase()),
    concurrency: int(env, "TRAINYARD_WEBHOOK_CONCURRENCY", 16, 1, 1000),
    clientPublicUrl: httpUrl(env, "TRAINYARD_WEBHOOK_CLIENT_PUBLIC_URL", "http://localhost:8006"),
    serverUrl: httpUrl(env, "TRAINYARD_WEBHOOK_SERVER_URL", "http://localhost:8005"),
    serverToken: serverToken(env),
  };
}

function retentionConfig(env: Env): RetentionConfig {
  return {
    days: int(env, "TRAINYARD_RETENTION_DAYS", 30, 0, 36500),
    intervalSeconds: int(env, "TRAINYARD_RETENTION_INTERVAL_SECONDS", 3600, 1, 7 * 86400),
    batchSize: int(env, "TRAINYARD_RETENTION_BATCH_SIZE", 500, 1, 10000),
    batchPauseMs: int(env, "TRAINYARD_RETENTION_BATCH_PAUSE_MS", 100, 0, 60000),
  };
}

const KIB = 1024;
const MIB = 1024 * KIB;

function logsConfig(env: Env): LogsConfig {
  const maxTailBytes = int(env, "TRAINYARD_LOG_MAX_TAIL_BYTES", MIB, KIB, 64 * MIB);
  const tailFallback = Math.min(64 * KIB, maxTailBytes);
  return {
    tailBytes: int(env, "TRAINYARD_LOG_TAIL_BYTES", tailFallback, 0, maxTailBytes),
    maxTailBytes,
  };
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

function kubernetesConfig(env: Env): KubernetesConfig {
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

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export function loadConfig(env: Env = process.env): Config {
  const ports = {} as Record<HttpAppName, number>;
  for (const [app, { portVar, defaultPort }] of Object.entries(HTTP_APPS)) {
    ports[app as HttpAppName] = int(env, portVar, defaultPort, 0, 65535);
  }
  const maxDurationSeconds = int(env, "TRAINYARD_MAX_DURATION_SECONDS", 3600, 0, 86400);
  const defaultDurationSeconds = int(
    env,
    "TRAINYARD_DEFAULT_DURATION_SECONDS",
    Math.min(5, maxDurationSeconds),
    0,
    maxDurationSeconds,
  );
  const maxTimeoutSeconds = int(env, "TRAINYARD_MAX_TIMEOUT_SECONDS", 86400, 1, 604800);
  const { full, read } = apiTokens(env);
  return {
    databaseUrl: databaseUrl(env),
    dataDir: resolve(env.TRAINYARD_DATA_DIR?.trim() || ".trainyard"),
    embeddedPostgresPort: int(env, "TRAINYARD_EMBEDDED_PG_PORT", 54329, 1, 65535),
    host: env.TRAINYARD_HOST?.trim() || "0.0.0.0",
    ports,
    controllerPort: int(env, "TRAINYARD_CONTROLLER_PORT", 8007, 0, 65535),
    logLevel: oneOf(env, "LOG_LEVEL", LOG_LEVELS, "info"),
    // Inside a cluster (the service-account variables are set) Jobs are the natural runner.
    runner: oneOf(
      env,
      "TRAINYARD_RUNNER",
      RUNNER_KINDS,
      env.KUBERNETES_SERVICE_HOST ? "kubernetes" : "local",
    ),
    maxRunning: int(env, "TRAINYARD_MAX_RUNNING", 4, 1, 1000),
    defaultDurationSeconds,
    maxDurationSeconds,
    defaultTimeoutSeconds: int(
      env,
      "TRAINYARD_DEFAULT_TIMEOUT_SECONDS",
      Math.min(7200, maxTimeoutSeconds),
      1,
      maxTimeoutSeconds,
    ),
    maxTimeoutSeconds,
    maxAttempts: int(env, "TRAINYARD_MAX_ATTEMPTS", 10, 1, 100),
    defaultRetryBackoffSeconds: int(env, "TRAINYARD_RETRY_BACKOFF_SECONDS", 10, 0, 3600),
    naiveWaitSeconds: int(env, "TRAINYARD_NAIVE_WAIT_SECONDS", 60, 1, 3600),
    retryAfterSeconds: int(env, "TRAINYARD_RETRY_AFTER_SECONDS", 2, 1, 3600),
    cancelGraceSeconds: int(env, "TRAINYARD_CANCEL_GRACE_SECONDS", 5, 0, 600),
    resyncSeconds: int(env, "TRAINYARD_RESYNC_SECONDS", 30, 1, 86400),
    bodyLimitBytes: int(env, "TRAINYARD_BODY_LIMIT_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024),
    maxHeaderBytes: int(env, "TRAINYARD_MAX_HEADER_BYTES", 16 * 1024, 1024, 1024 * 1024),
    requestTimeoutSeconds: int(env, "TRAINYARD_REQUEST_TIMEOUT_SECONDS", 30, 1, 3600),
    apiTokens: full,
    apiReadTokens: read,
    submitRatePerMinute: int(env, "TRAINYARD_SUBMIT_RATE_PER_MINUTE", 60, 0, 1_000_000),
    submitBurst: int(env, "TRAINYARD_SUBMIT_BURST", 30, 1, 1_000_000),
    trustProxy: proxies(env, "TRAINYARD_TRUST_PROXY"),
    shutdownGraceSeconds: int(env, "TRAINYARD_SHUTDOWN_GRACE_SECONDS", 10, 0, 600),
    dbPoolSize: int(env, "TRAINYARD_DB_POOL_SIZE", 10, 1, 100),
    datasetPath: env.TRAINYARD_DATASET_PATH?.trim() || undefined,
    webhooks: webhookConfig(env),
    kubernetes: kubernetesConfig(env),
    retention: retentionConfig(env),
    logs: logsConfig(env),
  };
}

/** The environment a local worker process gets: only what it needs, named as loadConfig reads it. */
export function workerEnvironment(config: Config, databaseUrl: string): Record<string, string> {
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: config.logLevel,
    TRAINYARD_DATA_DIR: config.dataDir,
    NODE_ENV: process.env.NODE_ENV ?? "production",
  };
  if (config.datasetPath) env.TRAINYARD_DATASET_PATH = config.datasetPath;
  if (process.env.PATH) env.PATH = process.env.PATH;
  return env;
}
