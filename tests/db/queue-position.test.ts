// A queued task's position is exact up to QUEUE_POSITION_BOUND and says so; past it the count
// stops (and says "at least"), so a poll costs the same however long the queue.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { getTask, queuePosition, QUEUE_POSITION_BOUND } from "../../src/tasks/store.js";
import { freshDatabase, type TestDatabase } from "../support/database.js";

describe("queue position", () => {
  let db: TestDatabase;
  let ids: string[];

  before(async () => {
    db = await freshDatabase();
    const rows = await db.sql<{ id: string }[]>`
      INSERT INTO tasks (id, status, app, params)
      SELECT gen_random_uuid(), 'queued', 'polling', '{"duration_seconds": 0}'::jsonb
        FROM generate_series(1, ${QUEUE_POSITION_BOUND + 5})
      RETURNING id`;
    const ordered = await db.sql<{ id: string }[]>`
      SELECT id FROM tasks WHERE id IN ${db.sql(rows.map((r) => r.id))} ORDER BY seq`;
    ids = ordered.map((r) => r.id);
  });
  after(async () => {
    await db?.drop();
  });

  const positionOf = async (index: number) => {
    const task = await getTask(db.sql, ids[index] ?? "");
    assert.ok(task);
    return queuePosition(db.sql, task);
  };

  test("exact below the bound", async () => {
    assert.deepEqual(await positionOf(0), { ahead: 0, exact: true });
    assert.deepEqual(await positionOf(3), { ahead: 3, exact: true });
    assert.deepEqual(await positionOf(QUEUE_POSITION_BOUND - 1), {
      ahead: QUEUE_POSITION_BOUND - 1,
      exact: true,
    });
  });

  test("at and past the bound: at least the bound", async () => {
    for (const index of [QUEUE_POSITION_BOUND, QUEUE_POSITION_BOUND + 4]) {
      assert.deepEqual(await positionOf(index), { ahead: QUEUE_POSITION_BOUND, exact: false });
    }
  });

  test("tasks admitted or finished ahead do not count", async () => {
    await db.sql`UPDATE tasks SET admitted_at = now() WHERE id = ${ids[0] ?? ""}`;
    await db.sql`UPDATE tasks SET status = 'cancelled' WHERE id = ${ids[1] ?? ""}`;
    assert.deepEqual(await positionOf(3), { ahead: 1, exact: true });
    assert.deepEqual(await positionOf(0), { ahead: 0, exact: true }, "admitted: 0");
  });
});
