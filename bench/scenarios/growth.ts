// Figure 5: does anything cost more as the tables grow? Submit and status with 1k, 100k (and
// optionally 1M) tasks already stored; and, with as many tasks queued, the admission
// statement's time, the controller's memory (RSS) and its slot-freed -> next-started latency.
// Each size's figure stands beside the same measurement at the smallest size (or, for submit and
// status, beside the bare SQL at the same size).
import { setTimeout as sleep } from "node:timers/promises";
import { ADMISSION_LOCK, admitInTransaction } from "../../src/controller/admission.js";
import type { Sql } from "../../src/db/connect.js";
import type { Queryable } from "../../src/db/queryable.js";
import { latestModel } from "../../src/models/store.js";
import { getTask, queuePosition } from "../../src/tasks/store.js";
import { DEFAULT_DATA_PATH, loadPenguins } from "../../src/training/dataset.js";
import { fitModel, type ModelSummary } from "../../src/training/fit.js";
import { rssMiB, startApp, type App, type BenchContext } from "../lib/processes.js";
import { freshDatabase, type PgServer } from "../lib/postgres.js";
import { valueSide, type Report } from "../lib/report.js";
import { median, percentile, round } from "../lib/stats.js";
import { nowMs, slotGaps, taskTimes, TerminalWatch } from "../lib/tasks.js";
import { measureStatus, measureSubmit } from "./api.js";

const CHUNK = 100_000;
const CAP = 4;

/**
 * History: finished tasks as a long-lived installation accumulates them (90% completed with
 * their model, 5% failed, 5% cancelled), every timestamp set and every slot released. The
 * NOTIFY and outbox triggers are off meanwhile: nobody needs a million notifications.
 */
async function addHistory(sql: Sql, count: number, summary: ModelSummary): Promise<void> {
  await sql`ALTER TABLE tasks DISABLE TRIGGER USER`;
  try {
    for (let done = 0; done < count; done += CHUNK) {
      const n = Math.min(CHUNK, count - done);
      await sql`
        WITH t AS (
          INSERT INTO tasks (id, status, app, params, error, runner_ref, created_at, admitted_at,
                             started_at, finished_at, updated_at, released_at)
          SELECT gen_random_uuid(), s.status, 'polling',
                 '{"duration_seconds": 0, "timeout_seconds": 7200}'::jsonb,
                 CASE WHEN s.status = 'completed' THEN NULL
                      ELSE '{"code": "cancelled", "message": "bench history"}'::jsonb END,
                 'pid:1@bench', s.t, s.t, s.t, s.t, s.t, s.t
            FROM (SELECT CASE WHEN g % 20 = 0 THEN 'failed' WHEN g % 20 = 1 THEN 'cancelled'
                              ELSE 'completed' END AS status,
                         now() - (${n} - g) * interval '1 millisecond' AS t
                    FROM generate_series(1, ${n}) g) s
          RETURNING id, status, finished_at)
        INSERT INTO models (task_id, summary, created_at)
        SELECT id, ${JSON.stringify(summary)}::text::json, finished_at FROM t
         WHERE status = 'completed'`;
    }
  } finally {
    await sql`ALTER TABLE tasks ENABLE TRIGGER USER`;
  }
  await sql`VACUUM ANALYZE tasks`;
  await sql`VACUUM ANALYZE models`;
}

/** `count` queued tasks of duration 0, as if submitted and waiting for a slot. */
async function addQueued(sql: Sql, count: number): Promise<void> {
  await sql`ALTER TABLE tasks DISABLE TRIGGER USER`;
  try {
    for (let done = 0; done < count; done += CHUNK) {
      const n = Math.min(CHUNK, count - done);
      await sql`
        INSERT INTO tasks (id, status, app, params)
        SELECT gen_random_uuid(), 'queued', 'polling',
               '{"duration_seconds": 0, "timeout_seconds": 7200}'::jsonb
          FROM generate_series(1, ${n})`;
    }
  } finally {
    await sql`ALTER TABLE tasks ENABLE TRIGGER USER`;
  }
  await sql`ANALYZE tasks`;
}

