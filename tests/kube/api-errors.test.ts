// The stand-in's CRUD of Jobs and its refusals, checked through client-node against the
// Status bodies the real API server sends (k8s.io/apimachinery/pkg/api/errors).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jobManifest, startStandIn, statusOf, type Harness } from "./support.js";

describe("stand-in API server: Job CRUD and errors", () => {
  let h: Harness;
  before(async () => {
    // A suspended default keeps these Jobs from starting processes they do not need.
    h = await startStandIn();
  });
  after(() => h?.close());

  const suspended = (name: string) => jobManifest(name, { spec: { suspend: true } });

  test("create, get, list, delete a Job with server-set metadata and defaults", async () => {
    const created = await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: suspended("crud"),
    });
    const meta = created.metadata;
    assert.match(meta?.uid ?? "", /^[0-9a-f-]{36}$/);
    assert.match(meta?.resourceVersion ?? "", /^\d+$/);
    assert.ok(meta?.creationTimestamp instanceof Date);
    assert.equal(meta?.generation, 1);
    assert.equal(meta?.namespace, h.namespace);
    // The generated selector and labels, as the Job strategy adds them.
    const uid = meta?.uid ?? "";
    assert.deepEqual(created.spec?.selector?.matchLabels, {
      "batch.kubernetes.io/controller-uid": uid,
    });
    const podLabels = created.spec?.template.metadata?.labels ?? {};
    assert.equal(podLabels["batch.kubernetes.io/job-name"], "crud");
    assert.equal(podLabels["job-name"], "crud");
    assert.equal(podLabels["controller-uid"], uid);
    assert.equal(created.spec?.completions, 1);
    assert.equal(created.spec?.parallelism, 1);
    assert.equal(created.spec?.completionMode, "NonIndexed");
    assert.equal(created.spec?.podReplacementPolicy, "TerminatingOrFailed");
    const container = created.spec?.template.spec?.containers[0];
    assert.equal(container?.terminationMessagePolicy, "File");
    assert.equal(container?.imagePullPolicy, "IfNotPresent");

    const got = await h.batch.readNamespacedJob({ name: "crud", namespace: h.namespace });
    assert.equal(got.metadata?.uid, uid);
    const listed = await h.batch.listNamespacedJob({ namespace: h.namespace });
    assert.equal(listed.kind, "JobList");
    assert.equal(listed.apiVersion, "batch/v1");
    assert.ok(Number(listed.metadata?.resourceVersion) >= Number(meta?.resourceVersion));
    assert.deepEqual(
      listed.items.map((j) => j.metadata?.name),
      ["crud"],
    );

    const status = await h.batch.deleteNamespacedJob({
      name: "crud",
      namespace: h.namespace,
      propagationPolicy: "Background",
    });
    assert.equal(status.status, "Success");
    assert.equal(status.details?.uid, uid);
    assert.equal(
      (await statusOf(h.batch.readNamespacedJob({ name: "crud", namespace: h.namespace }))).code,
      404,
    );
  });

  test("creating a Job twice is 409 AlreadyExists", async () => {
    await h.batch.createNamespacedJob({ namespace: h.namespace, body: suspended("twice") });
    const { code, status } = await statusOf(
      h.batch.createNamespacedJob({ namespace: h.namespace, body: suspended("twice") }),
    );
    assert.equal(code, 409);
    assert.deepEqual(status, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'jobs.batch "twice" already exists',
      reason: "AlreadyExists",
      details: { name: "twice", group: "batch", kind: "jobs" },
      code: 409,
    });
  });

  test("an unknown Job or Pod is 404 NotFound, naming the group only when there is one", async () => {
    const job = await statusOf(h.batch.readNamespacedJob({ name: "nope", namespace: h.namespace }));
    assert.deepEqual(job.status, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'jobs.batch "nope" not found',
      reason: "NotFound",
      details: { name: "nope", group: "batch", kind: "jobs" },
      code: 404,
    });
    const pod = await statusOf(h.core.readNamespacedPod({ name: "nope", namespace: h.namespace }));
    assert.equal(pod.status.message, 'pods "nope" not found');
    assert.deepEqual(pod.status.details, { name: "nope", kind: "pods" });
  });

  test("a Job without containers is 422 Invalid with the field named", async () => {
    const body = suspended("empty");
    if (body.spec?.template.spec) body.spec.template.spec.containers = [];
    const { code, status } = await statusOf(
      h.batch.createNamespacedJob({ namespace: h.namespace, body }),
    );
    assert.equal(code, 422);
    assert.equal(status.reason, "Invalid");
    assert.equal(
      status.message,
      'Job.batch "empty" is invalid: spec.template.spec.containers: Required value',
    );
    assert.deepEqual(status.details?.causes, [
      {
        reason: "FieldValueRequired",
        message: "Required value",
        field: "spec.template.spec.containers",
      },
    ]);
    assert.equal(status.details?.kind, "Job");
    assert.equal(status.details?.group, "batch");
  });

  test("restartPolicy Always (or unset) is not a Job's", async () => {
    for (const restartPolicy of ["Always", undefined]) {
      const body = suspended("always");
      if (body.spec?.template.spec) body.spec.template.spec.restartPolicy = restartPolicy;
      const { code, status } = await statusOf(
        h.batch.createNamespacedJob({ namespace: h.namespace, body }),
      );
      assert.equal(code, 422);
      assert.equal(
        status.message,
        'Job.batch "always" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"',
      );
      assert.equal(status.details?.causes?.[0]?.reason, "FieldValueNotSupported");
    }
  });

  test("names: not a DNS subdomain, or too long for the job-name label", async () => {
    const bad = await statusOf(
      h.batch.createNamespacedJob({ namespace: h.namespace, body: suspended("Bad_Name") }),
    );
    assert.equal(bad.code, 422);
    assert.equal(bad.status.details?.causes?.[0]?.field, "metadata.name");
    assert.match(
      bad.status.message ?? "",
      /metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/,
    );

    const long = "x".repeat(64);
    const tooLong = await statusOf(
      h.batch.createNamespacedJob({ namespace: h.namespace, body: suspended(long) }),
    );
    assert.equal(tooLong.code, 422);
    assert.match(
      tooLong.status.message ?? "",
      new RegExp(
        `spec\\.template\\.labels: Invalid value: "${long}": must be no more than 63 bytes`,
      ),
    );
    const sixtyThree = "y".repeat(63);
    const ok = await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: suspended(sixtyThree),
    });
    assert.equal(ok.metadata?.name, sixtyThree);
  });

  test("schema type errors are 400 decode errors; unknown namespaces 404", async () => {
    const res = await fetch(`${h.server.url}/apis/batch/v1/namespaces/${h.namespace}/jobs`, {
      method: "POST",
      headers: { authorization: "Bearer stand-in-token", "content-type": "application/json" },
      body: JSON.stringify({
        ...suspended("typed"),
        spec: { ...suspended("typed").spec, backoffLimit: "3" },
      }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { reason: string; message: string };
    assert.equal(body.reason, "BadRequest");
    assert.match(
      body.message,
      /cannot be handled as a Job: json: cannot unmarshal string .*backoffLimit/,
    );

    const ns = await statusOf(
      h.batch.createNamespacedJob({ namespace: "elsewhere", body: suspended("x") }),
    );
    assert.equal(ns.code, 404);
    assert.equal(ns.status.message, 'namespaces "elsewhere" not found');
  });

  test("a POST to an object path is 405; an unknown resource is 404", async () => {
    const auth = { authorization: "Bearer stand-in-token", "content-type": "application/json" };
    const post = await fetch(`${h.server.url}/apis/batch/v1/namespaces/${h.namespace}/jobs/some`, {
      method: "POST",
      headers: auth,
      body: "{}",
    });
    assert.equal(post.status, 405);
    assert.equal(((await post.json()) as { reason: string }).reason, "MethodNotAllowed");
    const unknown = await fetch(
      `${h.server.url}/apis/batch/v1/namespaces/${h.namespace}/cronjobs`,
      { headers: auth },
    );
    assert.equal(unknown.status, 404);
    assert.equal(
      ((await unknown.json()) as { message: string }).message,
      "the server could not find the requested resource",
    );
  });

  test("a wrong or missing token is 401; a forbidden resource is 403 as RBAC words it", async () => {
    const missing = await fetch(`${h.server.url}/apis/batch/v1/namespaces/${h.namespace}/jobs`);
    assert.equal(missing.status, 401);
    assert.deepEqual(await missing.json(), {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Unauthorized",
      reason: "Unauthorized",
      code: 401,
    });
    const allow = h.server.forbid({ resource: "jobs", verb: "create" });
    try {
      const { code, status } = await statusOf(
        h.batch.createNamespacedJob({ namespace: h.namespace, body: suspended("nope") }),
      );
      assert.equal(code, 403);
      assert.equal(status.reason, "Forbidden");
      assert.equal(
        status.message,
        `jobs.batch is forbidden: User "system:serviceaccount:default:trainyard" cannot create resource "jobs" in API group "batch" in the namespace "${h.namespace}"`,
      );
      // Other verbs stay allowed.
      await h.batch.listNamespacedJob({ namespace: h.namespace });
    } finally {
      allow();
    }
    await h.batch.createNamespacedJob({ namespace: h.namespace, body: suspended("allowed-again") });
  });

  test("discovery and version answer what a client looks for", async () => {
    const auth = { authorization: "Bearer stand-in-token" };
    const batch = (await (
      await fetch(`${h.server.url}/apis/batch/v1`, { headers: auth })
    ).json()) as {
      resources: { name: string }[];
    };
    assert.ok(batch.resources.some((r) => r.name === "jobs"));
    const version = (await (await fetch(`${h.server.url}/version`, { headers: auth })).json()) as {
      major: string;
    };
    assert.equal(version.major, "1");
  });
});
