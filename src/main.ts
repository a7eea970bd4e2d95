#!/usr/bin/env node
// `trainyard <app>`: reads the config and starts the chosen app(s), or runs one training
// (`worker <task-id>`). The worker path imports only what a training needs; the apps are
// loaded from serve.ts on demand (a worker starts once per training, so its start-up counts).
import type { Logger } from "pino";
import { APP_NAMES, ConfigError, loadConfig, type AppName, type Config } from "./config.js";
import { connect } from "./db/connect.js";
import { createLogger } from "./log.js";

function usage(): never {
  process.stderr.write(`usage: trainyard <${APP_NAMES.join(" | ")}> [task-id for worker]\n`);
  process.exit(2);
}

async function runWorkerProcess(config: Config, taskId: string, log: Logger): Promise<never> {
  if (!config.databaseUrl) {
    log.fatal("the worker needs DATABASE_URL; it never starts a database of its own");
    process.exit(2);
  }
  const { runWorker } = await import("./worker.js");
  const sql = connect(config.databaseUrl, { max: 2, applicationName: "trainyard-worker" });
  const opts = {
    datasetPath: config.datasetPath,
    writePatienceMs: config.workerWritePatienceSeconds * 1000,
  };
  const code = await runWorker(sql, taskId, opts, log).finally(() => sql.end({ timeout: 5 }));
  process.exit(code);
}

async function main(): Promise<void> {
  const [appArg, taskId] = process.argv.slice(2);
  if (!appArg || !(APP_NAMES as readonly string[]).includes(appArg)) usage();
  const appName = appArg as AppName;
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`trainyard: bad configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel, appName);
  // A bug must not die silently: say what it was, then exit (the orchestrator restarts us).
  process.on("uncaughtException", (err) => {
    log.fatal({ err }, "uncaught exception; exiting");
    process.exit(1);
  });
  process.on("unhandledRejection", (err) => {
    log.fatal({ err }, "unhandled promise rejection; exiting");
    process.exit(1);
  });

  if (appName === "worker") {
    if (!taskId) usage();
    await runWorkerProcess(config, taskId, log);
  }
  const { startService } = await import("./serve.js");
  await startService(appName as Exclude<AppName, "worker">, config, log);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `trainyard: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`,
  );
  process.exit(1);
});
