// Small statistics helpers: every figure of the benchmarks is a median of runs, and latencies
// are percentiles of the individual samples a run recorded.

/** Linear-interpolated percentile (p in 0..100) of unsorted values; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] ?? Number.NaN;
  const b = sorted[hi] ?? Number.NaN;
  return a + (b - a) * (rank - lo);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export interface LatencySummary {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export function latencySummary(values: readonly number[]): LatencySummary {
  return {
    n: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    // Not Math.max(...values): a long run's samples overflow the call stack as arguments.
    max: values.length === 0 ? Number.NaN : values.reduce((m, v) => Math.max(m, v), -Infinity),
  };
}

/** Rounds for display and for the JSON file: 3 significant digits, at most 3 decimals. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  if (value === 0) return 0;
  const digits = Math.max(0, Math.min(3, 2 - Math.floor(Math.log10(Math.abs(value)))));
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
