import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { connect } from "../../src/db/connect.js";
import { migrate } from "../../src/db/migrate.js";
import { MIGRATIONS } from "../../src/db/migrations/index.js";
import { freshDatabase, type TestDatabase } from "../support/database.js";

void describe("migrate", () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase({ empty: true });
  });
  after(async () => {
    await db?.drop();
  });

  void test("5 pods migrating a fresh database at once apply each version exactly once", async () => {
    // Separate pools, so the five really run in parallel server sessions.
    const pods = Array.from({ length: 5 }, (_, i) =>
      connect(db.url, { max: 1, applicationName: `migrator-${i}` }),
    );
    try {
      const results = await Promise.all(pods.map((sql) => migrate(sql)));
      const applied = results.flatMap((r) => r.applied).sort((a, b) => a - b);
      assert.deepEqual(
        applied,
        MIGRATIONS.map((m) => m.version),
      );
    } finally {
      await Promise.all(pods.map((sql) => sql.end({ timeout: 5 })));
    }
    const rows = await db.sql<{ version: number; name: string }[]>`
      SELECT version, name FROM schema_migrations ORDER BY version`;
    assert.deepEqual(
      rows.map((r) => ({ version: r.version, name: r.name })),
      MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
    );
    const tables = await db.sql<{ t: string | null }[]>`
      SELECT to_regclass('tasks')::text AS t UNION ALL SELECT to_regclass('models')::text`;
    assert.deepEqual(
      tables.map((r) => r.t),
      ["tasks", "models"],
    );
  });

  void test("a second run is a no-op", async () => {
    assert.deepEqual(await migrate(db.sql), { applied: [] });
  });

  void test("the schema works as specified", async () => {
    const id = randomUUID();
    const [task] = await db.sql<{ seq: string; params: unknown; created_at: Date }[]>`
      INSERT INTO tasks (id, status, app, params) VALUES (${id}, 'queued', 'polling', ${db.sql.json({ duration_seconds: 5 })})
      RETURNING seq, params, created_at`;
    assert.equal(typeof task?.seq, "string", "int8 stays a string");
    assert.deepEqual(task?.params, { duration_seconds: 5 });
    assert.ok(task?.created_at instanceof Date);
    await assert.rejects(
      db.sql`INSERT INTO tasks (id, status, app) VALUES (${randomUUID()}, 'bogus', 'naive')`,
      { code: "23514" },
    );
  });
});

void describe("template database", () => {
  void test("fresh databases come migrated", async () => {
    const db = await freshDatabase();
    try {
      assert.deepEqual(await migrate(db.sql), { applied: [] });
      const [row] = await db.sql<{ n: string }[]>`SELECT count(*) AS n FROM tasks`;
      assert.equal(row?.n, "0");
    } finally {
      await db.drop();
    }
  });
});
