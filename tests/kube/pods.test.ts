// What a pod's process gets and gives: its environment (only what the container declares),
// values from Secrets, images that do not exist, the log endpoint and termination messages.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import {
  IMAGE,
  hasCondition,
  jobManifest,
  raw,
  startStandIn,
  statusOf,
  waitFor,
  type Harness,
} from "./support.js";

describe("stand-in pods: environment, Secrets, images, logs", () => {
  let h: Harness;
  before(async () => {
    process.env.STANDIN_LEAK_CHECK = "must not reach pods";
    h = await startStandIn({ retryMs: 100 });
  });
  after(async () => {
    delete process.env.STANDIN_LEAK_CHECK;
    await h?.close();
  });

  const podOf = async (job: string): Promise<V1Pod | undefined> =>
    (await h.core.listNamespacedPod({ namespace: h.namespace, labelSelector: `job-name=${job}` }))
      .items[0];
  const complete = (job: string) =>
    waitFor(`${job} to complete`, async () => {
      const j = await h.batch.readNamespacedJob({ name: job, namespace: h.namespace });
      return hasCondition(j, "Complete") || hasCondition(j, "Failed") ? j : undefined;
    });
  const logOf = async (job: string, extra: Record<string, unknown> = {}) => {
    const pod = await podOf(job);
    return h.core.readNamespacedPodLog({
      name: pod?.metadata?.name ?? "",
      namespace: h.namespace,
      ...extra,
    });
  };

  test("Secrets: stringData is stored as base64 data; invalid keys are 422", async () => {
    const created = await h.core.createNamespacedSecret({
      namespace: h.namespace,
      body: { metadata: { name: "creds" }, stringData: { token: "s3cr3t" } },
    });
    assert.equal(created.type, "Opaque");
    assert.deepEqual(created.data, { token: Buffer.from("s3cr3t").toString("base64") });
    assert.equal((created as { stringData?: unknown }).stringData, undefined);
    const got = await h.core.readNamespacedSecret({ name: "creds", namespace: h.namespace });
    assert.equal(got.metadata?.uid, created.metadata?.uid);
    const bad = await statusOf(
      h.core.createNamespacedSecret({
        namespace: h.namespace,
        body: { metadata: { name: "bad" }, stringData: { "no/slash": "x" } },
      }),
    );
    assert.equal(bad.code, 422);
    assert.equal(bad.status.details?.causes?.[0]?.field, "data[no/slash]");
  });

  test("the process sees only its container's env (values, secretKeyRef, fieldRef, $(VAR)), plus PATH", async () => {
    const script =
      "console.log(JSON.stringify({ env: process.env, argv: process.argv.slice(1), cwd: process.cwd() }))";
    const body = jobManifest("env", {
      command: ["node", "-e", script, "$(GREETING) from $(POD_NAME)", "$$(GREETING)"],
      env: [
        { name: "GREETING", value: "hello" },
        { name: "TOKEN", valueFrom: { secretKeyRef: { name: "creds", key: "token" } } },
        { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
        { name: "COMBINED", value: "$(GREETING)-$(TOKEN)" },
      ],
    });
    await h.batch.createNamespacedJob({ namespace: h.namespace, body });
    await complete("env");
    const pod = await podOf("env");
    const seen = JSON.parse(await logOf("env")) as {
      env: Record<string, string>;
      argv: string[];
      cwd: string;
    };
    assert.equal(seen.env.GREETING, "hello");
    assert.equal(seen.env.TOKEN, "s3cr3t");
    assert.equal(seen.env.POD_NAME, pod?.metadata?.name);
    assert.equal(seen.env.POD_NAMESPACE, h.namespace);
    assert.equal(seen.env.COMBINED, "hello-s3cr3t");
    assert.equal(seen.env.STANDIN_LEAK_CHECK, undefined, "the test process's env does not leak");
    assert.deepEqual(Object.keys(seen.env).sort(), [
      "COMBINED",
      "GREETING",
      "HOSTNAME",
      "PATH",
      "POD_NAME",
      "POD_NAMESPACE",
      "TOKEN",
    ]);
    assert.equal(seen.env.HOSTNAME, pod?.metadata?.name);
    assert.deepEqual(seen.argv, [`hello from ${pod?.metadata?.name ?? ""}`, "$(GREETING)"]);
    assert.equal(seen.cwd, h.dir, "the image's directory is the working directory");
  });

  test("a missing Secret keeps the pod Pending (CreateContainerConfigError) until it exists", async () => {
    const body = jobManifest("needs-secret", {
      script: "console.log(process.env.LATE)",
      env: [{ name: "LATE", valueFrom: { secretKeyRef: { name: "late", key: "value" } } }],
    });
    await h.batch.createNamespacedJob({ namespace: h.namespace, body });
    const waiting = await waitFor("the config error", async () => {
      const pod = await podOf("needs-secret");
      const w = pod?.status?.containerStatuses?.[0]?.state?.waiting;
      return w?.reason === "CreateContainerConfigError" ? { pod, w } : undefined;
    });
    assert.equal(waiting.pod?.status?.phase, "Pending");
    assert.equal(waiting.w.message, 'secret "late" not found');
    const job = await h.batch.readNamespacedJob({ name: "needs-secret", namespace: h.namespace });
    assert.equal(job.status?.active, 1);
    assert.equal(job.status?.ready, 0);
    await h.core.createNamespacedSecret({
      namespace: h.namespace,
      body: { metadata: { name: "late" }, stringData: { value: "finally" } },
    });
    const done = await complete("needs-secret");
    assert.ok(hasCondition(done, "Complete"));
    assert.equal(await logOf("needs-secret"), "finally\n");
  });

  test("an image the stand-in does not know stays Pending: ErrImagePull, then ImagePullBackOff", async () => {
    const body = jobManifest("no-image");
    body.spec!.template.spec!.containers[0]!.image = "registry.example/nope:1.0";
    await h.batch.createNamespacedJob({ namespace: h.namespace, body });
    await waitFor(
      "ErrImagePull",
      async () =>
        (await podOf("no-image"))?.status?.containerStatuses?.[0]?.state?.waiting?.reason ===
        "ErrImagePull",
    );
    const pod = await waitFor("ImagePullBackOff", async () => {
      const p = await podOf("no-image");
      return p?.status?.containerStatuses?.[0]?.state?.waiting?.reason === "ImagePullBackOff"
        ? p
        : undefined;
    });
    assert.equal(pod.status?.phase, "Pending");
    const log = await raw(
      h,
      "GET",
      `/api/v1/namespaces/${h.namespace}/pods/${pod.metadata?.name ?? ""}/log`,
    );
    assert.equal(log.status, 400);
    assert.equal(
      log.body.message,
      `container "main" in pod "${pod.metadata?.name ?? ""}" is waiting to start: trying and failing to pull image`,
    );
  });

  test("a command not found fails the container with StartError, exit 128", async () => {
    await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: jobManifest("no-cmd", { command: ["definitely-not-a-command"] }),
    });
    await complete("no-cmd");
    const terminated = (await podOf("no-cmd"))?.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(terminated?.exitCode, 128);
    assert.equal(terminated?.reason, "StartError");
    assert.match(terminated?.message ?? "", /executable file not found in \$PATH/);
  });

  test("logs: tailLines, limitBytes, timestamps; follow streams until the process ends", async () => {
    const script =
      "let i = 0; const t = setInterval(() => { console.log('line ' + ++i); if (i === 5) { clearInterval(t) } }, 150)";
    await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: jobManifest("chatty", { script }),
    });
    const pod = await waitFor("chatty to run", async () => {
      const p = await podOf("chatty");
      return p?.status?.phase === "Running" ? p : undefined;
    });
    const path = `/api/v1/namespaces/${h.namespace}/pods/${pod.metadata?.name ?? ""}/log`;
    const started = Date.now();
    const followed = await raw(h, "GET", `${path}?follow=true`);
    assert.equal(followed.status, 200);
    assert.equal(followed.headers.get("content-type"), "text/plain");
    assert.equal(followed.text, "line 1\nline 2\nline 3\nline 4\nline 5\n");
    assert.ok(Date.now() - started >= 400, "follow waited for the process");
    assert.equal((await raw(h, "GET", `${path}?tailLines=2`)).text, "line 4\nline 5\n");
    assert.equal((await raw(h, "GET", `${path}?limitBytes=9`)).text, "line 1\nli");
    const stamped = (await raw(h, "GET", `${path}?timestamps=true&tailLines=1`)).text;
    assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line 5\n$/);
  });

  test("termination messages: from the file at terminationMessagePath, or the log on error", async () => {
    const file = join(h.dir, "termination-log");
    const body = jobManifest("message-file", {
      script: `require('fs').writeFileSync(${JSON.stringify(file)}, 'model saved'); console.log('noise')`,
    });
    body.spec!.template.spec!.containers[0]!.terminationMessagePath = file;
    await h.batch.createNamespacedJob({ namespace: h.namespace, body });
    await complete("message-file");
    assert.equal(readFileSync(file, "utf8"), "model saved");
    assert.equal(
      (await podOf("message-file"))?.status?.containerStatuses?.[0]?.state?.terminated?.message,
      "model saved",
    );
    // File policy and no file: no message, even on error.
    await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: jobManifest("no-message", { script: "console.log('x'); process.exit(2)" }),
    });
    await complete("no-message");
    assert.equal(
      (await podOf("no-message"))?.status?.containerStatuses?.[0]?.state?.terminated?.message,
      undefined,
    );
    // FallbackToLogsOnError keeps the last 80 lines.
    const many = "for (let i = 1; i <= 100; i++) console.log('l' + i); process.exit(1)";
    await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: jobManifest("long-log", {
        script: many,
        terminationMessagePolicy: "FallbackToLogsOnError",
      }),
    });
    await complete("long-log");
    const message =
      (await podOf("long-log"))?.status?.containerStatuses?.[0]?.state?.terminated?.message ?? "";
    assert.equal(message.split("\n").filter(Boolean).length, 80);
    assert.ok(message.startsWith("l21\n") && message.endsWith("l100\n"));
  });

  test("the image's ENTRYPOINT/CMD apply when the container has no command", async () => {
    h.server.addImage("entry:1", {
      workingDir: h.dir,
      entrypoint: ["node", "-e"],
      cmd: ["console.log('from cmd')"],
    });
    const body = jobManifest("entry");
    const container = body.spec!.template.spec!.containers[0]!;
    container.image = "entry:1";
    delete container.command;
    await h.batch.createNamespacedJob({ namespace: h.namespace, body });
    await complete("entry");
    assert.equal(await logOf("entry"), "from cmd\n");
    assert.notEqual(IMAGE, "entry:1");
  });
});
