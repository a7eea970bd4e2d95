// The benchmark's Postgres: a throwaway embedded server in a temporary folder (as the test
// suite does), or BENCH_ADMIN_URL's server; one freshly migrated database per scenario.
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Sql } from "../../src/db/connect.js";
import { startEmbeddedPostgres } from "../../src/db/embedded.js";
import { migrate } from "../../src/db/migrate.js";
import { freePort } from "../../tests/support/ports.js";
import type { BenchOptions } from "./options.js";

export interface PgServer {
  adminUrl: string;
  settings: Record<string, string>;
  stop(): Promise<void>;
}

const quietLog = {
  debug: () => undefined,
  info: () => undefined,
  warn: (obj: object, msg?: string) =>
    process.stderr.write(`postgres: ${msg ?? ""} ${JSON.stringify(obj)}\n`),
};

export async function startPostgres(opts: BenchOptions): Promise<PgServer> {
  // Enough for every pool of every process at 64-way load, workers included.
  const settings: Record<string, string> = { max_connections: "200" };
  if (opts.pgFast) Object.assign(settings, { fsync: "off", synchronous_commit: "off" });
  if (opts.adminUrl)
    return { adminUrl: opts.adminUrl, settings: {}, stop: () => Promise.resolve() };
  const dataDir = await mkdtemp(join(tmpdir(), "trainyard-bench-pg-"));
  await chmod(dataDir, 0o755); // the server runs as the postgres user, not as us
  const pg = await startEmbeddedPostgres({
    dataDir,
    port: await freePort(),
    log: quietLog,
    settings,
  });
  return {
    adminUrl: withDatabase(pg.url, "postgres"),
    settings,
    async stop() {
      await pg.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function withDatabase(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

export interface BenchDatabase {
  url: string;
  /** A pool of the bench process itself (setup, checks and the postgres.js baselines). */
  sql: Sql;
  drop(): Promise<void>;
}

let counter = 0;

/** A new, migrated database: each scenario starts from empty tables. */
export async function freshDatabase(server: PgServer, label: string): Promise<BenchDatabase> {
  const name = `bench_${label}_${process.pid}_${++counter}`;
  const admin = connect(server.adminUrl, { max: 1 });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const url = withDatabase(server.adminUrl, name);
  // The pool size of a service process (TRAINYARD_DB_POOL_SIZE's default): baselines that
  // talk to Postgres directly get the same number of connections as the app they stand beside.
  const sql = connect(url, { max: 10, applicationName: "trainyard-bench" });
  await migrate(sql);
  return {
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 5 });
      const a = connect(server.adminUrl, { max: 1 });
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end({ timeout: 5 });
      }
    },
  };
}
