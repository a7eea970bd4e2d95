// config.ts is the only reader of the environment: defaults, validation that names the
// variable, and the settings the webhook and Kubernetes parts read.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../src/config.js";
import { backoffDelayMs } from "../src/webhooks/dispatcher.js";

test("defaults: the original's ports, 4 at once, 3 webhook attempts 2 s apart", () => {
  const config = loadConfig({});
  assert.deepEqual(config.ports, {
    naive: 8003,
    polling: 8004,
    webhook: 8005,
    "webhook-client": 8006,
  });
  assert.equal(config.maxRunning, 4);
  assert.equal(config.runner, "local");
  assert.deepEqual(
    [config.webhooks.maxAttempts, config.webhooks.backoff, config.webhooks.backoffSeconds],
    [3, "fixed", 2],
  );
  assert.deepEqual(config.webhooks.signingSecrets, []);
});

test("inside a cluster the Kubernetes runner is the default", () => {
  assert.equal(loadConfig({ KUBERNETES_SERVICE_HOST: "10.96.0.1" }).runner, "kubernetes");
  assert.equal(
    loadConfig({ KUBERNETES_SERVICE_HOST: "10.96.0.1", TRAINYARD_RUNNER: "local" }).runner,
    "local",
  );
});

test("a bad value stops start-up naming the variable, never echoing a secret", () => {
  const cases: [Record<string, string>, string][] = [
    [{ TRAINYARD_MAX_RUNNING: "0" }, "TRAINYARD_MAX_RUNNING"],
    [{ TRAINYARD_POLLING_PORT: "http" }, "TRAINYARD_POLLING_PORT"],
    [{ TRAINYARD_RUNNER: "docker" }, "TRAINYARD_RUNNER"],
    [{ DATABASE_URL: "mysql://u:hunter2@h/db" }, "DATABASE_URL"],
    [{ TRAINYARD_WEBHOOK_SIGNING_SECRETS: "hunter2" }, "TRAINYARD_WEBHOOK_SIGNING_SECRETS"],
    [{ TRAINYARD_WEBHOOK_BACKOFF: "linear" }, "TRAINYARD_WEBHOOK_BACKOFF"],
    [{ TRAINYARD_WEBHOOK_BLOCK_PRIVATE: "maybe" }, "TRAINYARD_WEBHOOK_BLOCK_PRIVATE"],
    [{ TRAINYARD_WEBHOOK_CLIENT_PUBLIC_URL: "ftp://x" }, "TRAINYARD_WEBHOOK_CLIENT_PUBLIC_URL"],
    [{ TRAINYARD_JOB_PREFIX: "Not_A_Label" }, "TRAINYARD_JOB_PREFIX"],
    [{ TRAINYARD_WORKER_CPU_LIMIT: "lots" }, "TRAINYARD_WORKER_CPU_LIMIT"],
    [{ TRAINYARD_WORKER_NODE_SELECTOR: "[1]" }, "TRAINYARD_WORKER_NODE_SELECTOR"],
  ];
  for (const [env, variable] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) =>
        err instanceof ConfigError && err.variable === variable && !err.message.includes("hunter2"),
      variable,
    );
  }
});

test("webhook settings: several secrets for rotation, allowlist, exponential backoff with a cap", () => {
  const a = `whsec_${Buffer.alloc(24, 1).toString("base64")}`;
  const b = `whsec_${Buffer.alloc(24, 2).toString("base64")}`;
  const config = loadConfig({
    TRAINYARD_WEBHOOK_SIGNING_SECRETS: `${a}, ${b}`,
    TRAINYARD_WEBHOOK_BLOCK_PRIVATE: "true",
    TRAINYARD_WEBHOOK_ALLOWED_HOSTS: "Webhook-Client-API,localhost",
    TRAINYARD_WEBHOOK_BACKOFF: "exponential",
    TRAINYARD_WEBHOOK_BACKOFF_SECONDS: "1",
    TRAINYARD_WEBHOOK_BACKOFF_MAX_SECONDS: "5",
  }).webhooks;
  assert.deepEqual(config.signingSecrets, [a, b]);
  assert.equal(config.blockPrivate, true);
  assert.deepEqual(config.allowedHosts, ["webhook-client-api", "localhost"]);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((n) => backoffDelayMs(config, n)),
    [1000, 2000, 4000, 5000, 5000],
  );
  assert.deepEqual(
    [1, 2, 3].map((n) => backoffDelayMs({ ...config, backoff: "fixed" }, n)),
    [1000, 1000, 1000],
  );
});

test("Kubernetes settings: secret reference, resources, scheduling, Kueue", () => {
  const k = loadConfig({
    TRAINYARD_K8S_NAMESPACE: "ml",
    TRAINYARD_WORKER_IMAGE: "trainyard:dev",
    TRAINYARD_WORKER_NODE_SELECTOR: '{"pool":"cpu"}',
    TRAINYARD_WORKER_TOLERATIONS: '[{"key":"dedicated","operator":"Exists"}]',
    TRAINYARD_WORKER_IMAGE_PULL_SECRETS: "regcred, other",
    TRAINYARD_KUEUE_QUEUE_NAME: "team-a",
  }).kubernetes;
  assert.equal(k.namespace, "ml");
  assert.equal(k.image, "trainyard:dev");
  assert.equal(k.databaseSecretName, "trainyard-database");
  assert.deepEqual(k.nodeSelector, { pool: "cpu" });
  assert.equal(k.tolerations.length, 1);
  assert.deepEqual(k.imagePullSecrets, ["regcred", "other"]);
  assert.equal(k.kueueQueueName, "team-a");
  assert.equal(k.backoffLimit, 0);
});
