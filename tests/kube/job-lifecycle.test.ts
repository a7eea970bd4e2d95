// Jobs run to their end through the simulated Job controller and kubelet: real processes,
// real exit codes, and the status and conditions Kubernetes 1.31+ reports for each ending.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Watch, type V1Job, type V1Pod } from "@kubernetes/client-node";
import {
  hasCondition,
  isAlive,
  jobManifest,
  startStandIn,
  waitFor,
  type Harness,
} from "./support.js";

describe("stand-in Job controller and kubelet", () => {
  let h: Harness;
  before(async () => {
    h = await startStandIn({ podBackoffMs: 200 });
  });
  after(() => h?.close());

  const readJob = (name: string) => h.batch.readNamespacedJob({ name, namespace: h.namespace });
  const podsOf = async (name: string): Promise<V1Pod[]> =>
    (
      await h.core.listNamespacedPod({
        namespace: h.namespace,
        labelSelector: `batch.kubernetes.io/job-name=${name}`,
      })
    ).items;
  const finished = (name: string, timeoutMs = 10_000) =>
    waitFor(
      `Job ${name} to finish`,
      async () => {
        const job = await readJob(name);
        return hasCondition(job, "Complete") || hasCondition(job, "Failed") ? job : undefined;
      },
      timeoutMs,
    );

  test("exit 0: SuccessCriteriaMet, then Complete; succeeded 1; the pod Succeeded", async () => {
    const seen: V1Job[] = [];
    const watch = await new Watch(h.kc).watch(
      `/apis/batch/v1/namespaces/${h.namespace}/jobs`,
      { fieldSelector: "metadata.name=ok" },
      (_type, obj: V1Job) => seen.push(obj),
      () => undefined,
    );
    try {
      await h.batch.createNamespacedJob({ namespace: h.namespace, body: jobManifest("ok") });
      const job = await finished("ok");
      assert.equal(job.status?.succeeded, 1);
      assert.equal(job.status?.failed, undefined);
      assert.equal(job.status?.active, undefined);
      assert.ok(job.status?.startTime instanceof Date);
      assert.ok(job.status?.completionTime instanceof Date);
      const conditions = (job.status?.conditions ?? []).map((c) => [
        c.type,
        c.status,
        c.reason,
        c.message,
      ]);
      assert.deepEqual(conditions, [
        [
          "SuccessCriteriaMet",
          "True",
          "CompletionsReached",
          "Reached expected number of succeeded pods",
        ],
        ["Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods"],
      ]);
      // The interim condition was written on its own, before the terminal one.
      await waitFor("the Complete event", () => seen.some((j) => hasCondition(j, "Complete")));
      const interim = seen.findIndex(
        (j) => hasCondition(j, "SuccessCriteriaMet") && !hasCondition(j, "Complete"),
      );
      assert.ok(interim >= 0, "a MODIFIED event with SuccessCriteriaMet alone");
      // Active first, then ready: the pod ran.
      assert.ok(seen.some((j) => j.status?.active === 1));

      const [pod] = await podsOf("ok");
      assert.equal(pod?.status?.phase, "Succeeded");
      const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
      assert.equal(terminated?.exitCode, 0);
      assert.equal(terminated?.reason, "Completed");
      assert.match(pod?.metadata?.name ?? "", /^ok-[a-z0-9]{5}$/);
      const owner = pod?.metadata?.ownerReferences?.[0];
      assert.equal(owner?.kind, "Job");
      assert.equal(owner?.uid, job.metadata?.uid);
      assert.equal(owner?.controller, true);
      const labels = pod?.metadata?.labels ?? {};
      assert.equal(labels["controller-uid"], job.metadata?.uid);
      assert.equal(labels["batch.kubernetes.io/controller-uid"], job.metadata?.uid);
      assert.equal(labels["job-name"], "ok");
      assert.equal(labels.app, undefined, "the Job's own labels are not the pod's");
      // Counted: the tracking finalizer is gone.
      assert.deepEqual(pod?.metadata?.finalizers ?? [], []);
    } finally {
      watch.abort();
    }
  });

  test("exit 3: FailureTarget then Failed, BackoffLimitExceeded, the log's tail as the message", async () => {
    const script = "console.log('starting'); console.error('boom: no data'); process.exit(3)";
    await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: jobManifest("exit3", { script, terminationMessagePolicy: "FallbackToLogsOnError" }),
    });
    const job = await finished("exit3");
    assert.equal(job.status?.failed, 1);
    assert.deepEqual(
      (job.status?.conditions ?? []).map((c) => [c.type, c.reason, c.message]),
      [
        ["FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit"],
        ["Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"],
      ],
    );
    assert.equal(job.status?.completionTime, undefined);
    const pods = await podsOf("exit3");
    assert.equal(pods.length, 1, "backoffLimit 0: no second pod");
    const pod = pods[0];
    assert.equal(pod?.status?.phase, "Failed");
    const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(terminated?.exitCode, 3);
    assert.equal(terminated?.reason, "Error");
    assert.equal(terminated?.message, "starting\nboom: no data\n");
  });

  test("backoffLimit 1: a second pod after the backoff delay, then Failed with failed 2", async () => {
    // Pod events timed here (API timestamps only have second precision).
    const events: { type: string; phase: string | undefined; at: number }[] = [];
    const watch = await new Watch(h.kc).watch(
      `/api/v1/namespaces/${h.namespace}/pods`,
      { labelSelector: "job-name=retry" },
      (type, pod: V1Pod) => events.push({ type, phase: pod.status?.phase, at: Date.now() }),
      () => undefined,
    );
    try {
      await h.batch.createNamespacedJob({
        namespace: h.namespace,
        body: jobManifest("retry", { script: "process.exit(1)", spec: { backoffLimit: 1 } }),
      });
      const job = await finished("retry");
      assert.equal(job.status?.failed, 2);
      assert.ok(hasCondition(job, "Failed"));
      assert.equal((await podsOf("retry")).length, 2);
      const firstFailed = events.find((e) => e.phase === "Failed");
      const added = events.filter((e) => e.type === "ADDED");
      assert.equal(added.length, 2);
      assert.ok(firstFailed && added[1]);
      assert.ok(
        added[1].at - firstFailed.at >= 150,
        "the replacement waited for the backoff (200 ms)",
      );
    } finally {
      watch.abort();
    }
  });

  test("activeDeadlineSeconds: DeadlineExceeded, and the process is really gone", async () => {
    await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: jobManifest("deadline", {
        script: "setInterval(() => {}, 1000)",
        spec: { activeDeadlineSeconds: 1 },
      }),
    });
    // Read in-process, not over HTTP: on a loaded machine the second of life may be short.
    const proc = await waitFor("the deadline pod's process", () => {
      const pod = h.server
        .list("pods", h.namespace)
        .find((p) => p.metadata.labels?.["job-name"] === "deadline");
      const [p] = h.server.podProcesses(h.namespace, pod?.metadata.name ?? "");
      return p?.running ? p : undefined;
    });
    assert.ok(isAlive(proc.pid), "the container runs as a real process");
    const job = await finished("deadline");
    assert.deepEqual(
      (job.status?.conditions ?? []).map((c) => [c.type, c.reason, c.message]),
      [
        ["FailureTarget", "DeadlineExceeded", "Job was active longer than specified deadline"],
        ["Failed", "DeadlineExceeded", "Job was active longer than specified deadline"],
      ],
    );
    assert.equal(job.status?.failed, 1);
    assert.equal(isAlive(proc.pid), false);
    // The Job controller deleted the pod it stopped.
    await waitFor(
      "the deadline pod to be removed",
      async () => (await podsOf("deadline")).length === 0,
    );
  });

  test("podFailurePolicy FailJob on exit code 42 fails at once with reason PodFailurePolicy", async () => {
    const body = jobManifest("policy", { script: "process.exit(42)", spec: { backoffLimit: 6 } });
    body.spec!.podFailurePolicy = {
      rules: [
        { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
        { action: "FailJob", onExitCodes: { containerName: "main", operator: "In", values: [42] } },
      ],
    };
    const created = await h.batch.createNamespacedJob({ namespace: h.namespace, body });
    assert.equal(created.spec?.podReplacementPolicy, "Failed");
    const job = await finished("policy");
    const [pod] = await podsOf("policy");
    const failed = (job.status?.conditions ?? []).find((c) => c.type === "Failed");
    assert.equal(failed?.reason, "PodFailurePolicy");
    assert.equal(
      failed?.message,
      `Container main for pod ${h.namespace}/${pod?.metadata?.name ?? ""} failed with exit code 42 matching FailJob rule at index 1`,
    );
    assert.ok(hasCondition(job, "FailureTarget"));
    assert.equal(job.status?.failed, 1);
  });

  test("podFailurePolicy Ignore: the failure is not counted, a new pod succeeds", async () => {
    // Exits 5 the first time (a file in the image's directory remembers), 0 the next.
    const script =
      "const fs = require('fs'); if (!fs.existsSync('ignore-ran')) { fs.writeFileSync('ignore-ran', ''); process.exit(5) }";
    const body = jobManifest("ignore", { script, spec: { backoffLimit: 0 } });
    body.spec!.podFailurePolicy = {
      rules: [{ action: "Ignore", onExitCodes: { operator: "In", values: [5] } }],
    };
    await h.batch.createNamespacedJob({ namespace: h.namespace, body });
    const job = await finished("ignore");
    assert.ok(hasCondition(job, "Complete"), JSON.stringify(job.status));
    assert.equal(job.status?.failed, undefined);
    assert.equal(job.status?.succeeded, 1);
    assert.equal((await podsOf("ignore")).length, 2);
  });

  test("restartPolicy OnFailure restarts the container in the same pod", async () => {
    const script =
      "const fs = require('fs'); if (!fs.existsSync('onfailure-ran')) { fs.writeFileSync('onfailure-ran', ''); console.log('first'); process.exit(1) } console.log('second')";
    await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: jobManifest("onfailure", {
        script,
        restartPolicy: "OnFailure",
        spec: { backoffLimit: 3 },
      }),
    });
    const job = await finished("onfailure");
    assert.ok(hasCondition(job, "Complete"));
    const [pod, ...others] = await podsOf("onfailure");
    assert.equal(others.length, 0);
    const status = pod?.status?.containerStatuses?.[0];
    assert.equal(status?.restartCount, 1);
    assert.equal(status?.lastState?.terminated?.exitCode, 1);
    const name = pod?.metadata?.name ?? "";
    const current = await h.core.readNamespacedPodLog({ name, namespace: h.namespace });
    const previous = await h.core.readNamespacedPodLog({
      name,
      namespace: h.namespace,
      previous: true,
    });
    assert.equal(current, "second\n");
    assert.equal(previous, "first\n");
  });

  test("no internal errors in the simulated controllers", () => {
    assert.deepEqual(h.server.internalErrors, []);
  });
});
