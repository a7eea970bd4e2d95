// One throwaway database per test suite, cloned from the migrated template that tests/run.ts
// prepares, so suites never see each other's rows and need not migrate themselves.
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type Sql } from "../../src/db/connect.js";

export const TEMPLATE_DATABASE = "trainyard_template";

export interface TestDatabase {
  url: string;
  sql: Sql;
  /** End this handle's connections and drop the database, whoever else is still connected. */
  drop(): Promise<void>;
}

export function adminUrl(): string {
  const url = process.env.TRAINYARD_TEST_ADMIN_URL;
  if (!url) throw new Error("TRAINYARD_TEST_ADMIN_URL is unset: run tests via dist/tests/run.js");
  return url;
}

export function databaseUrl(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/** A short-lived admin connection: a pooled one would keep the test process from exiting. */
export async function withAdmin<T>(fn: (admin: Sql) => Promise<T>): Promise<T> {
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => undefined });
  try {
    return await fn(admin);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

let counter = 0;

/** Cloned from the migrated template, or with `empty` a bare database (for migration tests). */
export async function freshDatabase(opts: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `trainyard_t${process.pid}_${++counter}_${randomBytes(3).toString("hex")}`;
  const template = opts.empty ? "" : ` TEMPLATE ${TEMPLATE_DATABASE}`;
  await withAdmin(async (admin) => {
    // Copying a template fails while anyone else is connected to it (55006); that window is
    // short (another clone's bookkeeping), so wait and try again.
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.unsafe(`CREATE DATABASE ${name}${template}`);
        return;
      } catch (err) {
        if ((err as { code?: unknown }).code !== "55006" || attempt >= 50) throw err;
        await sleep(50 + Math.random() * 100);
      }
    }
  });
  const url = databaseUrl(adminUrl(), name);
  const sql = connect(url, { max: 5, applicationName: "trainyard-test" });
  let dropped = false;
  return {
    url,
    sql,
    async drop() {
      if (dropped) return;
      dropped = true;
      await sql.end({ timeout: 5 });
      await withAdmin((admin) => admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
