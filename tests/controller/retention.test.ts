// Retention on real Postgres: old and new rows inserted directly, then one pass deletes exactly
// the right ones, in batches; and a real controller runs passes by itself.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { retentionPass } from "../../src/controller/retention.js";
import { removeLocalLogs } from "../../src/runner/logs.js";
import { startApp } from "../support/app-process.js";
import { freshDatabase, type TestDatabase } from "../support/database.js";
import { scrape, valueOf } from "../support/prometheus.js";

interface Row {
  status: "queued" | "running" | "completed" | "failed" | "cancelled";
  /** Days since the task finished (or was created, for unfinished ones). */
  age: number;
  admitted?: boolean;
  released?: boolean;
  /** A model, created this many days ago. */
  modelAge?: number;
  delivery?: { state: "pending" | "succeeded" | "failed"; age: number; attempts?: number };
}

async function insertTask(db: TestDatabase, row: Row): Promise<string> {
  const id = randomUUID();
  const at = `now() - interval '${row.age} days'`;
  const terminal = ["completed", "failed", "cancelled"].includes(row.status);
  const admitted = row.admitted ?? row.status !== "queued";
  const released = row.released ?? (terminal && admitted);
  await db.sql.unsafe(
    `INSERT INTO tasks (id, status, app, params, created_at, admitted_at, started_at, finished_at,
                        released_at)
     VALUES ($1, $2, 'polling', '{"duration_seconds": 0}', ${at} - interval '1 hour',
             ${admitted ? `${at} - interval '50 minutes'` : "NULL"},
             ${admitted && row.status !== "queued" ? `${at} - interval '40 minutes'` : "NULL"},
             ${terminal ? at : "NULL"}, ${released ? at : "NULL"})`,
    [id, row.status],
  );
  if (row.modelAge !== undefined) {
    await db.sql.unsafe(
      `INSERT INTO models (task_id, summary, created_at)
       VALUES ($1, '{"n": 333}', now() - interval '${row.modelAge} days')`,
      [id],
    );
  }
  if (row.delivery) {
    const d = row.delivery;
    const [delivery] = await db.sql.unsafe<{ id: string }[]>(
      `INSERT INTO webhook_deliveries (task_id, url, state, attempts, created_at, finished_at)
       VALUES ($1, 'http://127.0.0.1:9/cb', $2, $3, now() - interval '${d.age} days',
               ${d.state === "pending" ? "NULL" : `now() - interval '${d.age} days'`})
       RETURNING id`,
      [id, d.state, d.attempts ?? 1],
    );
    for (let attempt = 1; attempt <= (d.attempts ?? 1); attempt++) {
      await db.sql`
        INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, outcome)
        VALUES (${delivery?.id ?? ""}, ${attempt}, now(), 5, 200, 'succeeded')`;
    }
  }
  return id;
}

async function insertCallback(db: TestDatabase, age: number): Promise<string> {
  const id = `msg_${randomUUID()}`;
  await db.sql.unsafe(
    `INSERT INTO webhook_callbacks (webhook_id, received_at, verified, body)
     VALUES ($1, now() - interval '${age} days', true, '{}')`,
    [id],
  );
  return id;
}

async function ids(db: TestDatabase, table: string, column = "id"): Promise<Set<string>> {
  const rows = await db.sql.unsafe<{ id: string }[]>(`SELECT ${column}::text AS id FROM ${table}`);
  return new Set(rows.map((r) => r.id));
}

