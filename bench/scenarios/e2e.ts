// Figure 4: short trainings end to end through the local runner with the cap at 4 (polling app
// + controller), beside the bare worker entrypoint run 4 at a time by the bench itself on
// pre-admitted rows (no controller). Also: admission latency (slot freed -> next run started,
// from the rows' timestamps) and cancel latency (DELETE -> worker process gone).
import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import type { Sql } from "../../src/db/connect.js";
import type { BenchOptions } from "../lib/options.js";
import {
  processAlive,
  spawnWorker,
  startApp,
  type App,
  type BenchContext,
  type Proc,
} from "../lib/processes.js";
import { freshDatabase, type BenchDatabase, type PgServer } from "../lib/postgres.js";
import { valueSide, type Report } from "../lib/report.js";
import { latencySummary, median, percentile, round } from "../lib/stats.js";
import {
  nowMs,
  slotGaps,
  submitMany,
  taskTimes,
  TerminalWatch,
  type TaskTimes,
} from "../lib/tasks.js";

const CAP = 4;

interface E2eRun {
  tasksPerSecond: number;
  seconds: number;
  gaps: number[];
  /** Where the app's gap goes: finished->released, released->admitted, admitted->started. */
  parts?: { exit: number[]; admit: number[]; boot: number[] };
  failed: number;
}

/** Inserts `count` queued tasks already admitted, as admission leaves them. */
async function preAdmitted(sql: Sql, count: number, durationSeconds: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    INSERT INTO tasks (id, status, app, params, admitted_at)
    SELECT gen_random_uuid(), 'queued', 'bench',
           ${sql.json({ duration_seconds: durationSeconds, timeout_seconds: 7200 })}, now()
      FROM generate_series(1, ${count})
    RETURNING id, seq`;
  return rows.map((r) => r.id);
}

async function waitReleased(sql: Sql, ids: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const [row] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM tasks
       WHERE id = ANY(${sql.array(ids)}::uuid[]) AND released_at IS NOT NULL`;
    if (row?.n === ids.length) return;
    await sleep(50);
  }
  throw new Error("slots were not released in time");
}

function numbers(values: (number | null)[]): number[] {
  return values.filter((v): v is number => v !== null);
}

function pairGaps(from: (number | null)[], to: (number | null)[], cap: number): number[] {
  return slotGaps(numbers(from), numbers(to), cap);
}

async function appRun(
  api: App,
  db: BenchDatabase,
  watch: TerminalWatch,
  n: number,
): Promise<E2eRun> {
  const t0 = nowMs();
  const ids = await submitMany(api.url("polling"), n, { duration_seconds: 0 });
  const t1 = await watch.waitAll(ids);
  await waitReleased(db.sql, ids);
  const rows = await taskTimes(db.sql, ids);
  const per = (f: (r: TaskTimes) => number | null) => rows.map(f);
  return {
    tasksPerSecond: n / ((t1 - t0) / 1000),
    seconds: (t1 - t0) / 1000,
    gaps: pairGaps(
      per((r) => r.finished),
      per((r) => r.started),
      CAP,
    ),
    parts: {
      exit: rows.flatMap((r) => (r.released && r.finished ? [r.released - r.finished] : [])),
      admit: pairGaps(
        per((r) => r.released),
        per((r) => r.admitted),
        CAP,
      ),
      boot: rows.flatMap((r) => (r.started && r.admitted ? [r.started - r.admitted] : [])),
    },
    failed: rows.filter((r) => r.status !== "completed").length,
  };
}

async function runWorkers(
  ctx: BenchContext,
  dbUrl: string,
  ids: string[],
  parallel: number,
  lean: boolean,
) {
  const queue = [...ids];
  const spawnedAt = new Map<string, number>();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        spawnedAt.set(id, nowMs());
        const child = spawnWorker(ctx, dbUrl, id, lean);
        await new Promise<void>((resolve) => child.once("exit", () => resolve()));
      }
    }),
  );
  return spawnedAt;
}

