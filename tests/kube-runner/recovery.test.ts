// The Kubernetes runner when things break: the controller killed mid-run, the leader killed
// with a second controller waiting, watches dropped and history compacted, Jobs and tasks out of
// step at start-up, and no right to watch Jobs.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { BatchV1Api, KubeConfig } from "@kubernetes/client-node";
import type { AppProcess } from "../support/app-process.js";
import { waitForLog } from "../support/app-process.js";
import { call, waitForStatus, type TaskBody } from "../support/http.js";
import { buildJob } from "../../src/runner/kubernetes/job-spec.js";
import { loadConfig } from "../../src/config.js";
import { NAMESPACE, startCluster, type Cluster } from "./support.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const LEADS = "leader election: this controller leads";

describe("Kubernetes runner under faults", () => {
  let cluster: Cluster;
  let polling: AppProcess;

  before(async () => {
    cluster = await startCluster();
    polling = await cluster.startApp("polling");
  });
  after(async () => {
    await cluster?.close();
  });

  const submit = async (body: Record<string, unknown>): Promise<TaskBody> => {
    const res = await call<TaskBody>("POST", `${polling.url("polling")}/train`, body);
    assert.equal(res.status, 202, res.text);
    return res.body;
  };
  const waitAll = (ids: string[], timeoutMs = 60_000) =>
    Promise.all(
      ids.map((id) =>
        waitForStatus(polling.url("polling"), id, ["completed", "failed", "cancelled"], timeoutMs),
      ),
    );
  test("the controller killed mid-run and restarted: nothing lost, nothing run twice", async () => {
    const controller = await cluster.startController();
    const tasks = await Promise.all(
      Array.from({ length: 6 }, () => submit({ duration_seconds: 2 })),
    );
    await waitForStatus(polling.url("polling"), tasks[0]?.id ?? "", ["running"]);
    await controller.stop("SIGKILL");
    await sleep(500);
    const successor = await cluster.startController();
    const done = await waitAll(tasks.map((t) => t.id));
    assert.deepEqual(
      done.map((t) => t.status),
      tasks.map(() => "completed"),
    );
    const creates = cluster.server
      .requests({ verb: "create", resource: "jobs" })
      .filter((r) => r.status === 201);
    assert.equal(creates.length, 6, "one Job per task, across both controllers");
    await successor.stop();
  });

  test("two controllers: the leader is killed, the other takes over within 15 s", async () => {
    const first = await cluster.startController();
    await waitForLog(first.logs, first.exited, LEADS);
    const second = await cluster.startController();
    await sleep(300);
    assert.ok(!second.logs.some((l) => l.includes(LEADS)), "one leader at a time");
    await first.stop("SIGKILL");
    const killedAt = Date.now();
    await waitForLog(second.logs, second.exited, LEADS, 15_000);
    assert.ok(Date.now() - killedAt < 15_000);
    const task = await submit({ duration_seconds: 0 });
    const done = await waitForStatus(polling.url("polling"), task.id, ["completed"], 30_000);
    assert.equal(done.status, "completed");
    await second.stop();
  });

  test("dropped watches and compacted history change no outcome", async () => {
    const controller = await cluster.startController();
    const tasks = await Promise.all(
      Array.from({ length: 4 }, () => submit({ duration_seconds: 2 })),
    );
    await waitForStatus(polling.url("polling"), tasks[0]?.id ?? "", ["running"]);
    cluster.server.dropWatches({ abrupt: true });
    await sleep(300);
    cluster.server.dropWatches();
    await cluster.server.restart({ compactHistory: true, downtimeMs: 500 });
    const more = await submit({ duration_seconds: 0 });
    const done = await waitAll([...tasks.map((t) => t.id), more.id]);
    assert.ok(
      done.every((t) => t.status === "completed"),
      JSON.stringify(done.map((t) => t.status)),
    );
    // The informer came back: the 410 made it list again rather than give up.
    const lists = cluster.server.requests({ verb: "list", resource: "jobs" });
    assert.ok(lists.length >= 2, "re-listed after the compaction");
    await controller.stop();
  });

  test("at start-up: adopts Jobs of known tasks, deletes strays, fails running tasks without a Job", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    const batch = kc.makeApiClient(BatchV1Api);
    const config = loadConfig({ ...cluster.controllerEnv });
    const now = new Date();
    const fakeTask = (id: string) => ({
      id,
      seq: 1,
      status: "queued" as const,
      app: "polling",
      tenant: "default",
      params: { duration_seconds: 1 },
      idempotencyKey: null,
      callbackUrl: null,
      error: null,
      runnerRef: null,
      createdAt: now,
      admittedAt: now,
      startedAt: null,
      finishedAt: null,
      progress: null,
      version: 1,
      attempt: 1,
      previousAttempts: [],
      notBefore: null,
    });
    // A Job whose task does not exist.
    const strayId = "00000000-0000-4000-8000-000000000001";
    await batch.createNamespacedJob({
      namespace: NAMESPACE,
      body: buildJob(fakeTask(strayId), config.kubernetes, {
        timeoutSeconds: 60,
        logLevel: "info",
        datasetPath: undefined,
        writePatienceSeconds: 60,
      }),
    });
    // A task that claims to run, with no Job anywhere.
    const [ghost] = await cluster.db.sql<{ id: string }[]>`
      INSERT INTO tasks (id, status, app, params, admitted_at, started_at)
      VALUES (gen_random_uuid(), 'running', 'polling', '{"duration_seconds": 1}', now(), now())
      RETURNING id`;
    // An admitted task whose Job was never created (a crash between admission and create).
    const [admitted] = await cluster.db.sql<{ id: string }[]>`
      INSERT INTO tasks (id, status, app, params, admitted_at)
      VALUES (gen_random_uuid(), 'queued', 'polling', '{"duration_seconds": 0}', now())
      RETURNING id`;
    const controller = await cluster.startController();
    const lost = await waitForStatus(polling.url("polling"), ghost?.id ?? "", ["failed"]);
    assert.equal(lost.error?.code, "lost");
    const launched = await waitForStatus(polling.url("polling"), admitted?.id ?? "", ["completed"]);
    assert.equal(launched.status, "completed");
    const deadline = Date.now() + 10_000;
    while (
      cluster.server.get("jobs", NAMESPACE, `trainyard-train-${strayId}`) &&
      Date.now() < deadline
    ) {
      await sleep(100);
    }
    assert.equal(cluster.server.get("jobs", NAMESPACE, `trainyard-train-${strayId}`), undefined);
    await controller.stop();
  });

  test("no right to watch Jobs: readiness fails with the reason, and recovers", async () => {
    const allow = cluster.server.forbid({ resource: "jobs" });
    const controller = await cluster.startController();
    let ready = await call("GET", `${controller.url("controller")}/readyz`);
    const deadline = Date.now() + 10_000;
    while (ready.status === 200 && Date.now() < deadline) {
      await sleep(100);
      ready = await call("GET", `${controller.url("controller")}/readyz`);
    }
    assert.equal(ready.status, 503);
    assert.equal(ready.body.code, "not_ready");
    assert.match(String(ready.body.detail), /403|Forbidden/);
    assert.ok(controller.logs.some((l) => l.includes("not allowed to watch Jobs")));
    allow();
    const until = Date.now() + 40_000;
    while (ready.status !== 200 && Date.now() < until) {
      await sleep(200);
      ready = await call("GET", `${controller.url("controller")}/readyz`);
    }
    assert.equal(ready.status, 200, "ready again once allowed");
    await controller.stop();
  });
});
