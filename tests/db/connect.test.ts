// classifyPgError against errors a real server and the real driver produce, not hand-made
// objects: the codes are what the API's 503 mapping and retries depend on.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { classifyPgError, connect, isRetryable, type Sql } from "../../src/db/connect.js";
import { freshDatabase, type TestDatabase } from "../support/database.js";
import { freePort } from "../support/ports.js";

/** The error `fn` rejects with; fails the test if it resolves. */
async function errorOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail("expected an error");
}

void describe("classifyPgError on real server errors", () => {
  let db: TestDatabase;
  let other: Sql;
  before(async () => {
    db = await freshDatabase();
    other = connect(db.url, { max: 2 });
    await db.sql`CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)`;
    await db.sql`INSERT INTO t (id) VALUES (1), (2)`;
  });
  after(async () => {
    await other?.end({ timeout: 5 });
    await db?.drop();
  });

  void test("lock_not_available (FOR UPDATE NOWAIT) is retryable", async () => {
    const err = await db.sql.begin(async (tx) => {
      await tx`SELECT * FROM t WHERE id = 1 FOR UPDATE`;
      return errorOf(() => other`SELECT * FROM t WHERE id = 1 FOR UPDATE NOWAIT`);
    });
    assert.deepEqual(classifyPgError(err), { code: "55P03", retryable: true, unavailable: false });
  });

  void test("serialization_failure (write skew under SERIALIZABLE) is retryable", async () => {
    const [a, b] = [await db.sql.reserve(), await other.reserve()];
    try {
      for (const c of [a, b]) await c`BEGIN ISOLATION LEVEL SERIALIZABLE`;
      for (const c of [a, b]) await c`SELECT sum(n) FROM t`;
      await a`UPDATE t SET n = n + 1 WHERE id = 1`;
      const err = await errorOf(async () => {
        await b`UPDATE t SET n = n + 1 WHERE id = 2`;
        await a`COMMIT`;
        await b`COMMIT`;
      });
      assert.deepEqual(classifyPgError(err), {
        code: "40001",
        retryable: true,
        unavailable: false,
      });
    } finally {
      for (const c of [a, b]) await c`ROLLBACK`.catch(() => undefined);
      a.release();
      b.release();
    }
  });

  void test("deadlock_detected is retryable", async () => {
    const [a, b] = [await db.sql.reserve(), await other.reserve()];
    try {
      for (const c of [a, b]) await c`BEGIN`;
      await a`UPDATE t SET n = n + 1 WHERE id = 1`;
      await b`UPDATE t SET n = n + 1 WHERE id = 2`;
      // Each now waits for the other; the server aborts one of them after deadlock_timeout.
      const results = await Promise.allSettled([
        a`UPDATE t SET n = n + 1 WHERE id = 2`,
        b`UPDATE t SET n = n + 1 WHERE id = 1`,
      ]);
      const failed = results.filter((r) => r.status === "rejected");
      assert.equal(failed.length, 1);
      const err: unknown = failed[0]?.reason;
      assert.deepEqual(classifyPgError(err), {
        code: "40P01",
        retryable: true,
        unavailable: false,
      });
    } finally {
      for (const c of [a, b]) await c`ROLLBACK`.catch(() => undefined);
      a.release();
      b.release();
    }
  });

  void test("syntax errors and constraint violations are not retryable", async () => {
    const syntax = await errorOf(() => db.sql.unsafe("SELEC 1"));
    assert.deepEqual(classifyPgError(syntax), {
      code: "42601",
      retryable: false,
      unavailable: false,
    });
    const unique = await errorOf(() => db.sql`INSERT INTO t (id) VALUES (1)`);
    assert.equal(classifyPgError(unique).code, "23505");
    assert.equal(isRetryable(unique), false);
  });

  void test("a backend terminated mid-query means unavailable", async () => {
    const victim = connect(db.url, { max: 1, applicationName: "victim" });
    try {
      const sleeping = errorOf(() => victim`SELECT pg_sleep(30)`);
      await waitFor(async () => {
        const rows = await other`
          SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
          WHERE application_name = 'victim' AND state = 'active'`;
        return rows.length > 0;
      });
      // The server sends 57P01 and hangs up; postgres.js only delivers an error response at
      // ReadyForQuery, which never comes, so the caller sees CONNECTION_CLOSED instead.
      const pg = classifyPgError(await sleeping);
      assert.ok(["57P01", "CONNECTION_CLOSED"].includes(pg.code ?? ""), String(pg.code));
      assert.deepEqual([pg.retryable, pg.unavailable], [true, true]);
    } finally {
      // timeout 0: postgres.js otherwise waits the full timeout on a pool that lost a query.
      await victim.end({ timeout: 0 });
    }
  });

  void test("too_many_connections (53300) means unavailable", async () => {
    const role = `trainyard_limited_${process.pid}`;
    await other.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'x' CONNECTION LIMIT 0`);
    const url = new URL(db.url);
    [url.username, url.password] = [role, "x"];
    const limited = connect(url.toString(), { max: 1 });
    try {
      const err = await errorOf(() => limited`SELECT 1`);
      assert.deepEqual(classifyPgError(err), { code: "53300", retryable: true, unavailable: true });
    } finally {
      await limited.end({ timeout: 0 });
      await other.unsafe(`DROP ROLE ${role}`);
    }
  });

  void test("a write refused by a read-only server (25006) means unavailable", async () => {
    // What a standby not yet promoted, or default_transaction_read_only, answers to a write.
    const err = await errorOf(() =>
      db.sql.begin(async (tx) => {
        await tx`SET TRANSACTION READ ONLY`;
        await tx`CREATE TEMP TABLE refused (x int)`;
      }),
    );
    assert.deepEqual(classifyPgError(err), { code: "25006", retryable: true, unavailable: true });
  });

  void test("driver-level connection errors mean unavailable", async () => {
    const port = await freePort();
    const closed = connect(`postgres://x:y@127.0.0.1:${port}/x`, { max: 1 });
    const refused = await errorOf(() => closed`SELECT 1`);
    await closed.end();
    assert.deepEqual(classifyPgError(refused), {
      code: "ECONNREFUSED",
      retryable: true,
      unavailable: true,
    });
    const ended = await errorOf(() => closed`SELECT 1`);
    assert.equal(classifyPgError(ended).code, "CONNECTION_ENDED");
    assert.equal(classifyPgError(ended).unavailable, true);
  });

  void test("non-database errors are neither", () => {
    for (const err of [new Error("boom"), "string", undefined, { code: 42 }]) {
      assert.deepEqual(classifyPgError(err).retryable || classifyPgError(err).unavailable, false);
    }
  });
});

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
