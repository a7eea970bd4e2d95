// Shared by the stand-in's own tests: one stand-in per test file, reached through
// @kubernetes/client-node exactly as trainyard reaches a cluster (a kubeconfig file).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ApiException,
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Job,
} from "@kubernetes/client-node";
import { StandInApiServer, type StandInOptions, type Status } from "./standin/index.js";

export const IMAGE = "trainyard:test";

export interface Harness {
  server: StandInApiServer;
  kc: KubeConfig;
  batch: BatchV1Api;
  core: CoreV1Api;
  namespace: string;
  /** A scratch directory, also the working directory of IMAGE's containers. */
  dir: string;
  close(): Promise<void>;
}

export async function startStandIn(
  options: StandInOptions & { namespace?: string } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "trainyard-kube-"));
  const namespace = options.namespace ?? "trainyard-test";
  const server = new StandInApiServer({
    maxGracePeriodSeconds: 2,
    ...options,
    images: { [IMAGE]: { workingDir: dir }, ...options.images },
  });
  await server.start();
  const kubeconfig = join(dir, "kubeconfig.yaml");
  server.writeKubeconfig(kubeconfig, namespace);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return {
    server,
    kc,
    batch: kc.makeApiClient(BatchV1Api),
    core: kc.makeApiClient(CoreV1Api),
    namespace,
    dir,
    async close() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` until it returns something other than undefined/false. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(25);
  }
  const why = lastError instanceof Error ? `: ${lastError.message}` : "";
  throw new Error(`timed out waiting for ${what}${why}`);
}

/** The Status body of a failed client-node call (ApiException carries it as text). */
export async function statusOf(call: Promise<unknown>): Promise<{ code: number; status: Status }> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body = (err as ApiException<unknown>).body;
    const status = (typeof body === "string" ? JSON.parse(body) : body) as Status;
    return { code: (err as ApiException<unknown>).code, status };
  }
  throw new Error("expected the call to fail");
}

export interface JobOptions {
  /** The container's command (default: node -e <script>). */
  command?: string[];
  script?: string;
  labels?: Record<string, string>;
  env?: NonNullable<NonNullable<V1Job["spec"]>["template"]["spec"]>["containers"][number]["env"];
  spec?: Partial<NonNullable<V1Job["spec"]>>;
  terminationMessagePolicy?: string;
  restartPolicy?: string;
}

/** A Job running one `node -e` container in IMAGE, restartPolicy Never, backoffLimit 0. */
export function jobManifest(name: string, opts: JobOptions = {}): V1Job {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, labels: opts.labels ?? { app: "trainyard-test" } },
    spec: {
      backoffLimit: 0,
      ...opts.spec,
      template: {
        spec: {
          restartPolicy: opts.restartPolicy ?? "Never",
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: "main",
              image: IMAGE,
              command: opts.command ?? ["node", "-e", opts.script ?? "process.exit(0)"],
              ...(opts.env ? { env: opts.env } : {}),
              ...(opts.terminationMessagePolicy
                ? { terminationMessagePolicy: opts.terminationMessagePolicy }
                : {}),
            },
          ],
        },
      },
    },
  };
}

/** A request with the harness's token, for what client-node hides (raw bodies, headers). */
export async function raw(
  h: Harness,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<{ status: number; headers: Headers; body: Record<string, unknown>; text: string }> {
  const res = await fetch(`${h.server.url}${path}`, {
    method,
    headers: { authorization: "Bearer stand-in-token", "content-type": contentType },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // text/plain (logs) stays in `text`
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

export function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function hasCondition(job: V1Job | undefined, type: string): boolean {
  return (job?.status?.conditions ?? []).some((c) => c.type === type && c.status === "True");
}
