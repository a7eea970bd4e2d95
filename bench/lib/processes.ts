// Child processes of the benchmark: trainyard apps started as users start them
// (`node dist/src/main.js <app>`), the bare fastify baseline, and the webhook receiver. Their
// output goes to files, never through the bench process: a pipe read here would cost the load
// generator CPU and bias every figure.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { freePort } from "../../tests/support/ports.js";
import type { BenchOptions } from "./options.js";

export const MAIN = fileURLToPath(new URL("../../src/main.js", import.meta.url));
export const BARE_SERVER = fileURLToPath(new URL("../bare-server.js", import.meta.url));
export const RECEIVER = fileURLToPath(new URL("../receiver.js", import.meta.url));
export const LEAN_WORKER = fileURLToPath(new URL("../lean-worker.js", import.meta.url));

export interface Proc {
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** SIGTERM (or the given signal) and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<void>;
}

export interface BenchContext {
  opts: BenchOptions;
  /** Folder for logs, worker logs and data of this bench run. */
  workDir: string;
}

function launch(
  ctx: BenchContext,
  name: string,
  script: string,
  args: string[],
  env: Record<string, string>,
): Proc {
  mkdirSync(join(ctx.workDir, "logs"), { recursive: true });
  const logFile = join(ctx.workDir, "logs", `${name}-${Date.now()}.log`);
  const out = openSync(logFile, "a");
  const nodeArgs = ctx.opts.cpuProfDir
    ? [
        "--cpu-prof",
        `--cpu-prof-dir=${ctx.opts.cpuProfDir}`,
        `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`,
      ]
    : [];
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...nodeArgs, script, ...args], {
      stdio: ["ignore", out, out],
      env: { PATH: process.env.PATH ?? "", ...env },
    });
  } finally {
    closeSync(out);
  }
  let dead = false;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      dead = true;
      resolve();
    }),
  );
  return {
    child,
    pid: child.pid ?? -1,
    logFile,
    exited,
    async stop(signal = "SIGTERM") {
      if (!dead) child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface AppPorts {
  naive: number;
  polling: number;
  webhook: number;
  "webhook-client": number;
  controller: number;
}

export interface App extends Proc {
  ports: AppPorts;
  url(app: keyof AppPorts): string;
}

export async function startApp(
  ctx: BenchContext,
  app: "polling" | "webhook" | "controller" | "all",
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<App> {
  const ports: AppPorts = {
    naive: await freePort(),
    polling: await freePort(),
    webhook: await freePort(),
    "webhook-client": await freePort(),
    controller: await freePort(),
  };
  const proc = launch(ctx, app, MAIN, [app], {
    DATABASE_URL: databaseUrl,
    TRAINYARD_HOST: "127.0.0.1",
    TRAINYARD_NAIVE_PORT: String(ports.naive),
    TRAINYARD_POLLING_PORT: String(ports.polling),
    TRAINYARD_WEBHOOK_PORT: String(ports.webhook),
    TRAINYARD_WEBHOOK_CLIENT_PORT: String(ports["webhook-client"]),
    TRAINYARD_CONTROLLER_PORT: String(ports.controller),
    TRAINYARD_DATA_DIR: join(ctx.workDir, "data"),
    TRAINYARD_DEFAULT_DURATION_SECONDS: "0",
    // The per-client submission limit (60 a minute by default) would answer nearly every
    // submission of a load test 429: the bench measures what the service can take, so it is off.
    TRAINYARD_SUBMIT_RATE_PER_MINUTE: "0",
    LOG_LEVEL: ctx.opts.logLevel,
    ...env,
  });
  const url = (name: keyof AppPorts): string => `http://127.0.0.1:${ports[name]}`;
  const readyOn = app === "controller" ? "controller" : app === "all" ? "polling" : app;
  await waitReady(`${url(readyOn)}/readyz`, proc);
  return { ...proc, ports, url };
}

/** The baseline of the predict figure: a bare fastify route answering constant JSON. */
export async function startBareServer(ctx: BenchContext): Promise<Proc & { url: string }> {
  const port = await freePort();
  const proc = launch(ctx, "bare-fastify", BARE_SERVER, [String(port)], {});
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/livez`, proc);
  return { ...proc, url };
}

/** The webhook receiver: records every arrival with its time (see receiver.ts). */
export async function startReceiver(ctx: BenchContext): Promise<Proc & { url: string }> {
  const port = await freePort();
  const proc = launch(ctx, "receiver", RECEIVER, [String(port)], {});
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/livez`, proc);
  return { ...proc, url };
}

async function waitReady(url: string, proc: Proc): Promise<void> {
  let dead = false;
  void proc.exited.then(() => (dead = true));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (dead) throw new Error(`process exited before it was ready:\n${tail(proc.logFile)}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  await proc.stop("SIGKILL");
  throw new Error(`not ready in time: ${url}\n${tail(proc.logFile)}`);
}

export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Resident set size of a process in MiB (VmRSS), undefined once it is gone. */
export function rssMiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used so far, in ms; undefined once it is gone. */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 of stat (utime, stime), in clock ticks of 10 ms (USER_HZ = 100).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** True while the process exists and has not exited (a zombie awaiting its reaper is gone). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) S ...": the state follows the last ')'.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/**
 * Spawns the worker entrypoint for a task, as the local runner does (detached, its own log, the
 * environment workerEnvironment() gives). `lean`: bench/lean-worker.js instead of main.js.
 */
export function spawnWorker(
  ctx: BenchContext,
  databaseUrl: string,
  taskId: string,
  lean = false,
): ChildProcess {
  const dir = join(ctx.workDir, "data", "logs");
  mkdirSync(dir, { recursive: true });
  const out = openSync(join(dir, `${taskId}.log`), "a");
  try {
    const args = lean ? [LEAN_WORKER, taskId] : [MAIN, "worker", taskId];
    return spawn(process.execPath, args, {
      detached: true,
      stdio: ["ignore", out, out],
      env: {
        PATH: process.env.PATH ?? "",
        DATABASE_URL: databaseUrl,
        LOG_LEVEL: ctx.opts.logLevel,
        TRAINYARD_DATA_DIR: join(ctx.workDir, "data"),
        NODE_ENV: "production",
      },
    });
  } finally {
    closeSync(out);
  }
}
