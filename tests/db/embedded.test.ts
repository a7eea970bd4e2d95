// The dev/test database: data survives a restart, and a postmaster.pid left behind by a killed
// run (its pid now reused by an unrelated process) does not block the next start.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import postgres from "postgres";
import { startEmbeddedPostgres } from "../../src/db/embedded.js";
import { freePort } from "../support/ports.js";

void describe("embedded postgres", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "trainyard-embedded-"));
  chmodSync(dataDir, 0o755); // the server runs as the postgres user
  const log = pino({ level: "warn" }, pino.destination(2));
  const stops: Array<() => Promise<void>> = [];
  after(async () => {
    for (const stop of stops) await stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(port: number, t: { diagnostic(msg: string): void }): Promise<string> {
    const began = Date.now();
    const pg = await startEmbeddedPostgres({ dataDir, port, log });
    stops.push(() => pg.stop());
    t.diagnostic(`started in ${Date.now() - began} ms`);
    return pg.url;
  }

  async function query<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    const sql = postgres(url, { max: 1, onnotice: () => undefined });
    try {
      return await fn(sql);
    } finally {
      await sql.end({ timeout: 5 });
    }
  }

  void test("initialises, serves the trainyard database, stops", async (t) => {
    const url = await start(await freePort(), t);
    const [row] = await query(url, (sql) => sql<{ db: string }[]>`SELECT current_database() AS db`);
    assert.equal(row?.db, "trainyard");
    await query(url, (sql) =>
      sql`CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)`.simple(),
    );
    await stops.pop()?.();
    await assert.rejects(
      query(url, (sql) => sql`SELECT 1`),
      { code: "ECONNREFUSED" },
    );
  });

  void test("a restart on the same directory keeps the data, despite a stale postmaster.pid", async (t) => {
    // A live process that is not Postgres holds the pid written in the lock file, as after a
    // kill -9 in a container whose pids got reused; Postgres alone would refuse to start.
    const unrelated = spawn("sleep", ["30"]);
    try {
      writeFileSync(join(dataDir, "postmaster.pid"), `${unrelated.pid}\n${dataDir}\n`);
      const url = await start(await freePort(), t);
      const rows = await query(url, (sql) => sql<{ x: number }[]>`SELECT x FROM kept`);
      assert.deepEqual(
        rows.map((r) => r.x),
        [42],
      );
    } finally {
      unrelated.kill();
    }
  });
});
