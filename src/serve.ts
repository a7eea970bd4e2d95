// The service side of `trainyard <app>` (every app but the worker): a database (DATABASE_URL
// or the embedded one), migrations, the HTTP apps, the controller, the webhook dispatcher.
// Loaded by main.ts only when needed, so that a worker (one per training) does not pay for
// fastify, swagger and the Kubernetes client at start: that was most of its start-up time.
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { naiveApp } from "./api/naive.js";
import { pollingApp } from "./api/polling.js";
import { webhookClientApp } from "./api/webhook-client.js";
import { webhookApp } from "./api/webhook.js";
import { buildServer } from "./api/server.js";
import type { AppContext } from "./api/context.js";
import { workerEnvironment, type AppName, type Config, type HttpAppName } from "./config.js";
import { Controller } from "./controller/controller.js";
import { RetentionLoop } from "./controller/retention.js";
import { connect } from "./db/connect.js";
import { startEmbeddedPostgres } from "./db/embedded.js";
import { migrate } from "./db/migrate.js";
import type { Pool } from "./db/queryable.js";
import { installTaskStatsGauges } from "./metrics/task-stats.js";
import { LatestModelCache } from "./models/cache.js";
import { LocalRunner } from "./runner/local.js";
import { createLogSource } from "./runner/log-source.js";
import { removeLocalLogs } from "./runner/logs.js";
import type { Runner } from "./runner/runner.js";
import { TaskEvents } from "./tasks/events.js";
import { WebhookDispatcher } from "./webhooks/dispatcher.js";

const HTTP_APP_FACTORIES: Record<HttpAppName, (ctx: AppContext) => (app: FastifyInstance) => void> =
  {
    naive: naiveApp,
    polling: pollingApp,
    webhook: webhookApp,
    "webhook-client": webhookClientApp,
  };

async function database(
  config: Config,
  log: Logger,
): Promise<{ url: string; stop?: () => Promise<void> }> {
  if (config.databaseUrl) return { url: config.databaseUrl };
  const embedded = await startEmbeddedPostgres({
    dataDir: join(config.dataDir, "postgres"),
    port: config.embeddedPostgresPort,
    log: log.child({ component: "embedded-postgres" }),
  });
  return { url: embedded.url, stop: () => embedded.stop() };
}

async function makeRunner(
  config: Config,
  databaseUrl: string,
  sql: Pool,
  log: Logger,
): Promise<Runner> {
  if (config.runner === "kubernetes") {
    // Loaded only when used: the Kubernetes client is the heaviest module of all.
    const { KubernetesRunner, loadKubeConfig } = await import("./runner/kubernetes/runner.js");
    const { kubeconfig, inCluster } = config.kubernetes;
    return new KubernetesRunner(loadKubeConfig(kubeconfig, inCluster), config, log);
  }
  return new LocalRunner(
    sql,
    {
      logDir: join(config.dataDir, "logs"),
      cancelGraceMs: config.cancelGraceSeconds * 1000,
      workerEnv: workerEnvironment(config, databaseUrl),
      defaultTimeoutMs: config.defaultTimeoutSeconds * 1000,
    },
    log,
  );
}

/** Everything `trainyard <app>` does for the apps other than the worker. */
export async function startService(
  appName: Exclude<AppName, "worker">,
  config: Config,
  log: Logger,
): Promise<void> {
  const db = await database(config, log);
  const sql = connect(db.url, { max: config.dbPoolSize, applicationName: `trainyard-${appName}` });
  await migrate(sql, log);
  await serve(appName, config, db, sql, log);
}

async function serve(
  appName: Exclude<AppName, "worker">,
  config: Config,
  db: { url: string; stop?: () => Promise<void> },
  sql: Pool,
  log: Logger,
): Promise<void> {
  const shutdown = new AbortController();
  installTaskStatsGauges(sql, config.maxRunning, log.child({ component: "metrics" }));
  const events = new TaskEvents(sql, log.child({ component: "events" }));
  await events.start();
  const ctx: AppContext = {
    sql,
    events,
    models: new LatestModelCache(sql, events),
    config,
    log,
    shutdown: shutdown.signal,
    readiness: [],
    logs: createLogSource(config, sql),
  };

  const servers: FastifyInstance[] = [];
  const httpApps: HttpAppName[] =
    appName === "all"
      ? (Object.keys(HTTP_APP_FACTORIES) as HttpAppName[])
      : appName === "controller"
        ? []
        : [appName];
  for (const name of httpApps) {
    const factory = HTTP_APP_FACTORIES[name];
    const server = await buildServer(name, ctx, factory(ctx));
    await server.listen({ host: config.host, port: config.ports[name] });
    servers.push(server);
  }

  let controller: Controller | undefined;
  let dispatcher: WebhookDispatcher | undefined;
  let retention: RetentionLoop | undefined;
  if (appName === "controller" || appName === "all") {
    const runner = await makeRunner(config, db.url, sql, log.child({ component: "runner" }));
    controller = new Controller(
      sql,
      events,
      runner,
      { maxRunning: config.maxRunning, resyncMs: config.resyncSeconds * 1000 },
      log.child({ component: "controller" }),
    );
    controller.start();
    const leader = controller;
    // Only the leader deletes; with the local runner the deleted tasks' log files go too.
    retention = new RetentionLoop(
      sql,
      config.retention,
      () => leader.isLeader,
      log.child({ component: "retention" }),
      config.runner === "local"
        ? (ids) => removeLocalLogs(join(config.dataDir, "logs"), ids)
        : undefined,
    );
    retention.start();
    const problem = runner.problem?.bind(runner);
    if (problem) ctx.readiness.push(problem);
    if (appName === "controller") {
      // No API of its own: health and metrics, so that probes see e.g. missing RBAC rights.
      const health = await buildServer("controller", ctx, () => undefined);
      await health.listen({ host: config.host, port: config.controllerPort });
      servers.push(health);
    }
    // Callbacks go out from the controller processes; replicas share the outbox (SKIP LOCKED).
    dispatcher = new WebhookDispatcher(
      sql,
      config.webhooks,
      { resyncMs: config.resyncSeconds * 1000 },
      log.child({ component: "webhooks" }),
    );
    await dispatcher.start();
  }

  const stop = async (signal: string): Promise<void> => {
    if (shutdown.signal.aborted) return;
    log.info({ signal }, "shutting down");
    shutdown.abort();
    const force = setTimeout(() => {
      log.error("shutdown took too long; exiting");
      process.exit(1);
    }, config.shutdownGraceSeconds * 1000);
    force.unref();
    await Promise.allSettled(servers.map((s) => s.close()));
    await retention?.stop();
    await controller?.stop();
    await dispatcher?.stop();
    await events.stop();
    await sql.end({ timeout: 5 });
    await db.stop?.();
    log.info("stopped");
    process.exit(0);
  };
  process.once("SIGTERM", (s) => void stop(s));
  process.once("SIGINT", (s) => void stop(s));
  log.info({ app: appName, listening: servers.flatMap((s) => s.addresses()) }, "trainyard started");
}
