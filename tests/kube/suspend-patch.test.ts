// Suspending and resuming Jobs through PATCH, the three patch types, what a patch may not
// change, and optimistic concurrency on resourceVersion.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PatchStrategy, setHeaderOptions, type V1Job } from "@kubernetes/client-node";
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

describe("stand-in suspend, patch and update", () => {
  let h: Harness;
  before(async () => {
    h = await startStandIn();
  });
  after(() => h?.close());

  const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  const strategic = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
  const read = (name: string) => h.batch.readNamespacedJob({ name, namespace: h.namespace });
  const podsOf = async (job: string) =>
    (await h.core.listNamespacedPod({ namespace: h.namespace, labelSelector: `job-name=${job}` }))
      .items;
  const suspendedCondition = (job: V1Job) =>
    job.status?.conditions?.find((c) => c.type === "Suspended");

  test("created suspended: no pod, Suspended True; patched to false: runs and completes", async () => {
    await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: jobManifest("later", { spec: { suspend: true } }),
    });
    const suspended = await waitFor("the Suspended condition", async () => {
      const job = await read("later");
      return suspendedCondition(job) ? job : undefined;
    });
    const condition = suspendedCondition(suspended);
    assert.equal(condition?.status, "True");
    assert.equal(condition?.reason, "JobSuspended");
    assert.equal(condition?.message, "Job suspended");
    assert.equal(suspended.status?.startTime, undefined);
    assert.equal((await podsOf("later")).length, 0);

    await h.batch.patchNamespacedJob(
      { name: "later", namespace: h.namespace, body: { spec: { suspend: false } } },
      merge,
    );
    const done = await waitFor("the resumed Job to complete", async () => {
      const job = await read("later");
      return hasCondition(job, "Complete") ? job : undefined;
    });
    assert.ok(done.status?.startTime instanceof Date);
    const resumed = suspendedCondition(done);
    assert.equal(resumed?.status, "False");
    assert.equal(resumed?.reason, "JobResumed");
    assert.equal((await podsOf("later")).length, 1);
  });

  test("suspending a running Job stops its pod without counting a failure", async () => {
    await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: jobManifest("pausable", { script: "setInterval(() => {}, 1000)" }),
    });
    const pod = await waitFor("the pod to run", async () => {
      const [p] = await podsOf("pausable");
      return p?.status?.phase === "Running" ? p : undefined;
    });
    const pid = h.server.podProcesses(h.namespace, pod.metadata?.name ?? "")[0]?.pid;
    assert.ok(isAlive(pid));
    await h.batch.patchNamespacedJob(
      { name: "pausable", namespace: h.namespace, body: { spec: { suspend: true } } },
      strategic,
    );
    await waitFor("the pod to go", async () => (await podsOf("pausable")).length === 0);
    assert.equal(isAlive(pid), false);
    const job = await read("pausable");
    assert.equal(job.status?.failed, undefined);
    assert.equal(job.status?.active, undefined);
    assert.equal(suspendedCondition(job)?.status, "True");
    await h.batch.deleteNamespacedJob({
      name: "pausable",
      namespace: h.namespace,
      propagationPolicy: "Background",
    });
  });

  test("JSON patch, merge patch, strategic merge patch; generation moves only with the spec", async () => {
    const created = await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: jobManifest("patched", { spec: { suspend: true } }),
    });
    const byJson = await h.batch.patchNamespacedJob({
      name: "patched",
      namespace: h.namespace,
      body: [
        { op: "test", path: "/spec/suspend", value: true },
        { op: "add", path: "/metadata/labels/json", value: "1" },
      ],
    });
    assert.equal(byJson.metadata?.labels?.json, "1");
    assert.equal(byJson.metadata?.generation, 1);
    const byMerge = await h.batch.patchNamespacedJob(
      {
        name: "patched",
        namespace: h.namespace,
        body: { metadata: { labels: { json: null, merge: "2" } } },
      },
      merge,
    );
    assert.deepEqual(byMerge.metadata?.labels, { app: "trainyard-test", merge: "2" });
    const bySpec = await h.batch.patchNamespacedJob(
      { name: "patched", namespace: h.namespace, body: { spec: { activeDeadlineSeconds: 600 } } },
      strategic,
    );
    assert.equal(bySpec.spec?.activeDeadlineSeconds, 600);
    assert.equal(bySpec.metadata?.generation, 2);
    assert.ok(Number(bySpec.metadata?.resourceVersion) > Number(created.metadata?.resourceVersion));
    // A failing JSON patch test is 422.
    const failed = await statusOf(
      h.batch.patchNamespacedJob({
        name: "patched",
        namespace: h.namespace,
        body: [{ op: "test", path: "/spec/suspend", value: false }],
      }),
    );
    assert.equal(failed.code, 422);
  });

  test("the pod template is immutable: 422 naming spec.template", async () => {
    const { code, status } = await statusOf(
      h.batch.patchNamespacedJob(
        {
          name: "patched",
          namespace: h.namespace,
          body: {
            spec: { template: { spec: { containers: [{ name: "main", image: "other:2" }] } } },
          },
        },
        merge,
      ),
    );
    assert.equal(code, 422);
    assert.equal(status.reason, "Invalid");
    const cause = status.details?.causes?.find((c) => c.field === "spec.template");
    assert.equal(cause?.reason, "FieldValueInvalid");
    assert.match(cause?.message ?? "", /field is immutable$/);
    assert.match(
      status.message ?? "",
      /^Job\.batch "patched" is invalid: spec\.template: Invalid value: .*: field is immutable$/,
    );
  });

  test("a stale resourceVersion is 409 Conflict, for PUT and for a patch that carries one", async () => {
    const current = await read("patched");
    const stale = { ...current, metadata: { ...current.metadata, resourceVersion: "1" } };
    const put = await statusOf(
      h.batch.replaceNamespacedJob({ name: "patched", namespace: h.namespace, body: stale }),
    );
    assert.equal(put.code, 409);
    assert.equal(put.status.reason, "Conflict");
    assert.equal(
      put.status.message,
      'Operation cannot be fulfilled on jobs.batch "patched": the object has been modified; please apply your changes to the latest version and try again',
    );
    const patch = await statusOf(
      h.batch.patchNamespacedJob(
        {
          name: "patched",
          namespace: h.namespace,
          body: { metadata: { resourceVersion: "1", labels: { x: "y" } } },
        },
        merge,
      ),
    );
    assert.equal(patch.code, 409);
    // With the current version, the same update goes through.
    const fresh = { ...current, metadata: { ...current.metadata, labels: { replaced: "yes" } } };
    const replaced = await h.batch.replaceNamespacedJob({
      name: "patched",
      namespace: h.namespace,
      body: fresh,
    });
    assert.deepEqual(replaced.metadata?.labels, { replaced: "yes" });
    assert.deepEqual(replaced.status, current.status, "PUT on the main resource ignores status");
  });

  test("server-side apply is not supported: 415", async () => {
    const res = await raw(
      h,
      "PATCH",
      `/apis/batch/v1/namespaces/${h.namespace}/jobs/patched`,
      "{}",
      "application/apply-patch+yaml",
    );
    assert.equal(res.status, 415);
    assert.equal(res.body.reason, "UnsupportedMediaType");
  });
});
