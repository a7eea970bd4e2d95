// Figure 6: webhook callbacks. Terminal status -> callback received (latency), and how fast a
// burst of deliveries drains. Tasks with a callback_url and a stored model are made completed
// by a direct UPDATE (the statement the worker's completion runs, minus the model insert, which
// is done beforehand), so the same outbox trigger enqueues the delivery and NOTIFYs; the
// controller's dispatcher sends it. Baseline: MinimalOutbox (bench/lib/minimal-outbox.ts) on
// another database, same trigger, same receiver.
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request } from "undici";
import type { Sql } from "../../src/db/connect.js";
import { DEFAULT_DATA_PATH, loadPenguins } from "../../src/training/dataset.js";
import { fitModel, type ModelSummary } from "../../src/training/fit.js";
import { MinimalOutbox } from "../lib/minimal-outbox.js";
import { startApp, startReceiver, type BenchContext, type Proc } from "../lib/processes.js";
import { freshDatabase, type BenchDatabase, type PgServer } from "../lib/postgres.js";
import { valueSide, type Report } from "../lib/report.js";
import { median, percentile, round } from "../lib/stats.js";
import { nowMs, taskTimes } from "../lib/tasks.js";
import { nextClaimableAt } from "../../src/webhooks/outbox.js";

const CONCURRENCY = 16; // TRAINYARD_WEBHOOK_CONCURRENCY's default
const SPACING_MS = 20;

/**
 * Running tasks with a callback_url and their model already stored. admitted_at stays NULL so
 * that the controller never counts or reconciles them as runs of its own.
 */
