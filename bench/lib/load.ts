// The two load shapes every throughput figure uses, both closed loops of `concurrency` clients
// that each send the next request as soon as the previous one is answered:
// - httpLoad: autocannon against a service, one keep-alive connection per client;
// - sqlLoad: the same number of async loops calling postgres.js directly (the baselines).
// Both record every request's latency (autocannon's own histogram has 1 ms resolution).
import autocannon, { type AutocannonRequest } from "autocannon";
import { cpuMs } from "./processes.js";
import { latencySummary, type LatencySummary } from "./stats.js";

export interface LoadResult {
  /** Successful requests per second. */
  rate: number;
  ok: number;
  failed: number;
  seconds: number;
  latencyMs: LatencySummary;
  /**
   * CPU time per successful request of the process doing the work: the server's for HTTP
   * (from /proc, 10 ms ticks), the bench's own postgres.js client for SQL. Postgres excluded.
   */
  cpuUsPerReq?: number;
}

export interface HttpLoad {
  url: string;
  concurrency: number;
  durationS: number;
  method?: "GET" | "POST" | "DELETE";
  body?: string;
  headers?: Record<string, string>;
  /** Builds each request (e.g. a different task id each time). */
  setupRequest?: (req: AutocannonRequest) => AutocannonRequest;
  /** The status a success answers; others count as failed. Default: any 2xx. */
  okStatus?: number;
  /** The server's pid, to report its CPU time per request. */
  serverPid?: number;
}

export async function httpLoad(load: HttpLoad): Promise<LoadResult> {
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  const cpu0 = load.serverPid ? cpuMs(load.serverPid) : undefined;
  const instance = autocannon({
    url: load.url,
    connections: load.concurrency,
    duration: load.durationS,
    method: load.method ?? "GET",
    ...(load.body !== undefined ? { body: load.body } : {}),
    headers: load.headers ?? {},
    ...(load.setupRequest ? { requests: [{ setupRequest: load.setupRequest }] } : {}),
  });
  instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
    const good = load.okStatus ? status === load.okStatus : status >= 200 && status < 300;
    if (good) {
      ok++;
      latencies.push(ms);
    } else failed++;
  });
  const result = await instance;
  const seconds = Math.min(result.duration, (performance.now() - started) / 1000);
  failed += result.errors;
  const cpu1 = load.serverPid ? cpuMs(load.serverPid) : undefined;
  return {
    rate: ok / seconds,
    ok,
    failed,
    seconds,
    latencyMs: latencySummary(latencies),
    ...(cpu0 !== undefined && cpu1 !== undefined && ok > 0
      ? { cpuUsPerReq: ((cpu1 - cpu0) * 1000) / ok }
      : {}),
  };
}

/** `concurrency` loops calling `op` back to back for `durationS` seconds. */
export async function sqlLoad(
  concurrency: number,
  durationS: number,
  op: (client: number) => Promise<unknown>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  let firstError: unknown;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const end = started + durationS * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, client) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await op(client);
          latencies.push(performance.now() - t0);
          ok++;
        } catch (err) {
          firstError ??= err;
          failed++;
        }
      }
    }),
  );
  if (ok === 0 && firstError) {
    throw firstError instanceof Error ? firstError : new Error(JSON.stringify(firstError));
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    rate: ok / seconds,
    ok,
    failed,
    seconds,
    latencyMs: latencySummary(latencies),
    cpuUsPerReq: ok > 0 ? (cpu.user + cpu.system) / ok : Number.NaN,
  };
}
