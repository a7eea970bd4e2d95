// `npm run bench`: trainyard's benchmarks. Starts a throwaway Postgres (embedded, as the test
// suite does), runs each scenario against real processes on loopback, prints every figure
// beside its baseline measured in the same run, and writes bench/results/<timestamp>.json.
// Knobs: see bench/lib/options.ts and docs/benchmarks.md.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadOptions, type Scenario } from "./lib/options.js";
import { startPostgres } from "./lib/postgres.js";
import type { BenchContext } from "./lib/processes.js";
import { Report } from "./lib/report.js";
import { apiScenario } from "./scenarios/api.js";
import { e2eScenario } from "./scenarios/e2e.js";
import { growthScenario } from "./scenarios/growth.js";
import { predictScenario } from "./scenarios/predict.js";
import { webhooksScenario } from "./scenarios/webhooks.js";

const RESULTS_DIR = fileURLToPath(new URL("../../bench/results", import.meta.url));

function gitCommit(): string | undefined {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  const opts = loadOptions(RESULTS_DIR);
  const workDir = await mkdtemp(join(tmpdir(), "trainyard-bench-"));
  const ctx: BenchContext = { opts, workDir };
  const report = new Report();
  const started = Date.now();
  const errors: { scenario: Scenario; error: string }[] = [];
  const load = { start: loadavg().map((l) => Number(l.toFixed(2))), end: [] as number[] };
  process.stdout.write(
    `trainyard bench: scenarios ${opts.scenarios.join(", ")}; ${opts.runs} run(s) of ` +
      `${opts.durationS}s per figure; load average ${load.start.join(" ")} on ${cpus().length} CPUs\n`,
  );
  const server = await startPostgres(opts);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      process.stderr.write(`${signal}: stopping Postgres\n`);
      void server.stop().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    });
  }
  try {
    const api = {
      submit: opts.scenarios.includes("submit"),
      status: opts.scenarios.includes("status"),
    };
    const steps: [Scenario, () => Promise<void>][] = [
      ["submit", () => apiScenario(ctx, server, report, api)],
      ["predict", () => predictScenario(ctx, server, report)],
      ["e2e", () => e2eScenario(ctx, server, report)],
      ["growth", () => growthScenario(ctx, server, report)],
      ["webhooks", () => webhooksScenario(ctx, server, report)],
    ];
    for (const [name, run] of steps) {
      const wanted = name === "submit" ? api.submit || api.status : opts.scenarios.includes(name);
      if (!wanted) continue;
      const t0 = Date.now();
      try {
        await run();
      } catch (err) {
        const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
        process.stderr.write(`scenario ${name} failed: ${error}\n`);
        errors.push({ scenario: name, error });
      }
      process.stdout.write(`-- ${name} took ${((Date.now() - t0) / 1000).toFixed(0)}s\n`);
    }
  } finally {
    await server.stop();
    if (errors.length === 0) await rm(workDir, { recursive: true, force: true });
    else process.stderr.write(`logs kept in ${workDir}\n`);
  }
  load.end = loadavg().map((l) => Number(l.toFixed(2)));
  const meta = {
    commit: gitCommit(),
    node: process.version,
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    load_average: load,
    seconds: Math.round((Date.now() - started) / 1000),
    postgres_settings: server.settings,
    options: { ...opts, resultsDir: undefined },
    errors,
  };
  const file = await report.write(opts.resultsDir, meta);
  process.stdout.write(`\n${report.table()}\n\nwritten to ${file} in ${meta.seconds}s\n`);
  return errors.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
