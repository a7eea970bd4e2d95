// The benchmark's knobs, all from BENCH_* environment variables (the service's own settings stay
// in src/config.ts; these only steer the harness). BENCH_QUICK=1 is a smoke run of ~2 minutes.

export const SCENARIOS = ["submit", "status", "predict", "e2e", "growth", "webhooks"] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface BenchOptions {
  quick: boolean;
  /** Runs per figure; the figure is their median. */
  runs: number;
  /** Seconds of load per HTTP or SQL run. */
  durationS: number;
  /** Seconds of load before a series, not counted (JIT, pools, caches). */
  warmupS: number;
  concurrency: number[];
  scenarios: Scenario[];
  /** Short trainings per side of the end-to-end figure, split over the runs. */
  e2eTasks: number;
  /** Cancels measured per run (and side). */
  cancels: number;
  /** Stored task counts of the growth scenario. */
  growthSizes: number[];
  /** Concurrency of the growth scenario's submit and status runs. */
  growthConcurrency: number;
  /** Trainings completed per admission measurement (growth). */
  admissionTasks: number;
  /** Tasks whose callback latency is measured per run, and deliveries drained per run. */
  webhookLatencyTasks: number;
  webhookDrainTasks: number;
  /** Log level of the service's processes (its production default is info). */
  logLevel: string;
  /** fsync=off, synchronous_commit=off: faster, not what production runs. */
  pgFast: boolean;
  /** An existing server (superuser URL) instead of an embedded one. */
  adminUrl: string | undefined;
  /** Write CPU profiles of the service's processes (node --cpu-prof) into this folder. */
  cpuProfDir: string | undefined;
  /** Where the JSON result is written. */
  resultsDir: string;
}

function int(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

function ints(name: string, fallback: number[]): number[] {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const values = raw.split(",").map((s) => Number(s.trim()));
  if (values.some((v) => !Number.isInteger(v) || v <= 0)) {
    throw new Error(`${name} must be a comma-separated list of positive integers`);
  }
  return values;
}

function flag(name: string): boolean {
  return ["1", "true", "yes", "on"].includes(process.env[name]?.trim().toLowerCase() ?? "");
}

export function loadOptions(resultsDir: string): BenchOptions {
  const quick = flag("BENCH_QUICK");
  const only = process.env.BENCH_ONLY?.trim();
  const scenarios = only
    ? only.split(",").map((s) => {
        const name = s.trim() as Scenario;
        if (!SCENARIOS.includes(name)) {
          throw new Error(`BENCH_ONLY: unknown scenario "${s}"; known: ${SCENARIOS.join(", ")}`);
        }
        return name;
      })
    : [...SCENARIOS];
  const growthSizes = ints("BENCH_GROWTH_SIZES", quick ? [1000, 10_000] : [1000, 100_000]);
  if (flag("BENCH_GROWTH_1M") && !growthSizes.includes(1_000_000)) growthSizes.push(1_000_000);
  return {
    quick,
    runs: int("BENCH_RUNS", quick ? 1 : 3),
    durationS: int("BENCH_DURATION_S", quick ? 1.5 : 2.5),
    warmupS: int("BENCH_WARMUP_S", quick ? 0.5 : 1),
    concurrency: ints("BENCH_CONCURRENCY", [1, 16, 64]),
    scenarios,
    e2eTasks: int("BENCH_E2E_TASKS", quick ? 16 : 120),
    cancels: int("BENCH_CANCELS", quick ? 4 : 8),
    growthSizes: growthSizes.sort((a, b) => a - b),
    growthConcurrency: int("BENCH_GROWTH_CONCURRENCY", 16),
    admissionTasks: int("BENCH_ADMISSION_TASKS", quick ? 12 : 32),
    webhookLatencyTasks: int("BENCH_WEBHOOK_LATENCY_TASKS", quick ? 20 : 50),
    webhookDrainTasks: int("BENCH_WEBHOOK_DRAIN_TASKS", quick ? 200 : 1000),
    logLevel: process.env.BENCH_LOG_LEVEL?.trim() || "info",
    pgFast: flag("BENCH_PG_FAST"),
    adminUrl: process.env.BENCH_ADMIN_URL?.trim() || undefined,
    cpuProfDir: process.env.BENCH_CPU_PROF_DIR?.trim() || undefined,
    resultsDir,
  };
}