describe("retention pass", () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test("deletes exactly what is old and may go, in batches of the configured size", async () => {
    const keep: Record<string, string> = {
      // The latest completed model is old, but predictions use it: its task stays.
      latestModel: await insertTask(db, { status: "completed", age: 40, modelAge: 40 }),
      // Still holding a slot: its run may be ending.
      holdingSlot: await insertTask(db, { status: "failed", age: 40, released: false }),
      // Its callback is still on its way.
      pendingCallback: await insertTask(db, {
        status: "failed",
        age: 40,
        delivery: { state: "pending", age: 40 },
      }),
      running: await insertTask(db, { status: "running", age: 40 }),
      queued: await insertTask(db, { status: "queued", age: 40, admitted: false }),
      admitted: await insertTask(db, { status: "queued", age: 40, admitted: true }),
      recentCompleted: await insertTask(db, {
        status: "completed",
        age: 5,
        modelAge: 50, // an older model of a recent task: not the latest, but the task is recent
        delivery: { state: "succeeded", age: 5 },
      }),
      recentCancelled: await insertTask(db, { status: "cancelled", age: 29 }),
    };
    const gone: Record<string, string> = {
      olderModel: await insertTask(db, { status: "completed", age: 45, modelAge: 45 }),
      failedWithDelivery: await insertTask(db, {
        status: "failed",
        age: 31,
        delivery: { state: "succeeded", age: 31, attempts: 3 },
      }),
      // Cancelled before admission: never held a slot (admitted_at and released_at are NULL).
      cancelledQueued: await insertTask(db, { status: "cancelled", age: 60, admitted: false }),
    };
    for (let i = 0; i < 7; i++) {
      gone[`failed${i}`] = await insertTask(db, { status: "failed", age: 100 + i });
    }
    // A delivery record of a kept task (the latest model's), finished long ago: it goes alone.
    const [oldDelivery] = await db.sql<{ id: string }[]>`
      INSERT INTO webhook_deliveries (task_id, url, state, attempts, created_at, finished_at)
      VALUES (${keep.latestModel ?? ""}, 'http://127.0.0.1:9/cb', 'failed', 3,
              now() - interval '35 days', now() - interval '35 days')
      RETURNING id`;
    const oldCallbacks = [await insertCallback(db, 31), await insertCallback(db, 90)];
    const newCallbacks = [await insertCallback(db, 1), await insertCallback(db, 0)];
    const deliveriesBefore = await ids(db, "webhook_deliveries");

    // The local log files of the deleted tasks go with them.
    const logDir = mkdtempSync(join(tmpdir(), "trainyard-retention-"));
    for (const id of [...Object.values(keep), ...Object.values(gone)]) {
      writeFileSync(join(logDir, `${id}.log`), "a line\n");
    }
    const batchSizes: number[] = [];
    const result = await retentionPass(db.sql, 30, {
      batchSize: 3,
      batchPauseMs: 10,
      onTasksDeleted: async (deleted) => {
        batchSizes.push(deleted.length);
        await removeLocalLogs(logDir, deleted);
      },
    });

    const tasks = await ids(db, "tasks");
    for (const [name, id] of Object.entries(keep)) assert.ok(tasks.has(id), `kept: ${name}`);
    for (const [name, id] of Object.entries(gone)) assert.ok(!tasks.has(id), `deleted: ${name}`);
    assert.equal(tasks.size, Object.keys(keep).length);
    for (const [name, id] of Object.entries(gone)) {
      assert.ok(!existsSync(join(logDir, `${id}.log`)), `log removed: ${name}`);
    }
    for (const [name, id] of Object.entries(keep)) {
      assert.ok(existsSync(join(logDir, `${id}.log`)), `log kept: ${name}`);
    }

    // Models: only those of deleted tasks went (cascade); the latest one stays.
    assert.deepEqual(
      await ids(db, "models", "task_id"),
      new Set([keep.latestModel, keep.recentCompleted]),
    );
    // Deliveries: the deleted task's by cascade (with its attempts), the old one of a kept task
    // on its own; the pending one and the recent one stay.
    const deliveries = await ids(db, "webhook_deliveries");
    assert.equal(deliveriesBefore.size - deliveries.size, 2);
    assert.ok(!deliveries.has(oldDelivery?.id ?? ""));
    const [attempts] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM webhook_attempts a
        LEFT JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.id IS NULL`;
    assert.equal(attempts?.n, 0, "no orphaned attempts");
    const callbacks = await ids(db, "webhook_callbacks", "webhook_id");
    assert.deepEqual(callbacks, new Set(newCallbacks));
    assert.ok(oldCallbacks.every((c) => !callbacks.has(c)));

    // 10 tasks in batches of 3: 3+3+3+1; one delivery; two callbacks.
    assert.deepEqual(result.deleted, { tasks: 10, webhook_deliveries: 1, webhook_callbacks: 2 });
    assert.deepEqual(batchSizes, [3, 3, 3, 1]);
    assert.equal(result.batches, 6);
    assert.equal(result.complete, true);

    // A second pass finds nothing more.
    const again = await retentionPass(db.sql, 30, { batchSize: 3, batchPauseMs: 0 });
    assert.deepEqual(again.deleted, { tasks: 0, webhook_deliveries: 0, webhook_callbacks: 0 });
    assert.equal(again.batches, 0);
  });

  test("0 days keeps everything", async () => {
    const id = await insertTask(db, { status: "failed", age: 3650 });
    const result = await retentionPass(db.sql, 0, { batchSize: 500, batchPauseMs: 0 });
    assert.equal(result.batches, 0);
    assert.ok((await ids(db, "tasks")).has(id));
    await db.sql`DELETE FROM tasks WHERE id = ${id}`;
  });

  test("rows locked by someone else are skipped, not waited for", async () => {
    const locked = await insertTask(db, { status: "failed", age: 40 });
    const free = await insertTask(db, { status: "failed", age: 41 });
    const holder = await db.sql.reserve();
    try {
      await holder`BEGIN`;
      await holder`SELECT id FROM tasks WHERE id = ${locked} FOR UPDATE`;
      const started = Date.now();
      const result = await retentionPass(db.sql, 30, { batchSize: 10, batchPauseMs: 0 });
      assert.ok(Date.now() - started < 1500, "no lock wait");
      assert.equal(result.deleted.tasks, 1);
      const tasks = await ids(db, "tasks");
      assert.ok(tasks.has(locked) && !tasks.has(free));
      await holder`ROLLBACK`;
    } finally {
      holder.release();
    }
    const later = await retentionPass(db.sql, 30, { batchSize: 10, batchPauseMs: 0 });
    assert.equal(later.deleted.tasks, 1, "the next pass takes it");
  });

  test("a deposed leader stops between batches", async () => {
    for (let i = 0; i < 5; i++) await insertTask(db, { status: "cancelled", age: 40 });
    let calls = 0;
    const result = await retentionPass(db.sql, 30, {
      batchSize: 2,
      batchPauseMs: 0,
      mayContinue: () => ++calls <= 1,
    });
    assert.equal(result.complete, false);
    assert.equal(result.deleted.tasks, 2);
    const rest = await retentionPass(db.sql, 30, { batchSize: 2, batchPauseMs: 0 });
    assert.equal(rest.deleted.tasks, 3);
  });
});

describe("retention in the controller", () => {
  test("the leading controller runs passes periodically and counts what it deleted", async () => {
    const db = await freshDatabase();
    const controller = await startApp("controller", {
      databaseUrl: db.url,
      env: {
        TRAINYARD_RETENTION_DAYS: "7",
        TRAINYARD_RETENTION_INTERVAL_SECONDS: "1",
        TRAINYARD_RETENTION_BATCH_SIZE: "2",
      },
    });
    try {
      const old = [];
      for (let i = 0; i < 5; i++) old.push(await insertTask(db, { status: "failed", age: 8 }));
      const recent = await insertTask(db, { status: "failed", age: 6 });
      const deadline = Date.now() + 20_000;
      while ((await ids(db, "tasks")).size > 1) {
        if (Date.now() > deadline) throw new Error("retention never ran");
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual(await ids(db, "tasks"), new Set([recent]));
      const metrics = await scrape(controller.url("controller"));
      assert.equal(
        valueOf(metrics, "trainyard_retention_deleted_rows_total", { table: "tasks" }),
        5,
      );
      assert.ok((valueOf(metrics, "trainyard_retention_last_success_timestamp_seconds") ?? 0) > 0);
      assert.ok(controller.logs.some((l) => l.includes('"msg":"retention pass"')));
    } finally {
      await controller.stop();
      await db.drop();
    }
  });
});
