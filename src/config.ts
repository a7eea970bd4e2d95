// The only reader of process.env. Every setting is typed, defaulted and validated here, once,
// at start-up; a bad value stops the process with a message naming the variable.
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

export const RUNNER_KINDS = ["local"] as const;
export type RunnerKind = (typeof RUNNER_KINDS)[number];

export interface Config {
  /** Unset means: start the embedded Postgres in dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPostgresPort: number;
  host: string;
  ports: Record<HttpAppName, number>;
  logLevel: string;
  runner: RunnerKind;
  /** At most this many tasks admitted or running at once, across every controller. */
  maxRunning: number;
  defaultDurationSeconds: number;
  maxDurationSeconds: number;
  naiveWaitSeconds: number;
  retryAfterSeconds: number;
  cancelGraceSeconds: number;
  resyncSeconds: number;
  bodyLimitBytes: number;
  shutdownGraceSeconds: number;
  dbPoolSize: number;
  /** Where the penguins CSV lives; the worker reads it. */
  datasetPath: string | undefined;
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
  return {
    databaseUrl: databaseUrl(env),
    dataDir: resolve(env.TRAINYARD_DATA_DIR?.trim() || ".trainyard"),
    embeddedPostgresPort: int(env, "TRAINYARD_EMBEDDED_PG_PORT", 54329, 1, 65535),
    host: env.TRAINYARD_HOST?.trim() || "0.0.0.0",
    ports,
    logLevel: oneOf(env, "LOG_LEVEL", LOG_LEVELS, "info"),
    runner: oneOf(env, "TRAINYARD_RUNNER", RUNNER_KINDS, "local"),
    maxRunning: int(env, "TRAINYARD_MAX_RUNNING", 4, 1, 1000),
    defaultDurationSeconds,
    maxDurationSeconds,
    naiveWaitSeconds: int(env, "TRAINYARD_NAIVE_WAIT_SECONDS", 60, 1, 3600),
    retryAfterSeconds: int(env, "TRAINYARD_RETRY_AFTER_SECONDS", 2, 1, 3600),
    cancelGraceSeconds: int(env, "TRAINYARD_CANCEL_GRACE_SECONDS", 5, 0, 600),
    resyncSeconds: int(env, "TRAINYARD_RESYNC_SECONDS", 30, 1, 86400),
    bodyLimitBytes: int(env, "TRAINYARD_BODY_LIMIT_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024),
    shutdownGraceSeconds: int(env, "TRAINYARD_SHUTDOWN_GRACE_SECONDS", 10, 0, 600),
    dbPoolSize: int(env, "TRAINYARD_DB_POOL_SIZE", 10, 1, 100),
    datasetPath: env.TRAINYARD_DATASET_PATH?.trim() || undefined,
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
