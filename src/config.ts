// The only reader of process.env. Every setting is typed, defaulted and validated here, once,
// at start-up; a bad value stops the process with a message naming the variable. The sections'
// parsers live in config/ (one file a section); this module assembles them, and is the one that
// every other module imports.
import { resolve } from "node:path";
import { apiTokens, proxies } from "./config/access.js";
import { ConfigError, int, oneOf, type Env } from "./config/env.js";
import { kubernetesConfig, type KubernetesConfig } from "./config/kubernetes.js";
import { logsConfig, type LogsConfig } from "./config/logs.js";
import { retentionConfig, type RetentionConfig } from "./config/retention.js";
import { webhookConfig, type WebhookConfig } from "./config/webhooks.js";

export { ConfigError };
export type { KubernetesConfig, LogsConfig, RetentionConfig, WebhookConfig };

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
  /** How long a worker keeps trying to record its outcome while the database refuses writes. */
  workerWritePatienceSeconds: number;
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
    workerWritePatienceSeconds: int(env, "TRAINYARD_WORKER_WRITE_PATIENCE_SECONDS", 60, 1, 3600),
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
  env.TRAINYARD_WORKER_WRITE_PATIENCE_SECONDS = String(config.workerWritePatienceSeconds);
  if (process.env.PATH) env.PATH = process.env.PATH;
  return env;
}