/** Back to `mark`: removes what a measurement added (submitted or queued tasks). */
async function trimTo(sql: Sql, mark: string): Promise<void> {
  await sql`DELETE FROM tasks WHERE seq > ${mark}`;
  await sql`VACUUM tasks`;
}

// admitInTransaction()'s admission statement (src/controller/admission.ts), for its EXPLAIN
// only (the timing runs the function itself): keep the two in step.
const ADMISSION_SQL = `
  UPDATE tasks t SET admitted_at = now(), updated_at = now()
   WHERE t.id = ANY(ARRAY(
           SELECT id FROM tasks
            WHERE status = 'queued' AND admitted_at IS NULL
            ORDER BY seq
            LIMIT $1
            FOR UPDATE SKIP LOCKED))
     AND t.status = 'queued' AND t.admitted_at IS NULL
  RETURNING t.*`;

/**
 * The admission statement as it was before finding 2 was fixed, for the diagnostic beside the
 * shipped one: one statement counting the slots in a CTE, whose LIMIT is an expression, so the
 * planner expected many rows and hash-joined them against a scan of every task.
 */
const PRE_FIX_ADMISSION_SQL = `
  WITH active AS (
    SELECT count(*)::int AS n FROM tasks
    WHERE admitted_at IS NOT NULL AND released_at IS NULL
  ), next AS (
    SELECT id FROM tasks
    WHERE status = 'queued' AND admitted_at IS NULL
    ORDER BY seq
    LIMIT GREATEST($1 - (SELECT n FROM active), 0)
    FOR UPDATE SKIP LOCKED
  )
  UPDATE tasks t SET admitted_at = now(), updated_at = now()
  FROM next WHERE t.id = next.id AND t.status = 'queued'
  RETURNING t.*`;

class Rollback extends Error {}

/** Runs `work` in a transaction and rolls it back, so the queue stays as it is. */
async function rolledBack(sql: Sql, work: (tx: Queryable) => Promise<void>): Promise<void> {
  await sql
    .begin(async (tx) => {
      await work(tx);
      throw new Rollback();
    })
    .catch((err: unknown) => {
      if (!(err instanceof Rollback)) throw err;
    });
}

/**
 * Times an admission transaction (admit()'s own code, or its lock and `statement`), rolled
 * back; then the statement's plan with the free slots the admission saw (EXPLAIN ANALYZE,
 * rolled back too).
 */
async function timeAdmission(
  sql: Sql,
  times: number,
  statement?: string,
): Promise<{ ms: number[]; plan: string[] }> {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    await rolledBack(sql, async (tx) => {
      let admitted: number;
      if (statement === undefined) {
        admitted = (await admitInTransaction(tx, CAP)).length;
      } else {
        await tx`SELECT pg_advisory_xact_lock(${ADMISSION_LOCK})`;
        admitted = (await tx.unsafe(statement, [CAP])).length;
      }
      if (admitted !== CAP) throw new Error(`admission took ${admitted} tasks, not ${CAP}`);
      ms.push(performance.now() - t0);
    });
  }
  let plan: string[] = [];
  await rolledBack(sql, async (tx) => {
    const rows = await tx.unsafe<{ "QUERY PLAN": string }[]>(
      `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${statement ?? ADMISSION_SQL}`,
      [CAP],
    );
    plan = rows.map((r) => r["QUERY PLAN"]);
  });
  return { ms, plan };
}

/**
 * What GET /train/{id}/status adds for a queued task: its queue position, a count of the queued
 * tasks ahead of it. Timed for the last one in the queue.
 */
async function timeQueuePosition(
  sql: Sql,
  times: number,
): Promise<{ ms: number[]; ahead: number }> {
  const [row] = await sql<{ id: string }[]>`
    SELECT id FROM tasks WHERE status = 'queued' AND admitted_at IS NULL
     ORDER BY seq DESC LIMIT 1`;
  const task = row ? await getTask(sql, row.id) : undefined;
  if (!task) throw new Error("growth: no queued task");
  const ms: number[] = [];
  let ahead = 0;
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    ahead = (await queuePosition(sql, task)).ahead;
    ms.push(performance.now() - t0);
  }
  return { ms, ahead };
}

