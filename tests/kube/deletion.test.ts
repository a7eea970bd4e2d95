// Deleting Jobs and pods: propagation policies (batch/v1's REST default orphans), graceful
// termination of the real processes behind pods, the TTL after a Job finished, and stop().
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Watch, type V1Job, type V1Pod } from "@kubernetes/client-node";
import {
  hasCondition,
  isAlive,
  jobManifest,
  raw,
  startStandIn,
  statusOf,
  waitFor,
  type Harness,
} from "./support.js";

describe("stand-in deletion and garbage collection", () => {
  let h: Harness;
  before(async () => {
    h = await startStandIn();
  });
  after(() => h?.close());

  const sleeper = (name: string, extra: Partial<NonNullable<V1Job["spec"]>> = {}) =>
    jobManifest(name, { script: "console.log('up'); setInterval(() => {}, 1000)", spec: extra });
  const podOf = async (job: string): Promise<V1Pod | undefined> =>
    (await h.core.listNamespacedPod({ namespace: h.namespace, labelSelector: `job-name=${job}` }))
      .items[0];
  /** Starts a sleeping Job and waits for its process. */
  async function running(job: string, extra: Partial<NonNullable<V1Job["spec"]>> = {}) {
    await h.batch.createNamespacedJob({ namespace: h.namespace, body: sleeper(job, extra) });
    const pod = await waitFor(`${job}'s pod to run`, async () => {
      const p = await podOf(job);
      return p?.status?.phase === "Running" ? p : undefined;
    });
    const name = pod.metadata?.name ?? "";
    const pid = h.server.podProcesses(h.namespace, name)[0]?.pid;
    assert.ok(isAlive(pid));
    return { pod: name, pid };
  }
  /** Ignores SIGTERM, once it says so in its log. */
  // It notes each SIGTERM in a file named after its pod (HOSTNAME), in the image directory.
  const STUBBORN =
    "process.on('SIGTERM', () => require('fs').appendFileSync('sigterm-' + process.env.HOSTNAME, 'x')); " +
    "console.log('trap set'); setInterval(() => {}, 1000)";
  const gotSigterm = (pod: string) => existsSync(join(h.dir, `sigterm-${pod}`));
  /** Waits for a STUBBORN job's pod to have its trap set (its process must start first). */
  async function trapped(job: string): Promise<string> {
    return waitFor(`${job}'s trap`, async () => {
      const p = await podOf(job);
      const name = p?.metadata?.name;
      if (p?.status?.phase !== "Running" || !name) return undefined;
      const log = await h.core.readNamespacedPodLog({ name, namespace: h.namespace });
      return log.includes("trap set") ? name : undefined;
    });
  }
  const gone = (what: string, read: () => Promise<unknown>) =>
    waitFor(`${what} to be gone`, async () => (await statusOf(read())).code === 404);

  test("Background: the Job goes at once, its pod is stopped and removed", async () => {
    const { pod, pid } = await running("bg");
    const status = await h.batch.deleteNamespacedJob({
      name: "bg",
      namespace: h.namespace,
      propagationPolicy: "Background",
    });
    assert.equal(status.kind, "Status");
    assert.equal(status.status, "Success");
    assert.equal(
      (await statusOf(h.batch.readNamespacedJob({ name: "bg", namespace: h.namespace }))).code,
      404,
    );
    await gone("the pod", () => h.core.readNamespacedPod({ name: pod, namespace: h.namespace }));
    assert.equal(isAlive(pid), false);
  });

  test("no policy orphans (batch/v1's default): the pod keeps running, unowned", async () => {
    const { pod, pid } = await running("orphaning");
    // client-node reads every DELETE answer as a V1Status; the raw body is the Job, held by
    // the orphan finalizer until the collector has released its dependents.
    const answer = await raw(
      h,
      "DELETE",
      `/apis/batch/v1/namespaces/${h.namespace}/jobs/orphaning`,
    );
    assert.equal(answer.status, 200);
    const meta = answer.body.metadata as V1Job["metadata"];
    assert.equal(answer.body.kind, "Job");
    assert.deepEqual(meta?.finalizers, ["orphan"]);
    assert.ok(meta?.deletionTimestamp);
    await gone("the Job", () =>
      h.batch.readNamespacedJob({ name: "orphaning", namespace: h.namespace }),
    );
    const orphan = await h.core.readNamespacedPod({ name: pod, namespace: h.namespace });
    assert.equal(orphan.metadata?.ownerReferences, undefined);
    assert.equal(orphan.metadata?.finalizers, undefined, "the tracking finalizer is released too");
    assert.equal(orphan.status?.phase, "Running");
    assert.ok(isAlive(pid));
    // Deleting the orphan itself stops it.
    const deleting = await h.core.deleteNamespacedPod({ name: pod, namespace: h.namespace });
    assert.ok(deleting.metadata?.deletionTimestamp);
    assert.equal(deleting.metadata?.deletionGracePeriodSeconds, 1);
    await gone("the orphan", () => h.core.readNamespacedPod({ name: pod, namespace: h.namespace }));
    assert.equal(isAlive(pid), false);
  });

  test("Foreground: the Job stays, marked, until its pod is gone", async () => {
    const { pod, pid } = await running("fg");
    const answer = await raw(h, "DELETE", `/apis/batch/v1/namespaces/${h.namespace}/jobs/fg`, {
      kind: "DeleteOptions",
      apiVersion: "v1",
      propagationPolicy: "Foreground",
    });
    const meta = answer.body.metadata as V1Job["metadata"];
    assert.deepEqual(meta?.finalizers, ["foregroundDeletion"]);
    await gone("the Job", () => h.batch.readNamespacedJob({ name: "fg", namespace: h.namespace }));
    assert.equal(
      (await statusOf(h.core.readNamespacedPod({ name: pod, namespace: h.namespace }))).code,
      404,
    );
    assert.equal(isAlive(pid), false);
  });

  test("deleting a Job's pod: SIGTERM, SIGKILL after the grace period, and the Job counts a failure", async () => {
    const body = jobManifest("stubborn", {
      script: STUBBORN,
    });
    await h.batch.createNamespacedJob({ namespace: h.namespace, body });
    const name = await trapped("stubborn");
    const pid = h.server.podProcesses(h.namespace, name)[0]?.pid;
    const last: V1Pod[] = [];
    const watch = await new Watch(h.kc).watch(
      `/api/v1/namespaces/${h.namespace}/pods`,
      { fieldSelector: `metadata.name=${name}` },
      (_t, p: V1Pod) => last.push(p),
      () => undefined,
    );
    try {
      const started = Date.now();
      await h.core.deleteNamespacedPod({ name, namespace: h.namespace });
      await gone("the pod", () => h.core.readNamespacedPod({ name, namespace: h.namespace }));
      const took = Date.now() - started;
      assert.ok(took >= 900, `SIGKILL waited for the 1 s grace period (${took} ms)`);
      assert.equal(isAlive(pid), false);
      assert.ok(gotSigterm(name), "SIGTERM came first");
      const final = last.filter((p) => p.status?.phase === "Failed").pop();
      assert.equal(final?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 137);
      const log = await waitFor("the Job to fail", async () => {
        const job = await h.batch.readNamespacedJob({ name: "stubborn", namespace: h.namespace });
        return hasCondition(job, "Failed") ? job : undefined;
      });
      assert.equal(log.status?.failed, 1);
      assert.equal(
        log.status?.conditions?.find((c) => c.type === "Failed")?.reason,
        "BackoffLimitExceeded",
      );
    } finally {
      watch.abort();
    }
  });

  test("gracePeriodSeconds=0 kills at once, SIGTERM trap or not", async () => {
    await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: jobManifest("forced", { script: STUBBORN }),
    });
    const pod = await trapped("forced");
    const pid = h.server.podProcesses(h.namespace, pod)[0]?.pid;
    await h.core.deleteNamespacedPod({ name: pod, namespace: h.namespace, gracePeriodSeconds: 0 });
    // The Job's tracking finalizer holds the object a moment; the process is killed at once.
    await gone("the pod", () => h.core.readNamespacedPod({ name: pod, namespace: h.namespace }));
    assert.equal(isAlive(pid), false);
    assert.equal(gotSigterm(pod), false, "SIGKILL without a SIGTERM first");
  });

  test("ttlSecondsAfterFinished deletes the finished Job and its pods", async () => {
    await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: jobManifest("ttl", { spec: { ttlSecondsAfterFinished: 1 } }),
    });
    const done = await waitFor("the Job to complete", async () => {
      const job = await h.batch.readNamespacedJob({ name: "ttl", namespace: h.namespace });
      return hasCondition(job, "Complete") ? Date.now() : undefined;
    });
    await gone("the Job", () => h.batch.readNamespacedJob({ name: "ttl", namespace: h.namespace }));
    const lived = Date.now() - done;
    assert.ok(lived >= 800, `deleted ${lived} ms after it was seen complete (ttl 1 s)`);
    await waitFor("its pod to be gone", async () => (await podOf("ttl")) === undefined);
  });

  test("a delete precondition on a stale uid is 409 Conflict", async () => {
    await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: jobManifest("guarded", { spec: { suspend: true } }),
    });
    const { code, status } = await statusOf(
      h.batch.deleteNamespacedJob({
        name: "guarded",
        namespace: h.namespace,
        body: { preconditions: { uid: "00000000-0000-0000-0000-000000000000" } },
      }),
    );
    assert.equal(code, 409);
    assert.equal(status.reason, "Conflict");
    assert.match(
      status.message ?? "",
      /^Operation cannot be fulfilled on jobs\.batch "guarded": Precondition failed: UID in precondition/,
    );
  });

  test("stop() kills every process it started", async () => {
    const own = await startStandIn();
    try {
      await own.batch.createNamespacedJob({
        namespace: own.namespace,
        body: sleeper("left-running"),
      });
      const pod = await waitFor("the pod to run", async () => {
        const [p] = (await own.core.listNamespacedPod({ namespace: own.namespace })).items;
        return p?.status?.phase === "Running" ? p : undefined;
      });
      const pid = own.server.podProcesses(own.namespace, pod.metadata?.name ?? "")[0]?.pid;
      assert.ok(isAlive(pid));
      await own.server.stop();
      assert.equal(isAlive(pid), false);
    } finally {
      await own.close();
    }
  });
});
