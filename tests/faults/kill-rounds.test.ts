// SIGKILL of the controller and of an API process at random moments while 100 tasks are in
// flight, in 5 rounds: every accepted task reaches exactly one terminal status, no worker is
// left behind, and no task completes after it was cancelled. The moments come from a seeded
// generator: TRAINYARD_FAULT_SEED replays a run.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { startApp, type AppProcess } from "../support/app-process.js";
import { freshDatabase } from "../support/database.js";
import { call, type TaskBody } from "../support/http.js";

const ROUNDS = 5;
const PER_ROUND = 20;
const TERMINAL = ["completed", "failed", "cancelled"];

function generator(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    // xorshift32: small, seeded, good enough to spread kill moments.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** Live processes whose command line names one of these task ids (workers). */
function workersOf(ids: Set<string>): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (args.includes("worker") && args.some((a) => ids.has(a))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe("SIGKILL rounds while 100 tasks are in flight", () => {
  const seed = Number(process.env.TRAINYARD_FAULT_SEED ?? Date.now() % 1_000_000);
  const random = generator(seed);
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let reader: AppProcess;
  let api: AppProcess;
  let controller: AppProcess;
  const notifications = new Map<string, string[]>();

  before(async () => {
    process.stderr.write(`kill-rounds seed: ${seed} (TRAINYARD_FAULT_SEED=${seed} replays)\n`);
    db = await freshDatabase();
    await db.sql.listen("trainyard_task", (payload) => {
      const { id, status } = JSON.parse(payload) as { id: string; status: string };
      notifications.set(id, [...(notifications.get(id) ?? []), status]);
    });
    reader = await startApp("polling", { databaseUrl: db.url });
    api = await startApp("polling", { databaseUrl: db.url });
    controller = await startApp("controller", { databaseUrl: db.url });
  });
  after(async () => {
    await Promise.all([reader?.stop(), api?.stop(), controller?.stop()]);
    await db?.drop();
  });

  test("every accepted task ends exactly once; cancelled never completes; no worker left", async () => {
    const accepted = new Set<string>();
    const cancelled = new Set<string>();
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

    for (let round = 0; round < ROUNDS; round++) {
      const target = api;
      const submissions = Array.from({ length: PER_ROUND }, async () => {
        await sleep(random() * 800);
        const res = await call<TaskBody>("POST", `${target.url("polling")}/train`, {
          duration_seconds: Math.floor(random() * 2),
        }).catch(() => undefined); // the API was killed under this request: not accepted
        if (res?.status !== 202) return;
        accepted.add(res.body.id);
        if (random() < 0.25) {
          await sleep(random() * 1000);
          const del = await call<TaskBody>(
            "DELETE",
            `${reader.url("polling")}/train/${res.body.id}`,
          );
          if (del.status === 200 && del.body.status === "cancelled") cancelled.add(res.body.id);
        }
      });
      const killController = sleep(random() * 1500).then(() => controller.stop("SIGKILL"));
      const killApi = sleep(random() * 1500).then(() => api.stop("SIGKILL"));
      await Promise.all([...submissions, killController, killApi]);
      [controller, api] = await Promise.all([
        startApp("controller", { databaseUrl: db.url }),
        startApp("polling", { databaseUrl: db.url }),
      ]);
    }
    assert.ok(accepted.size >= ROUNDS * 5, `enough tasks accepted (${accepted.size})`);

    const ids = [...accepted];
    const deadline = Date.now() + 120_000;
    let open: string[] = ids;
    while (open.length > 0 && Date.now() < deadline) {
      const rows = await db.sql<{ id: string; status: string }[]>`
        SELECT id, status FROM tasks WHERE id IN ${db.sql(open)}`;
      open = rows.filter((r) => !TERMINAL.includes(r.status)).map((r) => r.id);
      if (open.length > 0) await sleep(250);
    }
    assert.deepEqual(open, [], "every accepted task reached a terminal status");

    const rows = await db.sql<{ id: string; status: string; has_model: boolean }[]>`
      SELECT t.id, t.status, m.task_id IS NOT NULL AS has_model
        FROM tasks t LEFT JOIN models m ON m.task_id = t.id
       WHERE t.id IN ${db.sql(ids)}`;
    assert.equal(rows.length, ids.length, "no accepted task was lost");
    await sleep(300); // the last notifications
    for (const row of rows) {
      const terminal = (notifications.get(row.id) ?? []).filter((s) => TERMINAL.includes(s));
      assert.deepEqual(terminal, [row.status], `${row.id}: exactly one terminal status`);
      assert.equal(row.has_model, row.status === "completed", `${row.id}: model iff completed`);
      if (cancelled.has(row.id)) assert.equal(row.status, "cancelled", `${row.id} was cancelled`);
    }

    const grace = Date.now() + 10_000;
    let left = workersOf(accepted);
    while (left.length > 0 && Date.now() < grace) {
      await sleep(200);
      left = workersOf(accepted);
    }
    assert.deepEqual(left, [], "no worker left behind");
  });
});
