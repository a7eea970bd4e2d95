// GET /train/{id}/logs with the Kubernetes runner: a real controller whose Jobs' pods the
// stand-in API server runs as real worker processes, and an API process that reads their logs
// through the API server (pods list, pods/log with tailLines, timestamps, sinceTime, follow).
// Reading pod logs is opt-in (TRAINYARD_KUBERNETES_POD_LOGS): an API process without it answers
// 501 logs_disabled and never calls the API server.
import assert from "node:assert/strict";
import { stream } from "../support/stream.js";
import { after, before, describe, test } from "node:test";
import { BatchV1Api, KubeConfig } from "@kubernetes/client-node";
import { lastBytes } from "../../src/runner/logs.js";
import { splitStamped, stampNanos } from "../../src/runner/kubernetes/pod-logs.js";
import type { AppProcess } from "../support/app-process.js";
import { call, waitForStatus, type TaskBody } from "../support/http.js";
import { NAMESPACE, startCluster, type Cluster } from "../kube-runner/support.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("task logs, Kubernetes runner (stand-in API server)", () => {
  let cluster: Cluster;
  let polling: AppProcess;
  let webhook: AppProcess;
  /** An API process as the chart deploys it by default: pod-log reading off. */
  let naive: AppProcess;

  before(async () => {
    cluster = await startCluster();
    await cluster.startController();
    // The API processes read logs through the API server, as in the chart with
    // logs.podLogAccess=true (their own Role).
    const env = {
      ...cluster.controllerEnv,
      TRAINYARD_LOG_MAX_TAIL_BYTES: "4096",
      TRAINYARD_KUBERNETES_POD_LOGS: "true",
    };
    polling = await cluster.startApp("polling", { env });
    webhook = await cluster.startApp("webhook", { env });
    naive = await cluster.startApp("naive", { env: cluster.controllerEnv });
  });
  after(async () => {
    await cluster?.close();
  });

  const api = (): string => polling.url("polling");
  const podOf = (id: string) =>
    cluster.server
      .list("pods", NAMESPACE)
      .find((p) => p.metadata.labels?.["job-name"] === `trainyard-train-${id}`);
  /** The pod's log as the stand-in's kubelet keeps it. */
  const podLog = async (id: string): Promise<string> => {
    const pod = podOf(id);
    assert.ok(pod, "the task's pod");
    const res = await fetch(
      `${cluster.server.url}/api/v1/namespaces/${NAMESPACE}/pods/${pod.metadata.name ?? ""}/log`,
      { headers: { authorization: "Bearer stand-in-token" } },
    );
    return res.text();
  };
  async function submit(duration: number): Promise<TaskBody> {
    const res = await call<TaskBody>("POST", `${api()}/train`, { duration_seconds: duration });
    assert.equal(res.status, 202, res.text);
    return res.body;
  }
  async function finished(id: string): Promise<string> {
    await waitForStatus(api(), id, ["completed"], 30_000);
    // The container may still be writing its last line.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const text = await podLog(id);
      if (text.includes("training completed")) return text;
      if (Date.now() > deadline) throw new Error(`no last line in ${text}`);
      await sleep(100);
    }
  }

  test("timestamps: any fraction length, compared as numbers", () => {
    assert.equal(
      stampNanos("2026-01-02T03:04:05.1Z"),
      stampNanos("2026-01-02T03:04:05.100000000Z"),
    );
    assert.ok(
      (stampNanos("2026-01-02T03:04:05.123456789Z") ?? 0n) >
        (stampNanos("2026-01-02T03:04:05.1234Z") ?? 0n),
    );
    assert.equal(stampNanos("not a time"), undefined);
    assert.deepEqual(splitStamped("2026-01-02T03:04:05Z a\ncontinued\n2026-01-02T03:04:06Z b"), [
      { nanos: stampNanos("2026-01-02T03:04:05Z"), text: "a\n" },
      { nanos: undefined, text: "continued\n" },
      { nanos: stampNanos("2026-01-02T03:04:06Z"), text: "b" },
    ]);
  });

  test("a finished task's log is its pod's log, on the polling and webhook apps", async () => {
    const task = await submit(0);
    const whole = await finished(task.id);
    assert.match(whole, /"msg":"training started"/);
    for (const base of [api(), webhook.url("webhook")]) {
      const res = await call("GET", `${base}/train/${task.id}/logs`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
      assert.equal(res.text, whole);
    }
    for (const n of [0, 10, 100, whole.length - 1, 4096]) {
      const res = await call("GET", `${api()}/train/${task.id}/logs?tail_bytes=${n}`);
      assert.equal(res.status, 200);
      assert.equal(res.text, lastBytes(Buffer.from(whole), n).toString("utf8"), `tail ${n}`);
    }
    // The tail asks the API server for at most N lines, never for the whole log.
    // (This test's own reads of the whole log name no container.)
    const reads = cluster.server
      .requests({ resource: "pods/log" })
      .filter((r) => r.query.includes("container=train"));
    assert.ok(reads.length >= 7);
    for (const r of reads) assert.match(r.query, /tailLines=\d+/, r.query);
  });

  test("follow: the tail at once, then new lines, nothing twice, ends when the task ends", async () => {
    const task = await submit(3);
    await waitForStatus(api(), task.id, ["running"], 30_000);
    const started = Date.now();
    const s = await stream(`${api()}/train/${task.id}/logs?follow=true`);
    assert.equal(s.status, 200);
    const text = await s.done;
    const whole = await finished(task.id);
    assert.equal(text, whole, "every line once, in order");
    assert.match(s.chunks[0]?.text ?? "", /training started/);
    assert.ok((s.chunks[0]?.at ?? 0) - started < 2000, "the tail came at once");
    const last = s.chunks[s.chunks.length - 1];
    assert.match(last?.text ?? "", /training completed/);
    assert.ok((last?.at ?? 0) - started >= 1500, "the last line came with the run's end");
    // Two reads: the tail with timestamps, then a follow from the second of its last line.
    const pod = podOf(task.id)?.metadata.name ?? "";
    const reads = cluster.server
      .requests({ resource: "pods/log" })
      .filter((r) => r.name === pod && r.at >= started)
      .map((r) => new URLSearchParams(r.query));
    assert.equal(reads[0]?.get("timestamps"), "true");
    assert.ok(reads[0]?.get("tailLines"));
    assert.equal(reads[1]?.get("follow"), "true");
    assert.match(reads[1]?.get("sinceTime") ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  test("follow of a task whose pod does not exist yet waits for it", async () => {
    const task = await submit(1);
    const s = await stream(`${api()}/train/${task.id}/logs?follow=true`);
    assert.equal(s.status, 200);
    const text = await s.done;
    assert.equal(text, await finished(task.id));
  });

  test("no right to read pod logs: 503 log_unavailable with Retry-After", async () => {
    const task = await submit(0);
    await finished(task.id);
    const allow = cluster.server.forbid({ resource: "pods/log" });
    try {
      const res = await call("GET", `${api()}/train/${task.id}/logs`);
      assert.equal(res.status, 503, res.text);
      assert.equal(res.body.code, "log_unavailable");
      assert.match(String(res.body.detail), /403/);
      assert.ok(res.headers.get("retry-after"));
    } finally {
      allow();
    }
    assert.equal((await call("GET", `${api()}/train/${task.id}/logs`)).status, 200);
  });

  test("pod-log reading off (the chart's default): 501 logs_disabled naming the switch", async () => {
    const task = await submit(0);
    const whole = await finished(task.id);
    assert.ok(whole.length > 0, "the pod has a log, so 501 is not for want of one");
    const before = cluster.server.requests({ resource: "pods/log" }).length;
    for (const query of ["", "?tail_bytes=10", "?follow=true"]) {
      const res = await call("GET", `${naive.url("naive")}/train/${task.id}/logs${query}`);
      assert.equal(res.status, 501, res.text);
      assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
      assert.equal(res.body.code, "logs_disabled");
      assert.match(String(res.body.detail), /TRAINYARD_KUBERNETES_POD_LOGS=true/);
      assert.match(String(res.body.detail), /logs\.podLogAccess=true/);
    }
    // The same answer for a task that does not exist: the feature is off, not the task missing.
    const unknown = await call(
      "GET",
      `${naive.url("naive")}/train/00000000-0000-4000-8000-000000000000/logs`,
    );
    assert.equal(unknown.status, 501);
    // It never asked the API server for anything.
    assert.equal(cluster.server.requests({ resource: "pods/log" }).length, before);
    // The rest of the app works: the task is there.
    const status = await call("GET", `${naive.url("naive")}/train/${task.id}/status`);
    assert.equal(status.status, 200);
  });

  test("a finished task whose Job (and pod) is gone: 404 log_not_found", async () => {
    const task = await submit(0);
    await finished(task.id);
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    await kc.makeApiClient(BatchV1Api).deleteNamespacedJob({
      name: `trainyard-train-${task.id}`,
      namespace: NAMESPACE,
      propagationPolicy: "Background",
    });
    const deadline = Date.now() + 10_000;
    while (podOf(task.id)) {
      if (Date.now() > deadline) throw new Error("the pod was not collected");
      await sleep(100);
    }
    const res = await call("GET", `${api()}/train/${task.id}/logs`);
    assert.equal(res.status, 404, res.text);
    assert.equal(res.body.code, "log_not_found");
  });
});
