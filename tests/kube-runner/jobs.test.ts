// The Kubernetes runner end to end on the stand-in API server: Jobs under the cap, cancel,
// failures with their reasons, deadlines, and the polling, naive and webhook flows.
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DEFAULT_DATA_PATH } from "../../src/training/dataset.js";
import { call, isAlive, waitForStatus, type TaskBody } from "../support/http.js";
import { Receiver } from "../support/receiver.js";
import type { AppProcess } from "../support/app-process.js";
import { NAMESPACE, startCluster, type Cluster } from "./support.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("Kubernetes runner on the stand-in API server", () => {
  let cluster: Cluster;
  let controller: AppProcess;
  let polling: AppProcess;

  before(async () => {
    cluster = await startCluster();
    controller = await cluster.startController();
    polling = await cluster.startApp("polling");
  });
  after(async () => {
    await cluster?.close();
  });

  const submit = async (body: Record<string, unknown> = {}): Promise<TaskBody> => {
    const res = await call<TaskBody>("POST", `${polling.url("polling")}/train`, {
      duration_seconds: 0,
      ...body,
    });
    assert.equal(res.status, 202, res.text);
    return res.body;
  };
  const jobOf = (id: string) => cluster.server.get("jobs", NAMESPACE, `trainyard-train-${id}`);
  const podsOf = (id: string) =>
    cluster.server
      .list("pods", NAMESPACE)
      .filter((p) => p.metadata.labels?.["job-name"] === `trainyard-train-${id}`);

  test("10 submissions: never more than 4 unfinished Jobs, every task completes, one create each", async () => {
    const tasks = await Promise.all(
      Array.from({ length: 10 }, () => submit({ duration_seconds: 1 })),
    );
    let peak = 0;
    const watching = (async () => {
      for (;;) {
        peak = Math.max(peak, cluster.unfinishedJobs());
        const statuses = await cluster.db.sql<{ status: string }[]>`
          SELECT status FROM tasks WHERE id IN ${cluster.db.sql(tasks.map((t) => t.id))}`;
        if (statuses.every((s) => s.status === "completed")) return;
        await sleep(20);
      }
    })();
    await Promise.race([
      watching,
      sleep(60_000).then(() => {
        throw new Error("not all tasks completed");
      }),
    ]);
    assert.ok(peak <= 4, `peak of ${peak} unfinished Jobs`);
    assert.ok(peak >= 2, `runs overlapped (peak ${peak})`);
    for (const task of tasks) {
      const result = await call("GET", `${polling.url("polling")}/train/${task.id}/result`);
      assert.equal(result.status, 200);
    }
    const created = cluster.server
      .requests({ verb: "create", resource: "jobs" })
      .filter((r) => r.status === 201);
    assert.equal(created.length, 10, "exactly one Job created per task");
  });

  test("500, 429 and a lost answer on create are retried: one Job, the task completes", async () => {
    cluster.server.failNext(1, { verb: "create", resource: "jobs", status: 500 });
    cluster.server.failNext(1, { verb: "create", resource: "jobs", status: 429 });
    // The create happens, but its answer is lost: the retry meets AlreadyExists.
    cluster.server.failNext(1, { verb: "create", resource: "jobs", afterCommit: true });
    const before = cluster.server.requests({ verb: "create", resource: "jobs" }).length;
    const task = await submit({ duration_seconds: 0 });
    const done = await waitForStatus(
      polling.url("polling"),
      task.id,
      ["completed", "failed"],
      30_000,
    );
    assert.equal(done.status, "completed");
    // The Job made by the lost-answer create may finish before the retry after it is sent.
    const deadline = Date.now() + 15_000;
    let creates = cluster.server.requests({ verb: "create", resource: "jobs" }).slice(before);
    while (creates.length < 4 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      creates = cluster.server.requests({ verb: "create", resource: "jobs" }).slice(before);
    }
    assert.deepEqual(
      creates.map((r) => r.status),
      [500, 429, 500, 409],
      "retried through the errors; the lost answer's retry met AlreadyExists",
    );
    assert.equal(
      cluster.server
        .list("jobs", NAMESPACE)
        .filter((j) => j.metadata.name === `trainyard-train-${task.id}`).length,
      1,
    );
  });

  test("cancel of a running task deletes its Job and kills the pod's process", async () => {
    const task = await submit({ duration_seconds: 60 });
    await waitForStatus(polling.url("polling"), task.id, ["running"]);
    const [pod] = podsOf(task.id);
    assert.ok(pod, "the Job has a pod");
    const [proc] = cluster.server.podProcesses(NAMESPACE, pod.metadata.name ?? "");
    assert.ok(proc?.pid && isAlive(proc.pid), "the pod's process runs");

    const res = await call<TaskBody>("DELETE", `${polling.url("polling")}/train/${task.id}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.status, "cancelled");
    const deadline = Date.now() + 15_000;
    while ((jobOf(task.id) || isAlive(proc.pid)) && Date.now() < deadline) await sleep(50);
    assert.equal(jobOf(task.id), undefined, "the Job is gone");
    assert.equal(isAlive(proc.pid), false, "the pod's process is gone");
    const deletes = cluster.server
      .requests({ verb: "delete", resource: "jobs" })
      .filter((r) => r.name === `trainyard-train-${task.id}`);
    assert.equal(deletes.length, 1, "one delete");
    await sleep(500);
    const after = await call<TaskBody>("GET", `${polling.url("polling")}/train/${task.id}/status`);
    assert.equal(after.body.status, "cancelled", "and it stays cancelled");
  });

  test("a deadline fails the task with DeadlineExceeded", async () => {
    const task = await submit({ duration_seconds: 60, timeout_seconds: 2 });
    const done = await waitForStatus(
      polling.url("polling"),
      task.id,
      ["failed", "completed"],
      30_000,
    );
    assert.equal(done.status, "failed");
    // The worker sees only SIGTERM and leaves the verdict to the controller, which has the
    // Job's reason (a FailureTarget first, so the wait is short).
    const deadline = Date.now() + 10_000;
    let error = done.error;
    while (error?.code !== "DeadlineExceeded" && Date.now() < deadline) {
      await sleep(100);
      error = (await call<TaskBody>("GET", `${polling.url("polling")}/train/${task.id}/status`))
        .body.error;
    }
    assert.equal(error?.code, "DeadlineExceeded", JSON.stringify(error));
  });

  test("a worker that cannot even start its run: failed with the Job's reason and the pod's message", async () => {
    // A controller whose Jobs read a database URL that leads nowhere: the worker can record
    // nothing, so the outcome comes from the Job alone.
    await controller.stop();
    const { CoreV1Api, KubeConfig } = await import("@kubernetes/client-node");
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    await kc.makeApiClient(CoreV1Api).createNamespacedSecret({
      namespace: NAMESPACE,
      body: {
        metadata: { name: "broken-database" },
        stringData: { "database-url": "postgres://nobody:nothing@127.0.0.1:1/none" },
      },
    });
    const broken = await cluster.startController({
      TRAINYARD_WORKER_DATABASE_SECRET: "broken-database",
    });
    try {
      const task = await submit();
      const done = await waitForStatus(
        polling.url("polling"),
        task.id,
        ["failed", "completed"],
        30_000,
      );
      assert.equal(done.status, "failed");
      assert.ok(
        ["PodFailurePolicy", "BackoffLimitExceeded"].includes(done.error?.code ?? ""),
        JSON.stringify(done.error),
      );
      assert.match(done.error?.message ?? "", /ECONNREFUSED|connect/i, "the pod's last words");
    } finally {
      await broken.stop();
      controller = await cluster.startController();
    }
  });

  test("a retried task: its failed Job is deleted, a new one runs the next attempt", async () => {
    // Jobs that read a dataset the test controls: garbage for the first attempt.
    const dataset = join(mkdtempSync(join(tmpdir(), "trainyard-kube-retry-")), "penguins.csv");
    writeFileSync(dataset, "species,island\nAdelie\n");
    await controller.stop();
    const retrying = await cluster.startController({ TRAINYARD_DATASET_PATH: dataset });
    try {
      const createsBefore = cluster.server.requests({ verb: "create", resource: "jobs" }).length;
      const task = await submit({ max_attempts: 2, retry_backoff_seconds: 3 });
      const name = `trainyard-train-${task.id}`;
      const deadline = Date.now() + 30_000;
      let status = task;
      while (!status.next_attempt_at && Date.now() < deadline) {
        assert.notEqual(status.status, "failed");
        await sleep(50);
        status = (await call<TaskBody>("GET", `${polling.url("polling")}/train/${task.id}/status`))
          .body;
      }
      assert.equal(status.attempt, 2, JSON.stringify(status));
      copyFileSync(DEFAULT_DATA_PATH, dataset);

      const done = await waitForStatus(
        polling.url("polling"),
        task.id,
        ["completed", "failed"],
        30_000,
      );
      assert.equal(done.status, "completed", JSON.stringify(done));
      assert.equal(done.attempt, 2);
      // Only this task ran meanwhile: its creates are the last ones, its Job's delete named.
      const ok = (r: { status: number }) => r.status < 300;
      const creates = cluster.server
        .requests({ verb: "create", resource: "jobs" })
        .slice(createsBefore)
        .filter(ok);
      const deletes = cluster.server
        .requests({ verb: "delete", resource: "jobs" })
        .filter((r) => r.name === name && ok(r));
      assert.equal(deletes.length, 1, "the failed attempt's Job, deleted once");
      assert.equal(creates.length, 2, "one Job per attempt");
      assert.ok(
        (creates[1]?.at ?? 0) > (deletes[0]?.at ?? Infinity),
        "the second after the delete",
      );
    } finally {
      await retrying.stop();
      controller = await cluster.startController();
    }
  });

  test("the naive and webhook flows run on Jobs too", async () => {
    const naive = await cluster.startApp("naive");
    const receiver = new Receiver();
    await receiver.start();
    const webhook = await cluster.startApp("webhook");
    try {
      const res = await call<TaskBody & { result: { n: number } }>(
        "POST",
        `${naive.url("naive")}/train`,
        { duration_seconds: 0 },
      );
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.result.n, 333);
      const predicted = await call<{ predictions: { body_mass_g: number }[] }>(
        "POST",
        `${naive.url("naive")}/predict`,
        {
          data: {
            species: "Gentoo",
            island: "Biscoe",
            bill_length_mm: 47,
            bill_depth_mm: 15,
            flipper_length_mm: 217,
            sex: "female",
          },
        },
      );
      assert.equal(predicted.status, 200);
      assert.ok((predicted.body.predictions[0]?.body_mass_g ?? 0) > 4000);

      const sub = await call<TaskBody>("POST", `${webhook.url("webhook")}/train`, {
        callback_url: receiver.url("/hook"),
        duration_seconds: 0,
      });
      assert.equal(sub.status, 202);
      const [arrival] = await receiver.waitFor("/hook", 1, 30_000);
      const body = JSON.parse(arrival?.body ?? "{}") as { id: string; status: string };
      assert.deepEqual([body.id, body.status], [sub.body.id, "completed"]);
    } finally {
      await receiver.close();
    }
  });
});
