// Starts trainyard as users do, a real process of the compiled entrypoint, on loopback ports
// of its own, against the test's database; keeps its log lines for assertions.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./ports.js";

export const MAIN = fileURLToPath(new URL("../../src/main.js", import.meta.url));

export interface AppProcess {
  child: ChildProcess;
  ports: {
    naive: number;
    polling: number;
    webhook: number;
    "webhook-client": number;
    controller: number;
  };
  url(app: "naive" | "polling" | "webhook" | "webhook-client" | "controller"): string;
  logs: string[];
  dataDir: string;
  /** SIGTERM and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  databaseUrl: string;
  /** Extra environment; a function gets the ports chosen for this process (e.g. own URL). */
  env?: Record<string, string> | ((ports: AppProcess["ports"]) => Record<string, string>);
  dataDir?: string;
  /** Wait for /readyz on this app's port (none for the controller). */
  waitFor?: "naive" | "polling" | "webhook" | "webhook-client" | "none";
}

export async function startApp(app: string, opts: StartOptions): Promise<AppProcess> {
  const ports = {
    naive: await freePort(),
    polling: await freePort(),
    webhook: await freePort(),
    "webhook-client": await freePort(),
    controller: await freePort(),
  };
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "trainyard-test-"));
  const child = spawn(process.execPath, [MAIN, app], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: opts.databaseUrl,
      TRAINYARD_HOST: "127.0.0.1",
      TRAINYARD_NAIVE_PORT: String(ports.naive),
      TRAINYARD_POLLING_PORT: String(ports.polling),
      TRAINYARD_WEBHOOK_PORT: String(ports.webhook),
      TRAINYARD_WEBHOOK_CLIENT_PORT: String(ports["webhook-client"]),
      TRAINYARD_CONTROLLER_PORT: String(ports.controller),
      // Tests submit in bursts from one address; the rate limit has tests of its own.
      TRAINYARD_SUBMIT_RATE_PER_MINUTE: "0",
      TRAINYARD_DATA_DIR: dataDir,
      TRAINYARD_DEFAULT_DURATION_SECONDS: "0",
      TRAINYARD_CANCEL_GRACE_SECONDS: "2",
      TRAINYARD_SHUTDOWN_GRACE_SECONDS: "5",
      LOG_LEVEL: "info",
      ...(typeof opts.env === "function" ? opts.env(ports) : opts.env),
    },
  });
  const logs: string[] = [];
  const collect = (chunk: Buffer): void => {
    for (const line of chunk.toString("utf8").split("\n")) if (line) logs.push(line);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  let stopping = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code, signal) => {
      // An app that dies on its own is a finding: show why, whatever the test then says.
      if (!stopping) {
        process.stderr.write(
          `\n[app-process] ${app} exited unexpectedly (code ${code}, signal ${signal}):\n` +
            `${logs.slice(-40).join("\n")}\n`,
        );
      }
      resolve(code);
    }),
  );
  const url = (name: keyof typeof ports): string => `http://127.0.0.1:${ports[name]}`;
  const proc: AppProcess = {
    child,
    ports,
    url,
    logs,
    dataDir,
    exited,
    async stop(signal = "SIGTERM") {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  const waitFor =
    opts.waitFor ??
    (app === "controller"
      ? "none"
      : app === "naive" || app === "webhook" || app === "webhook-client"
        ? app
        : "polling");
  try {
    if (waitFor !== "none") await waitReady(url(waitFor), exited, logs);
    else await waitForLog(logs, exited, "trainyard started");
  } catch (err) {
    // A process that never became ready must not outlive the test that started it.
    stopping = true;
    child.kill("SIGKILL");
    throw err;
  }
  return proc;
}

async function waitReady(
  base: string,
  exited: Promise<number | null>,
  logs: string[],
): Promise<void> {
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (dead) throw new Error(`app exited before it was ready:\n${logs.join("\n")}`);
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`app not ready in time:\n${logs.join("\n")}`);
}

export async function waitForLog(
  logs: string[],
  exited: Promise<number | null>,
  text: string,
  timeoutMs = 60_000,
): Promise<void> {
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (logs.some((l) => l.includes(text))) return;
    if (dead) throw new Error(`process exited before logging "${text}":\n${logs.join("\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no "${text}" in the logs in time:\n${logs.join("\n")}`);
}
