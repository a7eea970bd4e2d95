// Forward-only schema migrations, safe when every pod runs them at start-up at the same time.
// Each migration runs in its own transaction that first takes one transaction-scoped advisory
// lock: concurrent migrators queue on it, and whoever gets it next re-reads schema_migrations
// and skips what the previous holder already committed. A failed migration rolls back whole,
// version row included, so the next start retries it.
import type { Sql } from "./connect.js";
import { MIGRATIONS, type Migration } from "./migrations/index.js";

/** Single-bigint advisory key; the 7_461_xxx family is trainyard's (see admission/leader). */
export const MIGRATION_LOCK = 7_461_003;

export interface MigrateLog {
  info(obj: object, msg?: string): void;
}

async function appliedVersions(sql: Sql): Promise<Set<number>> {
  // Read without the lock first: on an up-to-date database (every start after the first)
  // nobody has to queue on the advisory lock at all.
  const [reg] = await sql<{ t: string | null }[]>`SELECT to_regclass('schema_migrations') AS t`;
  if (!reg?.t) return new Set();
  const rows = await sql<{ version: number }[]>`SELECT version FROM schema_migrations`;
  return new Set(rows.map((r) => r.version));
}

async function applyOne(sql: Sql, m: Migration): Promise<boolean> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    // Under the lock, so two first-ever starts cannot race on creating the table (a plain
    // IF NOT EXISTS race can still fail with a unique violation in pg_type).
    await tx`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version int PRIMARY KEY,
        name text,
        applied_at timestamptz DEFAULT now()
      )`;
    const inserted = await tx`
      INSERT INTO schema_migrations (version, name) VALUES (${m.version}, ${m.name})
      ON CONFLICT (version) DO NOTHING
      RETURNING version`;
    if (inserted.length === 0) return false; // another pod applied it while we waited
    await tx.unsafe(m.sql);
    return true;
  });
}

export async function migrate(sql: Sql, log?: MigrateLog): Promise<{ applied: number[] }> {
  const done = await appliedVersions(sql);
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    const started = Date.now();
    if (await applyOne(sql, m)) {
      applied.push(m.version);
      log?.info(
        { version: m.version, name: m.name, ms: Date.now() - started },
        "migration applied",
      );
    }
  }
  return { applied };
}
