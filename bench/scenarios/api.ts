// Figures 1 and 2: POST /train (polling app) and GET /train/{id}/status per second, each beside
// the same statement sent straight from postgres.js at the same concurrency. No controller
// runs, so every submitted task stays queued and nothing else touches the table.
import { randomUUID } from "node:crypto";
import type { Sql } from "../../src/db/connect.js";
import { httpLoad, sqlLoad } from "../lib/load.js";
import type { BenchOptions } from "../lib/options.js";
import { startApp, type App, type BenchContext } from "../lib/processes.js";
import { freshDatabase, type PgServer } from "../lib/postgres.js";
import { side, type Report } from "../lib/report.js";
import { interleaved } from "../lib/series.js";

/** What the polling app stores for POST /train {} with TRAINYARD_DEFAULT_DURATION_SECONDS=0. */
export const DEFAULT_PARAMS = { duration_seconds: 0, timeout_seconds: 7200 };

/**
 * The statement insertTask (src/tasks/store.ts) sends for a submission without an
 * Idempotency-Key, with its RETURNING *: one round trip, one commit, the NOTIFY trigger firing.
 */
export function bareInsert(sql: Sql): Promise<unknown> {
  return sql`
    INSERT INTO tasks (id, status, app, params, idempotency_key, callback_url)
    VALUES (${randomUUID()}, 'queued', 'polling', ${sql.json(DEFAULT_PARAMS)}, ${null}, ${null})
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING *`;
}

/** The primary-key read getTask sends. */
export function bareSelect(sql: Sql, id: string): Promise<unknown> {
  return sql`SELECT * FROM tasks WHERE id = ${id}`;
}

export interface ApiTarget {
  app: App;
  sql: Sql;
}

export async function measureSubmit(
  opts: BenchOptions,
  report: Report,
  target: ApiTarget,
  concurrency: number,
  scenario: string,
  extraParams: Record<string, string | number> = {},
  between?: () => Promise<void>,
): Promise<void> {
  const { app, sql } = target;
  const results = await interleaved(
    opts,
    (durationS) =>
      httpLoad({
        url: `${app.url("polling")}/train`,
        concurrency,
        durationS,
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json" },
        okStatus: 202,
        serverPid: app.pid,
      }),
    (durationS) => sqlLoad(concurrency, durationS, () => bareInsert(sql)),
    between,
  );
  report.add({
    scenario,
    name: "POST /train accepted",
    params: { concurrency, ...extraParams },
    unit: "req/s",
    better: "higher",
    app: side("polling app, HTTP, no controller (tasks stay queued)", results.app),
    baseline: side("postgres.js: the same INSERT ... RETURNING *, pool of 10", results.baseline),
  });
}

export async function measureStatus(
  opts: BenchOptions,
  report: Report,
  target: ApiTarget,
  concurrency: number,
  scenario: string,
  extraParams: Record<string, string | number> = {},
): Promise<void> {
  const { app, sql } = target;
  // Existing tasks, spread over the whole table, read in random order by both sides.
  const rows = await sql<{ id: string }[]>`SELECT id FROM tasks ORDER BY random() LIMIT 2000`;
  const ids = rows.map((r) => r.id);
  if (ids.length === 0) throw new Error("status: no task to read");
  const pick = (): string => ids[Math.floor(Math.random() * ids.length)] ?? "";
  const results = await interleaved(
    opts,
    (durationS) =>
      httpLoad({
        url: `${app.url("polling")}/train`,
        concurrency,
        durationS,
        setupRequest: (req) => ({ ...req, method: "GET", path: `/train/${pick()}/status` }),
        okStatus: 200,
        serverPid: app.pid,
      }),
    (durationS) => sqlLoad(concurrency, durationS, () => bareSelect(sql, pick())),
  );
  report.add({
    scenario,
    name: "GET /train/{id}/status",
    params: { concurrency, ...extraParams },
    unit: "req/s",
    better: "higher",
    app: side("polling app, HTTP", results.app),
    baseline: side("postgres.js: SELECT * FROM tasks WHERE id = $1, pool of 10", results.baseline),
  });
}

/** The same submissions with request logging off (LOG_LEVEL=warn), beside the app as run. */
async function loggingDiagnostic(
  ctx: BenchContext,
  report: Report,
  databaseUrl: string,
  app: App,
): Promise<void> {
  const quiet = await startApp(ctx, "polling", databaseUrl, { LOG_LEVEL: "warn" });
  try {
    const c = 16;
    const load = (target: App) => (durationS: number) =>
      httpLoad({
        url: `${target.url("polling")}/train`,
        concurrency: c,
        durationS,
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json" },
        okStatus: 202,
        serverPid: target.pid,
      });
    const results = await interleaved(ctx.opts, load(quiet), load(app));
    report.add({
      scenario: "submit",
      name: "POST /train accepted, LOG_LEVEL=warn (diagnostic)",
      params: { concurrency: c },
      unit: "req/s",
      better: "higher",
      app: side("polling app, LOG_LEVEL=warn", results.app),
      baseline: side(`polling app, LOG_LEVEL=${ctx.opts.logLevel}`, results.baseline),
    });
  } finally {
    await quiet.stop();
  }
}

export async function apiScenario(
  ctx: BenchContext,
  server: PgServer,
  report: Report,
  which: { submit: boolean; status: boolean },
): Promise<void> {
  const db = await freshDatabase(server, "api");
  let app: App | undefined;
  try {
    app = await startApp(ctx, "polling", db.url);
    const target = { app, sql: db.sql };
    if (which.submit) {
      for (const c of ctx.opts.concurrency) {
        await measureSubmit(ctx.opts, report, target, c, "submit");
      }
      if (ctx.opts.logLevel !== "warn") await loggingDiagnostic(ctx, report, db.url, app);
    }
    if (which.status) {
      // Something to read when submit was skipped.
      const [{ n } = { n: 0 }] = await db.sql<
        { n: number }[]
      >`SELECT count(*)::int AS n FROM tasks`;
      if (n < 1000) for (let i = n; i < 1000; i++) await bareInsert(db.sql);
      for (const c of ctx.opts.concurrency) {
        await measureStatus(ctx.opts, report, target, c, "status");
      }
    }
  } finally {
    await app?.stop();
    await db.drop();
  }
}
