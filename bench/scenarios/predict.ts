// Figure 3: POST /predict per second and its latency, beside a bare fastify route answering
// constant JSON in a process of its own, at the same concurrency. One real training runs first
// (duration 0) so that a model exists; the controller is stopped before the load.
import { setTimeout as sleep } from "node:timers/promises";
import { httpLoad } from "../lib/load.js";
import {
  startApp,
  startBareServer,
  type App,
  type BenchContext,
  type Proc,
} from "../lib/processes.js";
import { freshDatabase, type PgServer } from "../lib/postgres.js";
import { side, type Report } from "../lib/report.js";
import { interleaved } from "../lib/series.js";

export const PENGUIN = {
  species: "Adelie",
  island: "Torgersen",
  bill_length_mm: 39.1,
  bill_depth_mm: 18.7,
  flipper_length_mm: 181,
  sex: "male",
};

const BODY = JSON.stringify({ data: PENGUIN });

/** Submits one training and waits for its completion (a controller must be running). */
export async function trainOnce(api: App): Promise<string> {
  const res = await fetch(`${api.url("polling")}/train`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ duration_seconds: 0 }),
  });
  const { id } = (await res.json()) as { id: string };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const s = await fetch(`${api.url("polling")}/train/${id}/status`);
    const body = (await s.json()) as { status: string };
    if (body.status === "completed") return id;
    if (body.status === "failed" || body.status === "cancelled") {
      throw new Error(`training ${id} ended ${body.status}`);
    }
    await sleep(50);
  }
  throw new Error(`training ${id} did not complete in time`);
}

function predictLoad(url: string, pid: number, concurrency: number) {
  return (durationS: number) =>
    httpLoad({
      url: `${url}/predict`,
      concurrency,
      durationS,
      method: "POST",
      body: BODY,
      headers: { "content-type": "application/json" },
      okStatus: 200,
      serverPid: pid,
    });
}

export async function predictScenario(
  ctx: BenchContext,
  server: PgServer,
  report: Report,
): Promise<void> {
  const db = await freshDatabase(server, "predict");
  const procs: Proc[] = [];
  try {
    const api = await startApp(ctx, "polling", db.url);
    procs.push(api);
    const controller = await startApp(ctx, "controller", db.url);
    await trainOnce(api);
    await controller.stop();
    const bare = await startBareServer(ctx);
    procs.push(bare);
    for (const c of ctx.opts.concurrency) {
      const results = await interleaved(
        ctx.opts,
        predictLoad(api.url("polling"), api.pid, c),
        predictLoad(bare.url, bare.pid, c),
      );
      report.add({
        scenario: "predict",
        name: "POST /predict",
        params: { concurrency: c },
        unit: "req/s",
        better: "higher",
        app: side(`polling app, LOG_LEVEL=${ctx.opts.logLevel}, cached model`, results.app),
        baseline: side("bare fastify route, constant JSON, own process", results.baseline),
      });
    }
    // Diagnostic: the same app with request logging off, to size what logging costs.
    if (ctx.opts.logLevel !== "warn") {
      const quiet = await startApp(ctx, "polling", db.url, { LOG_LEVEL: "warn" });
      procs.push(quiet);
      const c = 16;
      const results = await interleaved(
        ctx.opts,
        predictLoad(quiet.url("polling"), quiet.pid, c),
        predictLoad(api.url("polling"), api.pid, c),
      );
      report.add({
        scenario: "predict",
        name: "POST /predict, LOG_LEVEL=warn (diagnostic)",
        params: { concurrency: c },
        unit: "req/s",
        better: "higher",
        app: side("polling app, LOG_LEVEL=warn", results.app),
        baseline: side(`polling app, LOG_LEVEL=${ctx.opts.logLevel}`, results.baseline),
      });
    }
  } finally {
    for (const p of procs) await p.stop();
    await db.drop();
  }
}