async function baselineRun(
  ctx: BenchContext,
  db: BenchDatabase,
  watch: TerminalWatch,
  n: number,
  lean = false,
): Promise<E2eRun> {
  const ids = await preAdmitted(db.sql, n, 0);
  const t0 = nowMs();
  await runWorkers(ctx, db.url, ids, CAP, lean);
  const t1 = await watch.waitAll(ids);
  const rows = await taskTimes(db.sql, ids);
  return {
    tasksPerSecond: n / ((t1 - t0) / 1000),
    seconds: (t1 - t0) / 1000,
    gaps: pairGaps(
      rows.map((r) => r.finished),
      rows.map((r) => r.started),
      CAP,
    ),
    failed: rows.filter((r) => r.status !== "completed").length,
  };
}

/** Waits until `want` of `ids` are running with a recorded worker (none still booting). */
async function running(db: BenchDatabase, ids: string[], want: number) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const rows = await db.sql<{ id: string; runner_ref: string }[]>`
      SELECT id, runner_ref FROM tasks
       WHERE id = ANY(${db.sql.array(ids)}::uuid[]) AND status = 'running'
         AND runner_ref IS NOT NULL`;
    if (rows.length >= want) return rows;
    if (Date.now() > deadline) throw new Error(`cancel: ${rows.length} of ${want} running in time`);
    await sleep(5);
  }
}

/**
 * DELETE /train/{id} of a running task -> its worker process gone, one task at a time, each
 * once every admitted task is running: the steady state, not a replacement worker's boot.
 */
async function appCancels(api: App, db: BenchDatabase, count: number) {
  const ids = await submitMany(api.url("polling"), count, { duration_seconds: 600 });
  const total: number[] = [];
  const answered: number[] = [];
  const left = new Set(ids);
  for (let i = 0; i < count; i++) {
    const live = (await running(db, [...left], Math.min(CAP, left.size)))[0];
    if (!live) throw new Error("cancel: nothing running");
    left.delete(live.id);
    const pid = Number(/^pid:(\d+)@/.exec(live.runner_ref)?.[1]);
    const t0 = nowMs();
    const res = await fetch(`${api.url("polling")}/train/${live.id}`, { method: "DELETE" });
    await res.arrayBuffer();
    answered.push(nowMs() - t0);
    if (res.status !== 200) throw new Error(`DELETE answered ${res.status}`);
    total.push(await gone(pid, t0));
  }
  return { total, answered };
}

/** SIGTERM to running bare workers' groups (as the runner signals) -> process gone. */
async function baselineCancels(ctx: BenchContext, db: BenchDatabase, count: number) {
  const ids = await preAdmitted(db.sql, count, 600);
  const children = new Map<string, ChildProcess>();
  for (const id of ids) children.set(id, spawnWorker(ctx, db.url, id));
  await running(db, ids, count);
  const total: number[] = [];
  for (const child of children.values()) {
    const pid = child.pid;
    if (pid === undefined) throw new Error("baseline cancel: a worker did not start");
    const t0 = nowMs();
    process.kill(-pid, "SIGTERM");
    total.push(await gone(pid, t0));
  }
  return { total };
}

async function gone(pid: number, t0: number): Promise<number> {
  const deadline = Date.now() + 30_000;
  while (processAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`worker ${pid} still alive 30 s after its cancel`);
    await sleep(1);
  }
  return nowMs() - t0;
}

function summary(runs: E2eRun[], pick: (r: E2eRun) => number[], p: number): number[] {
  return runs.map((r) => percentile(pick(r), p));
}