async function timeLatestModel(sql: Sql, times: number): Promise<{ ms: number[]; pk: number[] }> {
  const ms: number[] = [];
  const pk: number[] = [];
  const [some] = await sql<{ task_id: string }[]>`SELECT task_id FROM models LIMIT 1`;
  for (let i = 0; i < times; i++) {
    let t0 = performance.now();
    await latestModel(sql);
    ms.push(performance.now() - t0);
    t0 = performance.now();
    await sql`SELECT summary FROM models WHERE task_id = ${some?.task_id ?? null}`;
    pk.push(performance.now() - t0);
  }
  return { ms, pk };
}

interface ControllerRun {
  rssPeak: number;
  rssStart: number;
  /** finished_at -> next started_at: worker exit + admission + the next worker's boot. */
  gaps: number[];
  /** released_at -> next admitted_at: the controller's own admission step. */
  admitSteps: number[];
  firstAdmissionMs: number;
}

/** A controller over a deep queue: runs `count` tasks, sampling its RSS, then stops. */
async function controllerRun(
  ctx: BenchContext,
  dbUrl: string,
  sql: Sql,
  count: number,
): Promise<ControllerRun> {
  const watch = new TerminalWatch(sql);
  await watch.start();
  const t0 = nowMs();
  const controller = await startApp(ctx, "controller", dbUrl, {
    TRAINYARD_MAX_RUNNING: String(CAP),
  });
  const rss: number[] = [];
  const rssStart = rssMiB(controller.pid) ?? Number.NaN;
  const sampler = setInterval(() => {
    const v = rssMiB(controller.pid);
    if (v !== undefined) rss.push(v);
  }, 50);
  try {
    const deadline = Date.now() + 300_000;
    while (watch.endedAt.size < count) {
      if (Date.now() > deadline) throw new Error("growth: the controller ran too few tasks");
      await sleep(20);
    }
  } finally {
    clearInterval(sampler);
    await controller.stop();
    await watch.stop();
  }
  // Workers started before the stop finish on their own; wait for them to go.
  for (let i = 0; i < 600; i++) {
    const [row] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE application_name = 'trainyard-worker' AND datname = current_database()`;
    if (row?.n === 0) break;
    await sleep(50);
  }
  const ids = [...watch.endedAt.keys()];
  const rows = (await taskTimes(sql, ids)).filter((r) => r.started && r.finished);
  const firstAdmitted = Math.min(...rows.map((r) => r.admitted ?? Infinity));
  return {
    rssPeak: Math.max(...rss),
    rssStart,
    gaps: slotGaps(
      rows.map((r) => r.finished ?? 0),
      rows.map((r) => r.started ?? 0),
      CAP,
    ),
    admitSteps: slotGaps(
      rows.flatMap((r) => (r.released ? [r.released] : [])),
      rows.flatMap((r) => (r.admitted ? [r.admitted] : [])),
      CAP,
    ),
    firstAdmissionMs: firstAdmitted - t0,
  };
}

export async function growthScenario(
  ctx: BenchContext,
  server: PgServer,
  report: Report,
): Promise<void> {
  const { opts } = ctx;
  const db = await freshDatabase(server, "growth");
  let api: App | undefined;
  try {
    api = await startApp(ctx, "polling", db.url);
    const summary = fitModel(await loadPenguins(DEFAULT_DATA_PATH));
    const c = opts.growthConcurrency;
    let stored = 0;
    let first:
      | { admission: number; position: number; rss: number; step50: number; step99: number }
      | undefined;
    for (const size of opts.growthSizes) {
      const t0 = Date.now();
      await addHistory(db.sql, size - stored, summary);
      stored = size;
      process.stdout.write(
        `growth: ${size} tasks stored in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`,
      );
      const [{ mark } = { mark: "0" }] = await db.sql<{ mark: string }[]>`
        SELECT COALESCE(max(seq), 0)::text AS mark FROM tasks`;
      const target = { app: api, sql: db.sql };
      await measureSubmit(opts, report, target, c, "growth", { stored: size }, () =>
        trimTo(db.sql, mark),
      );
      await measureStatus(opts, report, target, c, "growth", { stored: size });

      const model = await timeLatestModel(db.sql, opts.quick ? 5 : 20);
      report.add({
        scenario: "growth",
        name: "latest-model read (model cache refill after each completion)",
        params: { stored: size },
        unit: "ms",
        better: "lower",
        app: valueSide("latestModel() (src/models/store.ts)", [median(model.ms)]),
        baseline: valueSide("SELECT summary FROM models WHERE task_id = $1", [median(model.pk)]),
      });

      await addQueued(db.sql, size);
      const admission = await timeAdmission(db.sql, opts.quick ? 10 : 30);
      const preFix = await timeAdmission(db.sql, opts.quick ? 10 : 30, PRE_FIX_ADMISSION_SQL);
      const position = await timeQueuePosition(db.sql, opts.quick ? 5 : 20);
      // One controller run per size (each training costs a worker process): its ~30 slot
      // hand-overs are the samples of the latency percentiles.
      const ctrl: ControllerRun[] = [await controllerRun(ctx, db.url, db.sql, opts.admissionTasks)];
      await trimTo(db.sql, mark);
      const now = {
        admission: median(admission.ms),
        position: median(position.ms),
        rss: median(ctrl.map((r) => r.rssPeak)),
        step50: median(ctrl.map((r) => percentile(r.admitSteps, 50))),
        step99: median(ctrl.map((r) => percentile(r.admitSteps, 99))),
      };
      first ??= now;
      const smallest = opts.growthSizes[0] ?? size;
      const atSmallest = `the same with ${smallest} queued`;
      report.add({
        scenario: "growth",
        name: "admission transaction (lock + admit 4)",
        params: { queued: size },
        unit: "ms",
        better: "lower",
        app: valueSide(`admit()'s transaction, ${size} queued, rolled back`, admission.ms),
        baseline: valueSide(atSmallest, [first.admission]),
        notes: { plan: admission.plan },
      });
      report.add({
        scenario: "growth",
        name: "admission transaction, shipped vs before the fix (diagnostic)",
        params: { queued: size },
        unit: "ms",
        better: "lower",
        app: valueSide("admit() as shipped (count, then a constant LIMIT)", admission.ms),
        baseline: valueSide("the statement before finding 2's fix (LIMIT expression)", preFix.ms),
        notes: { pre_fix_plan: preFix.plan },
      });
      report.add({
        scenario: "growth",
        name: "queue position of the last queued task (GET /train/{id}/status of a queued task)",
        params: { queued: size },
        unit: "ms",
        better: "lower",
        app: valueSide(
          `queuePosition() (src/tasks/store.ts), ${position.ahead} ahead`,
          position.ms,
        ),
        baseline: valueSide(atSmallest, [first.position]),
      });
      report.add({
        scenario: "growth",
        name: "controller RSS, peak",
        params: { queued: size },
        unit: "MiB",
        better: "lower",
        app: valueSide(
          `controller running ${opts.admissionTasks} of ${size} queued`,
          ctrl.map((r) => r.rssPeak),
        ),
        baseline: valueSide(atSmallest, [first.rss]),
        notes: {
          rss_at_ready_mib: ctrl.map((r) => round(r.rssStart)),
          first_admission_after_start_ms: ctrl.map((r) => round(r.firstAdmissionMs)),
        },
      });
      for (const [p, base] of [
        [50, first.step50],
        [99, first.step99],
      ] as const) {
        report.add({
          scenario: "growth",
          name: `controller admission step p${p} (slot released -> next task admitted)`,
          params: { queued: size },
          unit: "ms",
          better: "lower",
          app: valueSide(
            `controller, ${size} queued`,
            ctrl.map((r) => percentile(r.admitSteps, p)),
          ),
          baseline: valueSide(atSmallest, [base]),
          notes: {
            slot_freed_to_next_started_ms: ctrl.map((r) => round(percentile(r.gaps, p))),
          },
        });
      }
    }
  } finally {
    await api?.stop();
    await db.drop();
  }
}
