// The Job the controller builds, from the environment the chart gives it: valid by the
// Kubernetes schemas, hardened like the chart's pods, running the chart's image with its pull
// policy, its worker ServiceAccount and its database Secret, and selected by its NetworkPolicy.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Job } from "kubernetes-types/batch/v1.js";
import type { NetworkPolicy } from "kubernetes-types/networking/v1.js";
import { loadConfig, type Config } from "../../src/config.js";
import { buildJob, jobName, labelSelector } from "../../src/runner/kubernetes/job-spec.js";
import type { Task } from "../../src/tasks/task.js";
import {
  containerEnv,
  find,
  get,
  helmTemplate,
  ofKind,
  onlyContainer,
  schemaProblems,
  workload,
  type K8sObject,
} from "./helpers.js";

const TASK: Task = {
  id: "0b7c1f7e-5f0e-4c1e-9d7a-2f8e9a1b3c4d",
  seq: 42,
  status: "queued",
  app: "polling",
  tenant: "default",
  params: { duration_seconds: 5, timeout_seconds: 600 },
  idempotencyKey: null,
  callbackUrl: null,
  error: null,
  runnerRef: null,
  createdAt: new Date(),
  admittedAt: new Date(),
  startedAt: null,
  finishedAt: null,
  progress: null,
  version: 1,
  attempt: 1,
  previousAttempts: [],
  notBefore: null,
};

function controllerConfig(objects: K8sObject[], release: string, namespace: string): Config {
  const { pod } = workload(objects, "Deployment", `${release}-controller`);
  return loadConfig(containerEnv(onlyContainer(pod), objects, { namespace }));
}

function jobFor(config: Config): Job {
  return buildJob(TASK, config.kubernetes, {
    timeoutSeconds: 600,
    logLevel: config.logLevel,
    datasetPath: config.datasetPath,
    writePatienceSeconds: config.workerWritePatienceSeconds,
  }) as Job;
}

describe("the controller's Job, from the chart's settings", () => {
  test("defaults: valid, hardened, the chart's image, account and Secret", async () => {
    const objects = await helmTemplate(["networkPolicy.enabled=true"]);
    const config = controllerConfig(objects, "trainyard", "trainyard");
    const job = jobFor(config);
    assert.deepEqual(schemaProblems(job as K8sObject), []);

    const spec = job.spec;
    const pod = spec?.template.spec;
    const container = pod?.containers[0];
    assert.ok(spec && pod && container);
    assert.equal(job.metadata?.name, jobName(config.kubernetes, TASK.id));
    assert.ok((job.metadata?.name ?? "").length <= 63);
    assert.equal(spec.backoffLimit, 0);
    assert.equal(spec.activeDeadlineSeconds, 600);
    assert.equal(spec.ttlSecondsAfterFinished, 600);
    assert.equal(pod.restartPolicy, "Never");
    assert.equal(spec.suspend, undefined);

    // The same image and pull policy as the chart's own pods.
    const api = onlyContainer(workload(objects, "Deployment", "trainyard-polling").pod);
    assert.equal(container.image, api.image);
    assert.equal(container.imagePullPolicy, api.imagePullPolicy);
    assert.deepEqual(container.command, ["node", "dist/src/main.js", "worker", TASK.id]);

    // Hardened, no token, no service links.
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.enableServiceLinks, false);
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    const sc = container.securityContext;
    assert.equal(sc?.readOnlyRootFilesystem, true);
    assert.equal(sc?.allowPrivilegeEscalation, false);
    assert.deepEqual(sc?.capabilities?.drop, ["ALL"]);
    assert.equal(sc?.seccompProfile?.type, "RuntimeDefault");
    assert.equal(container.terminationMessagePolicy, "FallbackToLogsOnError");

    // Its ServiceAccount exists, without a token.
    const account = get(objects, "ServiceAccount", pod.serviceAccountName ?? "(none)");
    assert.equal(
      (account as { automountServiceAccountToken?: boolean }).automountServiceAccountToken,
      false,
    );

    // The database URL comes from a Secret key the chart really holds; nothing inline.
    const dbVar = container.env?.find((e) => e.name === "DATABASE_URL");
    const ref = dbVar?.valueFrom?.secretKeyRef;
    assert.ok(ref && dbVar.value === undefined, "DATABASE_URL by secretKeyRef");
    const secret = find(objects, "Secret", ref.name ?? "");
    assert.ok(secret, `Secret ${ref.name} is in the render`);
    assert.ok((secret.data as Record<string, string>)[ref.key], `key ${ref.key}`);
    assert.ok(container.env?.every((e) => !/postgres(ql)?:\/\//.test(e.value ?? "")));

    // The resources the chart asked for.
    assert.deepEqual(container.resources, {
      requests: { cpu: config.kubernetes.cpuRequest, memory: config.kubernetes.memoryRequest },
      limits: { cpu: config.kubernetes.cpuLimit, memory: config.kubernetes.memoryLimit },
    });

    // The training NetworkPolicy selects the Job's pods; the controller's selector finds the Job.
    const podLabels = spec.template.metadata?.labels ?? {};
    const training = ofKind(objects, "NetworkPolicy")
      .map((o) => o as unknown as NetworkPolicy)
      .find((p) => p.spec?.podSelector.matchLabels?.["app.kubernetes.io/component"] === "training");
    assert.ok(training, "a NetworkPolicy for the training pods");
    for (const [k, v] of Object.entries(training.spec?.podSelector.matchLabels ?? {})) {
      assert.equal(podLabels[k], v, `training pods carry ${k}=${v}`);
    }
    for (const pair of labelSelector(config.kubernetes).split(",")) {
      const [k, v] = pair.split("=");
      assert.equal(job.metadata?.labels?.[k ?? ""], v, `the Job carries ${pair}`);
    }
  });

  test("another release: its image, Kueue queue, scheduling and pull secrets reach the Job", async () => {
    const objects = await helmTemplate(
      [
        "image.repository=registry.example.com/ml/trainyard",
        "image.tag=2.0.0",
        "image.pullPolicy=Always",
        "worker.kueueQueueName=team-a",
        'json:worker.nodeSelector={"pool":"training"}',
        'json:worker.tolerations=[{"key":"gpu","operator":"Exists"}]',
        "worker.priorityClassName=low",
        'json:imagePullSecrets=[{"name":"regcred"}]',
      ],
      { release: "ml", namespace: "team-a" },
    );
    const config = controllerConfig(objects, "ml", "team-a");
    const job = jobFor(config);
    assert.deepEqual(schemaProblems(job as K8sObject), []);
    const pod = job.spec?.template.spec;
    assert.equal(pod?.containers[0]?.image, "registry.example.com/ml/trainyard:2.0.0");
    assert.equal(pod?.containers[0]?.imagePullPolicy, "Always");
    assert.equal(job.spec?.suspend, true, "Kueue admits by unsuspending");
    assert.equal(job.metadata?.labels?.["kueue.x-k8s.io/queue-name"], "team-a");
    assert.equal(job.metadata?.labels?.["app.kubernetes.io/instance"], "ml");
    assert.deepEqual(pod?.nodeSelector, { pool: "training" });
    assert.deepEqual(pod?.tolerations, [{ key: "gpu", operator: "Exists" }]);
    assert.equal(pod?.priorityClassName, "low");
    assert.deepEqual(pod?.imagePullSecrets, [{ name: "regcred" }]);
  });
});