export async function e2eScenario(
  ctx: BenchContext,
  server: PgServer,
  report: Report,
): Promise<void> {
  const opts: BenchOptions = ctx.opts;
  const appDb = await freshDatabase(server, "e2e_app");
  const baseDb = await freshDatabase(server, "e2e_base");
  const procs: Proc[] = [];
  const appWatch = new TerminalWatch(appDb.sql);
  const baseWatch = new TerminalWatch(baseDb.sql);
  try {
    await appWatch.start();
    await baseWatch.start();
    const api = await startApp(ctx, "polling", appDb.url);
    procs.push(api);
    procs.push(
      await startApp(ctx, "controller", appDb.url, { TRAINYARD_MAX_RUNNING: String(CAP) }),
    );

    // Warm-up (page cache, JIT of the long-lived processes), not counted.
    await appRun(api, appDb, appWatch, 2 * CAP);
    await baselineRun(ctx, baseDb, baseWatch, 2 * CAP);

    // BENCH_E2E_TASKS trainings per side in all, split over the runs.
    const perRun = Math.max(2 * CAP, Math.ceil(opts.e2eTasks / opts.runs));
    const app: E2eRun[] = [];
    const base: E2eRun[] = [];
    for (let run = 0; run < opts.runs; run++) {
      app.push(await appRun(api, appDb, appWatch, perRun));
      base.push(await baselineRun(ctx, baseDb, baseWatch, perRun));
    }
    // Diagnostic: the same loop with an entrypoint that imports only what a worker needs.
    const leanTasks = Math.min(perRun, 40);
    const lean = await baselineRun(ctx, baseDb, baseWatch, leanTasks, true);
    const leanBase = await baselineRun(ctx, baseDb, baseWatch, leanTasks);
    const failed = [...app, ...base].reduce((n, r) => n + r.failed, 0);
    if (failed > 0) process.stderr.write(`warning: e2e: ${failed} tasks did not complete\n`);
    report.add({
      scenario: "e2e",
      name: "trainings completed (duration 0, cap 4)",
      params: { tasks: perRun * opts.runs, per_run: perRun },
      unit: "tasks/s",
      better: "higher",
      app: valueSide(
        "polling app + controller + local runner; submit -> all terminal",
        app.map((r) => r.tasksPerSecond),
      ),
      baseline: valueSide(
        "bench spawns `main.js worker <id>` 4 at a time on pre-admitted rows",
        base.map((r) => r.tasksPerSecond),
      ),
      notes: {
        app_seconds: app.map((r) => round(r.seconds)),
        base_seconds: base.map((r) => round(r.seconds)),
        failed,
      },
    });
    report.add({
      scenario: "e2e",
      name: "bare worker loop, lean entrypoint (diagnostic)",
      params: { tasks: leanTasks },
      unit: "tasks/s",
      better: "higher",
      app: valueSide("bench/lean-worker.js: config, log, db, worker only", [lean.tasksPerSecond]),
      baseline: valueSide("dist/src/main.js worker (imports every app)", [leanBase.tasksPerSecond]),
      notes: {
        lean_gap_p50_ms: round(percentile(lean.gaps, 50)),
        main_gap_p50_ms: round(percentile(leanBase.gaps, 50)),
      },
    });
    for (const p of [50, 99]) {
      const parts = (pick: (r: E2eRun) => number[] | undefined) =>
        round(median(app.map((r) => percentile(pick(r) ?? [], p))));
      report.add({
        scenario: "e2e",
        name: `admission latency p${p} (slot freed -> next run started)`,
        params: { tasks: perRun * opts.runs, per_run: perRun },
        unit: "ms",
        better: "lower",
        app: valueSide(
          "finished_at -> next started_at, controller",
          summary(app, (r) => r.gaps, p),
        ),
        baseline: valueSide(
          "finished_at -> next started_at, bench loop respawning at once",
          summary(base, (r) => r.gaps, p),
        ),
        notes: {
          app_finished_to_released_ms: parts((r) => r.parts?.exit),
          app_released_to_admitted_ms: parts((r) => r.parts?.admit),
          app_admitted_to_started_ms: parts((r) => r.parts?.boot),
        },
      });
    }

    const appCancel: number[][] = [];
    const answered: number[][] = [];
    const baseCancel: number[][] = [];
    for (let run = 0; run < opts.runs; run++) {
      const a = await appCancels(api, appDb, opts.cancels);
      appCancel.push(a.total);
      answered.push(a.answered);
      baseCancel.push((await baselineCancels(ctx, baseDb, opts.cancels)).total);
    }
    for (const p of [50, 99]) {
      report.add({
        scenario: "e2e",
        name: `cancel latency p${p} (DELETE -> worker process gone)`,
        params: { cancels: opts.cancels },
        unit: "ms",
        better: "lower",
        app: valueSide(
          "DELETE /train/{id} of a running task (duration 600)",
          appCancel.map((r) => percentile(r, p)),
        ),
        baseline: valueSide(
          "SIGTERM to a bare running worker's group",
          baseCancel.map((r) => percentile(r, p)),
        ),
        notes: { delete_answered_ms: latencySummary(answered.flat()) },
      });
    }
  } finally {
    await appWatch.stop().catch(() => undefined);
    await baseWatch.stop().catch(() => undefined);
    for (const p of procs.reverse()) await p.stop();
    await appDb.drop();
    await baseDb.drop();
  }
}
