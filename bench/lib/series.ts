// Runs an app measurement and its baseline alternately (app, baseline, app, baseline, ...) after
// one warm-up of each, so that a burst of load from elsewhere on the machine hits both sides
// rather than one of them.
import type { LoadResult } from "./load.js";
import type { BenchOptions } from "./options.js";

export type Measure = (durationS: number) => Promise<LoadResult>;

export async function interleaved(
  opts: BenchOptions,
  app: Measure,
  baseline: Measure,
  between?: () => Promise<void>,
): Promise<{ app: LoadResult[]; baseline: LoadResult[] }> {
  await app(opts.warmupS);
  await between?.();
  await baseline(opts.warmupS);
  await between?.();
  const out = { app: [] as LoadResult[], baseline: [] as LoadResult[] };
  for (let run = 0; run < opts.runs; run++) {
    out.app.push(check("app", await app(opts.durationS)));
    await between?.();
    out.baseline.push(check("baseline", await baseline(opts.durationS)));
    await between?.();
  }
  return out;
}

function check(which: string, result: LoadResult): LoadResult {
  if (result.ok === 0) throw new Error(`${which}: no successful request (${result.failed} failed)`);
  if (result.failed > 0) {
    process.stderr.write(
      `warning: ${which}: ${result.failed} of ${result.ok + result.failed} failed\n`,
    );
  }
  return result;
}
