// trainyard on the stand-in Kubernetes API server: a real controller process with the
// Kubernetes runner, whose Jobs' pods the stand-in runs as real worker processes against the
// test's real Postgres.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { startApp, type AppProcess, type StartOptions } from "../support/app-process.js";
import { freshDatabase } from "../support/database.js";
import { StandInApiServer } from "../kube/standin/index.js";

/** The repository root: the image's WORKDIR (/app) maps to it, so dist/src/main.js resolves. */
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const IMAGE = "trainyard:test";
export const NAMESPACE = "trainyard-test";
export const SECRET = "trainyard-database";

export interface Cluster {
  server: StandInApiServer;
  db: Awaited<ReturnType<typeof freshDatabase>>;
  kubeconfig: string;
  /** The environment of a controller that runs Jobs on the stand-in. */
  controllerEnv: Record<string, string>;
  startController(extra?: Record<string, string>): Promise<AppProcess>;
  startApp(app: string, opts?: Partial<StartOptions>): Promise<AppProcess>;
  /** Jobs of the namespace that have neither Complete nor Failed. */
  unfinishedJobs(): number;
  close(): Promise<void>;
}

export async function startCluster(): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "trainyard-kube-runner-"));
  const db = await freshDatabase();
  const server = new StandInApiServer({
    images: { [IMAGE]: { workingDir: ROOT } },
    namespaces: [NAMESPACE],
    maxGracePeriodSeconds: 3,
  });
  await server.start();
  const kubeconfig = join(dir, "kubeconfig.yaml");
  server.writeKubeconfig(kubeconfig, NAMESPACE);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  // The Secret the Job's DATABASE_URL refers to, as the chart would create it.
  await kc.makeApiClient(CoreV1Api).createNamespacedSecret({
    namespace: NAMESPACE,
    body: { metadata: { name: SECRET }, stringData: { "database-url": db.url } },
  });
  const controllerEnv = {
    TRAINYARD_RUNNER: "kubernetes",
    KUBECONFIG: kubeconfig,
    TRAINYARD_K8S_NAMESPACE: NAMESPACE,
    TRAINYARD_INSTANCE: "test",
    TRAINYARD_WORKER_IMAGE: IMAGE,
    TRAINYARD_WORKER_DATABASE_SECRET: SECRET,
    TRAINYARD_RESYNC_SECONDS: "30",
  };
  const started: AppProcess[] = [];
  const cluster: Cluster = {
    server,
    db,
    kubeconfig,
    controllerEnv,
    async startController(extra = {}) {
      const app = await startApp("controller", {
        databaseUrl: db.url,
        env: { ...controllerEnv, ...extra },
      });
      started.push(app);
      return app;
    },
    async startApp(app, opts = {}) {
      const proc = await startApp(app, { databaseUrl: db.url, ...opts });
      started.push(proc);
      return proc;
    },
    unfinishedJobs() {
      return server.list("jobs", NAMESPACE).filter((job) => {
        const conditions = (job.status as { conditions?: { type: string; status: string }[] })
          ?.conditions;
        return !conditions?.some(
          (c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True",
        );
      }).length;
    },
    async close() {
      await Promise.all(started.map((p) => p.stop()));
      await server.stop();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}