async function prepare(
  sql: Sql,
  count: number,
  callbackUrl: string | null,
  summary: ModelSummary,
): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    WITH t AS (
      INSERT INTO tasks (id, status, app, params, callback_url, started_at)
      SELECT gen_random_uuid(), 'running', 'webhook',
             '{"duration_seconds": 0, "timeout_seconds": 7200}'::jsonb, ${callbackUrl}, now()
        FROM generate_series(1, ${count})
      RETURNING id, seq)
    INSERT INTO models (task_id, summary)
    SELECT id, ${JSON.stringify(summary)}::text::json FROM t
    RETURNING task_id AS id`;
  return rows.map((r) => r.id);
}

interface Arrival {
  id: string;
  at: number;
}

async function receiverCall<T>(url: string, method = "GET"): Promise<T> {
  const res = await fetch(url, { method });
  return (await res.json()) as T;
}

async function waitArrivals(receiverUrl: string, count: number): Promise<Arrival[]> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { count: n } = await receiverCall<{ count: number }>(`${receiverUrl}/count`);
    if (n >= count) return receiverCall<Arrival[]>(`${receiverUrl}/arrivals`);
    if (Date.now() > deadline) throw new Error(`webhooks: ${n} of ${count} callbacks arrived`);
    await sleep(25);
  }
}

/** Completes the tasks one by one, SPACING_MS apart; callback arrival - finished_at. */
async function latencyRun(
  db: BenchDatabase,
  receiverUrl: string,
  count: number,
  summary: ModelSummary,
): Promise<number[]> {
  const ids = await prepare(db.sql, count, `${receiverUrl}/cb`, summary);
  await receiverCall(`${receiverUrl}/reset`, "POST");
  for (const id of ids) {
    await db.sql`
      UPDATE tasks SET status = 'completed', finished_at = now(), updated_at = now()
       WHERE id = ${id} AND status = 'running'`;
    await sleep(SPACING_MS);
  }
  const arrivals = await waitArrivals(receiverUrl, count);
  const finished = new Map((await taskTimes(db.sql, ids)).map((r) => [r.id, r.finished ?? 0]));
  return arrivals.flatMap((a) => {
    const f = finished.get(a.id);
    return f ? [a.at - f] : [];
  });
}

/** Completes all the tasks in one statement; deliveries per second until the last arrival. */
async function drainRun(
  db: BenchDatabase,
  receiverUrl: string,
  count: number,
  summary: ModelSummary,
): Promise<number> {
  const ids = await prepare(db.sql, count, `${receiverUrl}/cb`, summary);
  await receiverCall(`${receiverUrl}/reset`, "POST");
  const t0 = nowMs();
  await db.sql`
    UPDATE tasks SET status = 'completed', finished_at = now(), updated_at = now()
     WHERE id = ANY(${db.sql.array(ids)}::uuid[]) AND status = 'running'`;
  const arrivals = await waitArrivals(receiverUrl, count);
  const last = Math.max(...arrivals.map((a) => a.at));
  return count / ((last - t0) / 1000);
}

/**
 * A backend reports its transaction counts to pg_stat_database when it goes idle, at most once a
 * second and at the latest 10 s after its last transaction (PGSTAT_IDLE_INTERVAL).
 */
const STATS_FLUSH_MS = 11_000;

/** Transactions committed or rolled back in `sql`'s database while `work` ran, and how long. */
async function transactionsDuring(
  sql: Sql,
  work: () => Promise<unknown>,
): Promise<{ n: number; ms: number }> {
  const read = async (): Promise<number> => {
    const [row] = await sql<{ n: string }[]>`
      SELECT (xact_commit + xact_rollback)::text AS n FROM pg_stat_database
       WHERE datname = current_database()`;
    return Number(row?.n ?? 0);
  };
  const before = await read();
  const t0 = nowMs();
  await work();
  await sleep(STATS_FLUSH_MS);
  return { n: (await read()) - before, ms: nowMs() - t0 };
}

/**
 * Database transactions per delivery while a burst drains: each of the dispatcher's statements
 * outside an explicit transaction is one. Two things besides the dispatcher write to the same
 * counter, and are measured on their own and subtracted: the background (the controller's
 * leader beat and resync), over an idle window, per second; and the controller's reaction to a
 * task's status change (it reads the task and tries an admission), with the same burst of
 * completions of tasks that have no callback_url, per task.
 */
async function transactionsPerDelivery(
  db: BenchDatabase,
  receiverUrl: string,
  count: number,
  summary: ModelSummary,
): Promise<number> {
  const idle = await transactionsDuring(db.sql, () => Promise.resolve());
  const background = (w: { ms: number }): number => (idle.n * w.ms) / idle.ms;
  const plain = await transactionsDuring(db.sql, async () => {
    const ids = await prepare(db.sql, count, null, summary);
    await db.sql`
      UPDATE tasks SET status = 'completed', finished_at = now(), updated_at = now()
       WHERE id = ANY(${db.sql.array(ids)}::uuid[]) AND status = 'running'`;
  });
  const busy = await transactionsDuring(db.sql, () => drainRun(db, receiverUrl, count, summary));
  return (busy.n - background(busy) - (plain.n - background(plain))) / count;
}

/** The network floor: the same body POSTed `count` times, CONCURRENCY at once, same Agent. */
async function httpFloor(receiverUrl: string, count: number, body: string): Promise<number> {
  const agent = new Agent({ connections: 8, headersTimeout: 10_000, bodyTimeout: 10_000 });
  let next = 0;
  const t0 = nowMs();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < count) {
        const res = await request(`${receiverUrl}/cb`, {
          method: "POST",
          dispatcher: agent,
          headers: { "content-type": "application/json" },
          body,
        });
        await res.body.dump();
      }
    }),
  );
  const rate = count / ((nowMs() - t0) / 1000);
  await agent.close();
  await receiverCall(`${receiverUrl}/reset`, "POST");
  return rate;
}

// Migration 011's index, as it builds it (src/db/migrations/011_webhook_next_claimable.ts).
const CLAIMABLE_INDEX = "webhook_deliveries_claimable_idx";
const CLAIMABLE_INDEX_SQL = `
  CREATE INDEX ${CLAIMABLE_INDEX} ON webhook_deliveries
    ((GREATEST(next_attempt_at, COALESCE(locked_until, next_attempt_at)))) WHERE state = 'pending'`;

/**
 * nextClaimableAt(): the min() over every pending delivery that the dispatcher reads whenever it
 * runs out of due work (before finding 3's fix: after every delivery). Timed with `pending`
 * deliveries waiting (16 of them leased, as in flight), with the index of migration 011 and
 * without it (as before the fix).
 */
async function scanCost(sql: Sql, pending: number, times: number) {
  await sql`DELETE FROM webhook_deliveries`;
  const [task] = await sql<{ id: string }[]>`
    INSERT INTO tasks (id, status, app) VALUES (gen_random_uuid(), 'failed', 'webhook')
    RETURNING id`;
  await sql`
    INSERT INTO webhook_deliveries (task_id, url)
    SELECT ${task?.id ?? null}, 'http://127.0.0.1:9/cb' FROM generate_series(1, ${pending})`;
  await sql`
    UPDATE webhook_deliveries SET locked_by = 'bench', locked_until = now() + interval '1 minute'
     WHERE id IN (SELECT id FROM webhook_deliveries LIMIT ${CONCURRENCY})`;
  await sql`VACUUM ANALYZE webhook_deliveries`;
  const time = async (): Promise<number> => {
    await nextClaimableAt(sql);
    const ms: number[] = [];
    for (let i = 0; i < times; i++) {
      const t0 = performance.now();
      await nextClaimableAt(sql);
      ms.push(performance.now() - t0);
    }
    return median(ms);
  };
  const shipped = await time();
  await sql.unsafe(`DROP INDEX IF EXISTS ${CLAIMABLE_INDEX}`);
  const preFix = await time();
  await sql.unsafe(CLAIMABLE_INDEX_SQL);
  await sql`DELETE FROM webhook_deliveries`;
  return { shipped, preFix };
}

export async function webhooksScenario(
  ctx: BenchContext,
  server: PgServer,
  report: Report,
): Promise<void> {
  const { opts } = ctx;
  const appDb = await freshDatabase(server, "webhooks_app");
  const baseDb = await freshDatabase(server, "webhooks_base");
  const procs: Proc[] = [];
  const outbox = new MinimalOutbox(baseDb.sql, CONCURRENCY);
  try {
    const summary = fitModel(await loadPenguins(DEFAULT_DATA_PATH));
    const receiver = await startReceiver(ctx);
    procs.push(receiver);
    procs.push(await startApp(ctx, "controller", appDb.url));
    await outbox.start();

    // Warm-up of both dispatchers, the receiver and the Agents, counting their transactions.
    const xacts = {
      app: await transactionsPerDelivery(appDb, receiver.url, 200, summary),
      base: await transactionsPerDelivery(baseDb, receiver.url, 200, summary),
    };

    const body = JSON.stringify({ id: "x", status: "completed", result: summary });
    const lat = { app: [] as number[][], base: [] as number[][] };
    const drain = { app: [] as number[], base: [] as number[], floor: [] as number[] };
    for (let run = 0; run < opts.runs; run++) {
      lat.app.push(await latencyRun(appDb, receiver.url, opts.webhookLatencyTasks, summary));
      lat.base.push(await latencyRun(baseDb, receiver.url, opts.webhookLatencyTasks, summary));
      drain.app.push(await drainRun(appDb, receiver.url, opts.webhookDrainTasks, summary));
      drain.base.push(await drainRun(baseDb, receiver.url, opts.webhookDrainTasks, summary));
      drain.floor.push(await httpFloor(receiver.url, opts.webhookDrainTasks, body));
    }
    for (const p of [50, 99]) {
      report.add({
        scenario: "webhooks",
        name: `callback latency p${p} (terminal status -> callback received)`,
        params: { tasks: opts.webhookLatencyTasks, spacing_ms: SPACING_MS },
        unit: "ms",
        better: "lower",
        app: valueSide(
          "controller's dispatcher (NOTIFY-woken)",
          lat.app.map((r) => percentile(r, p)),
        ),
        baseline: valueSide(
          "minimal outbox loop, same trigger and NOTIFY",
          lat.base.map((r) => percentile(r, p)),
        ),
      });
    }
    report.add({
      scenario: "webhooks",
      name: "deliveries drained (burst of completions)",
      params: { deliveries: opts.webhookDrainTasks, concurrency: CONCURRENCY },
      unit: "deliveries/s",
      better: "higher",
      app: valueSide("controller's dispatcher", drain.app),
      baseline: valueSide("minimal outbox loop (3 round trips, 2 commits each)", drain.base),
      notes: {
        http_floor_per_s: round(median(drain.floor)),
        http_floor: "the same body POSTed by undici at the same concurrency, no database",
      },
    });
    report.add({
      scenario: "webhooks",
      name: "database transactions per delivery (diagnostic)",
      params: { deliveries: 200, concurrency: CONCURRENCY },
      unit: "transactions",
      better: "lower",
      app: valueSide("controller's dispatcher (pg_stat_database, the rest subtracted)", [
        xacts.app,
      ]),
      baseline: valueSide("minimal outbox loop (3 statements, no explicit transaction)", [
        xacts.base,
      ]),
    });
    await outbox.stop();
    for (const pending of opts.quick ? [1000, 10_000] : [1000, 10_000, 50_000]) {
      const scan = await scanCost(baseDb.sql, pending, opts.quick ? 5 : 20);
      report.add({
        scenario: "webhooks",
        name: "nextClaimableAt(), with vs without migration 011's index (diagnostic)",
        params: { pending },
        unit: "ms",
        better: "lower",
        app: valueSide("as shipped: the first entry of the expression index", [scan.shipped]),
        baseline: valueSide("the same query without the index (before the fix)", [scan.preFix]),
      });
    }
  } finally {
    await outbox.stop().catch(() => undefined);
    for (const p of procs.reverse()) await p.stop();
    await appDb.drop();
    await baseDb.drop();
  }
}
