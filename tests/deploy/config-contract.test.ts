// One source of truth: src/config.ts (with its sections in src/config/) defines every
// environment variable, default and port.
// The chart and k8s/ may only set names it reads, and what they set must parse with its own
// loadConfig into what the deployment means (the Kubernetes runner, the chart's image, ports
// that match the Services).
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { Container, SecretKeySelector } from "kubernetes-types/core/v1.js";
import { APP_NAMES, HTTP_APPS, loadConfig, type Config } from "../../src/config.js";
import {
  ROOT,
  containerEnv,
  decodeSecret,
  envNames,
  find,
  get,
  helmTemplate,
  isTrainyard,
  kustomize,
  ofKind,
  onlyContainer,
  workload,
  workloads,
  type K8sObject,
} from "./helpers.js";

/** The names loadConfig reads, observed: it is handed an environment that records each read. */
function namesConfigReads(): Set<string> {
  const read = new Set<string>();
  const env = new Proxy<Record<string, string | undefined>>(
    {},
    {
      get(_target, key) {
        if (typeof key === "string") read.add(key);
        return undefined;
      },
    },
  );
  loadConfig(env);
  return read;
}

/** The files that define environment names: src/config.ts and its sections, src/config/. */
function configSourceFiles(): string[] {
  const sections = readdirSync(join(ROOT, "src", "config"))
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join("src", "config", f));
  return [join("src", "config.ts"), ...sections.sort()];
}

/** The same names, as written in those files: the two views must agree. */
function namesInConfigSource(): Set<string> {
  const names = new Set<string>();
  for (const file of configSourceFiles()) {
    const source = readFileSync(join(ROOT, file), "utf8");
    const found = source.match(/\b(TRAINYARD_[A-Z0-9_]+|DATABASE_URL|LOG_LEVEL|KUBECONFIG)\b/g);
    for (const name of found ?? []) names.add(name);
  }
  return names;
}

const CONFIG_NAMES = namesConfigReads();

/** What every controller must be told (the list); the rest may stay at defaults. */
const CONTROLLER_NAMES = [
  "DATABASE_URL",
  "TRAINYARD_RUNNER",
  "TRAINYARD_K8S_NAMESPACE",
  "TRAINYARD_INSTANCE",
  "TRAINYARD_JOB_PREFIX",
  "TRAINYARD_WORKER_IMAGE",
  "TRAINYARD_WORKER_IMAGE_PULL_POLICY",
  "TRAINYARD_WORKER_DATABASE_SECRET",
  "TRAINYARD_WORKER_DATABASE_SECRET_KEY",
  "TRAINYARD_WORKER_SERVICE_ACCOUNT",
  "TRAINYARD_WORKER_CPU_REQUEST",
  "TRAINYARD_WORKER_CPU_LIMIT",
  "TRAINYARD_WORKER_MEMORY_REQUEST",
  "TRAINYARD_WORKER_MEMORY_LIMIT",
  "TRAINYARD_JOB_TTL_SECONDS",
  "TRAINYARD_JOB_BACKOFF_LIMIT",
  "TRAINYARD_WORKER_NODE_SELECTOR",
  "TRAINYARD_WORKER_TOLERATIONS",
  "TRAINYARD_WORKER_PRIORITY_CLASS",
  "TRAINYARD_WORKER_IMAGE_PULL_SECRETS",
  "TRAINYARD_KUEUE_QUEUE_NAME",
  "TRAINYARD_MAX_RUNNING",
];

interface Render {
  name: string;
  objects: () => Promise<K8sObject[]>;
  prefix: string;
  namespace: string;
  /** Secret values the render does not hold (a user's existingSecret). */
  placeholders?: Record<string, string>;
}

const PLACEHOLDER_SECRET = {
  "team-trainyard/database-url": "postgres://app:placeholder@db.example:5432/trainyard",
  "team-trainyard/webhook-signing-secrets": "whsec_cGxhY2Vob2xkZXItc2lnbmluZy1zZWNyZXQ=",
};

const RENDERS: Render[] = [
  {
    name: "chart defaults",
    objects: () => helmTemplate(),
    prefix: "trainyard",
    namespace: "trainyard",
  },
  {
    name: "chart with another release, image and namespace",
    objects: () =>
      helmTemplate(
        [
          "image.repository=registry.example.com/ml/trainyard",
          "image.tag=2.0.0",
          "image.pullPolicy=Always",
          "worker.kueueQueueName=team-a",
          'json:worker.nodeSelector={"pool":"training"}',
          'json:worker.tolerations=[{"key":"gpu","operator":"Exists"}]',
          "worker.priorityClassName=low",
          'json:imagePullSecrets=[{"name":"regcred"}]',
          "controller.maxRunning=8",
        ],
        { release: "ml", namespace: "team-a" },
      ),
    prefix: "ml",
    namespace: "team-a",
  },
  {
    name: "chart with existingSecret",
    objects: () => helmTemplate(["existingSecret=team-trainyard"]),
    prefix: "trainyard",
    namespace: "trainyard",
    placeholders: PLACEHOLDER_SECRET,
  },
  {
    name: "chart with pod-log access, auth and a ServiceMonitor",
    objects: () =>
      helmTemplate([
        "logs.podLogAccess=true",
        "auth.enabled=true",
        "auth.readTokens={read-only-token-of-grafana-4567}",
        "serviceMonitor.enabled=true",
      ]),
    prefix: "trainyard",
    namespace: "trainyard",
  },
  {
    name: "chart with auth from a Secret of the user's",
    objects: () =>
      helmTemplate([
        "auth.enabled=true",
        "auth.existingSecret=team-tokens",
        "serviceMonitor.enabled=true",
      ]),
    prefix: "trainyard",
    namespace: "trainyard",
    // As the user would write it: the client's token among the full ones, the scrape token
    // among the read-only ones.
    placeholders: {
      "team-tokens/api-tokens": "operator-token-0123456789,client-token-0123456789",
      "team-tokens/api-read-tokens": "scrape-token-0123456789",
      "team-tokens/webhook-client-token": "client-token-0123456789",
      "team-tokens/metrics-token": "scrape-token-0123456789",
    },
  },
  {
    name: "kustomize dev overlay",
    objects: () => kustomize("k8s/overlays/dev"),
    prefix: "trainyard",
    namespace: "trainyard",
  },
  {
    name: "kustomize base (with the Secret you create)",
    objects: () => kustomize("k8s/base"),
    prefix: "trainyard",
    namespace: "trainyard",
    placeholders: {
      "trainyard/database-url": PLACEHOLDER_SECRET["team-trainyard/database-url"],
      "trainyard/webhook-signing-secrets":
        PLACEHOLDER_SECRET["team-trainyard/webhook-signing-secrets"],
    },
  },
];

function configOf(container: Container, objects: K8sObject[], render: Render): Config {
  const env = containerEnv(container, objects, {
    namespace: render.namespace,
    placeholders: render.placeholders,
  });
  return loadConfig(env);
}

function servicePort(objects: K8sObject[], name: string): number {
  const ports = (get(objects, "Service", name).spec as { ports: { port: number }[] }).ports;
  assert.equal(ports.length, 1, `${name}: one port`);
  return (ports[0] as { port: number }).port;
}

describe("config contract", () => {
  test("loadConfig reads exactly the names src/config.ts and src/config/*.ts spell out", () => {
    const expected = namesInConfigSource();
    // Read by loadConfig only to choose the runner's default; set by Kubernetes, not by us.
    const observed = new Set([...CONFIG_NAMES].filter((n) => n !== "KUBERNETES_SERVICE_HOST"));
    assert.deepEqual([...observed].sort(), [...expected].sort());
    assert.ok(CONFIG_NAMES.has("TRAINYARD_WORKER_IMAGE"));
  });

  for (const render of RENDERS) {
    describe(render.name, () => {
      test("sets only names that src/config.ts and src/config/ read", async () => {
        const objects = await render.objects();
        const trainyard = workloads(objects).flatMap(({ pod }) =>
          pod.containers.filter(isTrainyard),
        );
        assert.ok(trainyard.length >= 1);
        for (const container of trainyard) {
          const unknown = envNames(container, objects).filter((n) => !CONFIG_NAMES.has(n));
          assert.deepEqual(unknown, [], `${container.name} sets names config.ts never reads`);
        }
      });

      test("the controller's environment parses into the Kubernetes runner of this release", async () => {
        const objects = await render.objects();
        const { object, pod } = workload(objects, "Deployment", `${render.prefix}-controller`);
        const container = onlyContainer(pod);
        assert.deepEqual(container.args, ["controller"]);
        for (const name of CONTROLLER_NAMES) {
          assert.ok(envNames(container, objects).includes(name), `controller lacks ${name}`);
        }
        const config = configOf(container, objects, render);
        const k8s = config.kubernetes;
        assert.equal(config.runner, "kubernetes");
        // The webhook dispatcher runs in the controller: it must hold the signing secrets.
        assert.ok(config.webhooks.signingSecrets.length > 0, "the controller signs callbacks");
        assert.equal(k8s.namespace, render.namespace);
        // Jobs carry the pods' own instance label, so releases never touch each other's Jobs.
        const labels = (object.spec as { template: K8sObject }).template.metadata.labels ?? {};
        assert.equal(k8s.instance, labels["app.kubernetes.io/instance"]);
        assert.equal(k8s.image, container.image);
        assert.equal(k8s.imagePullPolicy, container.imagePullPolicy);
        assert.equal(k8s.kubeconfig, undefined, "in-cluster credentials, no kubeconfig");
        // The Jobs read the database URL from the very Secret key the pods read it from.
        const ref = container.env?.find((e) => e.name === "DATABASE_URL")?.valueFrom?.secretKeyRef;
        assert.equal(k8s.databaseSecretName, ref?.name);
        assert.equal(k8s.databaseSecretKey, ref?.key);
        assert.match(config.databaseUrl ?? "", /^postgres:\/\//);
        // The worker account exists, has no token and nothing bound to it.
        assert.equal(k8s.serviceAccountName, `${render.prefix}-worker`);
        const account = get(objects, "ServiceAccount", k8s.serviceAccountName);
        assert.equal(account.automountServiceAccountToken, false);
        for (const binding of ofKind(objects, "RoleBinding")) {
          const subjects = (binding.subjects as { name: string }[] | undefined) ?? [];
          assert.ok(!subjects.some((s) => s.name === k8s.serviceAccountName));
        }
        assert.ok(k8s.jobPrefix.length <= 26);
        assert.equal(config.dataDir, "/tmp/trainyard");
      });

      test("each API listens on the port of its container and Service", async () => {
        const objects = await render.objects();
        for (const [app, { defaultPort }] of Object.entries(HTTP_APPS)) {
          const name = `${render.prefix}-${app}`;
          const container = onlyContainer(workload(objects, "Deployment", name).pod);
          assert.deepEqual(container.args, [app]);
          assert.ok((APP_NAMES as readonly string[]).includes(app));
          const config = configOf(container, objects, render);
          const port = config.ports[app as keyof typeof HTTP_APPS];
          assert.equal(port, defaultPort, `${app}: config's default port`);
          assert.deepEqual(container.ports, [
            { name: "http", containerPort: port, protocol: "TCP" },
          ]);
          assert.equal(servicePort(objects, name), port, `${app}: Service port`);
          for (const probe of [container.livenessProbe, container.readinessProbe]) {
            assert.equal(probe?.httpGet?.port, "http");
          }
          assert.equal(container.livenessProbe?.httpGet?.path, "/livez");
          assert.equal(container.readinessProbe?.httpGet?.path, "/readyz");
        }
      });

      test("the webhook apps find each other by Service and share the signing secrets", async () => {
        const objects = await render.objects();
        const client = onlyContainer(
          workload(objects, "Deployment", `${render.prefix}-webhook-client`).pod,
        );
        const server = onlyContainer(
          workload(objects, "Deployment", `${render.prefix}-webhook`).pod,
        );
        const clientConfig = configOf(client, objects, render).webhooks;
        const serverConfig = configOf(server, objects, render).webhooks;
        const callback = new URL(clientConfig.clientPublicUrl);
        assert.equal(callback.hostname, `${render.prefix}-webhook-client`);
        assert.equal(Number(callback.port), servicePort(objects, callback.hostname));
        const target = new URL(clientConfig.serverUrl);
        assert.equal(target.hostname, `${render.prefix}-webhook`);
        assert.equal(Number(target.port), servicePort(objects, target.hostname));
        // In a cluster private addresses are blocked, except the client's Service.
        assert.equal(serverConfig.blockPrivate, true);
        assert.ok(serverConfig.allowedHosts.includes(callback.hostname));
        assert.ok(clientConfig.signingSecrets.length >= 1);
        // The controller signs (its dispatcher sends the callbacks) with what the client checks.
        const signer = onlyContainer(
          workload(objects, "Deployment", `${render.prefix}-controller`).pod,
        );
        assert.deepEqual(
          configOf(signer, objects, render).webhooks.signingSecrets,
          clientConfig.signingSecrets,
        );
        // The webhook API signs nothing (it only stores the callback_url): it has no secrets.
        assert.deepEqual(serverConfig.signingSecrets, []);
        // Only these two see the signing secrets.
        for (const { pod } of workloads(objects)) {
          for (const c of pod.containers) {
            const sees = c.env?.some((e) => e.name === "TRAINYARD_WEBHOOK_SIGNING_SECRETS");
            assert.equal(Boolean(sees), c === client || c === signer, c.name);
          }
        }
      });

      test("the controller serves health and metrics on its container's and Service's port", async () => {
        const objects = await render.objects();
        const name = `${render.prefix}-controller`;
        const container = onlyContainer(workload(objects, "Deployment", name).pod);
        const port = configOf(container, objects, render).controllerPort;
        assert.deepEqual(container.ports, [{ name: "http", containerPort: port, protocol: "TCP" }]);
        assert.equal(servicePort(objects, name), port);
        assert.equal(container.readinessProbe?.httpGet?.port, "http");
      });

      test("pod-log reading comes with the token and the Role it needs, and only then", async () => {
        const objects = await render.objects();
        const readers = new Map<string, boolean>();
        for (const app of Object.keys(HTTP_APPS)) {
          const { pod } = workload(objects, "Deployment", `${render.prefix}-${app}`);
          const reads = configOf(onlyContainer(pod), objects, render).logs.kubernetesPodLogs;
          readers.set(app, reads);
          // The webhook client serves no logs: never a token, whatever the switch.
          const token = app === "webhook-client" ? false : reads;
          assert.equal(pod.automountServiceAccountToken, token, `${app}: token`);
          if (!reads) continue;
          // Its account is bound to a Role that may read pods' logs.
          const bound = ofKind(objects, "RoleBinding").filter((b) =>
            ((b.subjects as { name: string }[] | undefined) ?? []).some(
              (s) => s.name === pod.serviceAccountName,
            ),
          );
          const rules = bound.flatMap((b) => {
            const role = get(objects, "Role", (b.roleRef as { name: string }).name);
            return (role.rules as { resources: string[]; verbs: string[] }[]) ?? [];
          });
          assert.ok(
            rules.some((r) => r.resources.includes("pods/log") && r.verbs.includes("get")),
            `${app} reads pod logs without the right to`,
          );
        }
        // One switch for all of them: the same value in every API.
        assert.equal(new Set(readers.values()).size, 1, JSON.stringify([...readers]));
      });

      test("with auth, every HTTP server checks the same tokens, and its callers hold one", async () => {
        const objects = await render.objects();
        const servers = [...Object.keys(HTTP_APPS), "controller"].map((app) => {
          const container = onlyContainer(
            workload(objects, "Deployment", `${render.prefix}-${app}`).pod,
          );
          return { app, config: configOf(container, objects, render) };
        });
        const [first] = servers;
        assert.ok(first);
        for (const { app, config } of servers) {
          assert.deepEqual(config.apiTokens, first.config.apiTokens, `${app}: full tokens`);
          assert.deepEqual(config.apiReadTokens, first.config.apiReadTokens, `${app}: read`);
        }
        const client = servers.find((s) => s.app === "webhook-client")?.config;
        const monitor = find(objects, "ServiceMonitor", render.prefix);
        if (first.config.apiTokens.length === 0) {
          assert.deepEqual(first.config.apiReadTokens, [], "read tokens without full ones");
          assert.equal(client?.webhooks.serverToken, undefined);
          return;
        }
        // The webhook client submits to the webhook API: it needs a full-access token.
        assert.ok(first.config.apiTokens.includes(client?.webhooks.serverToken ?? ""));
        // Prometheus scrapes with a token that may read /metrics, and no more.
        if (monitor) {
          const endpoint = (monitor.spec as { endpoints: { authorization?: unknown }[] })
            .endpoints[0];
          const { name, key } = (endpoint?.authorization as { credentials: SecretKeySelector })
            .credentials;
          const secret = find(objects, "Secret", name ?? "");
          const scrape = secret
            ? decodeSecret(secret, key)
            : (render.placeholders?.[`${name}/${key}`] ?? "");
          assert.ok(first.config.apiReadTokens.includes(scrape), "the scrape token is read-only");
        }
      });
    });
  }

  test("values.yaml's worker settings arrive as config's worker settings", async () => {
    const objects = await helmTemplate([
      "worker.resources.requests.cpu=250m",
      "worker.resources.limits.memory=2Gi",
      "worker.ttlSecondsAfterFinished=60",
      "worker.backoffLimit=2",
      "worker.kueueQueueName=team-a",
      'json:worker.nodeSelector={"pool":"training"}',
      'json:imagePullSecrets=[{"name":"regcred"},{"name":"mirror"}]',
      "controller.maxRunning=8",
    ]);
    const render = RENDERS[0] as Render;
    const container = onlyContainer(workload(objects, "Deployment", "trainyard-controller").pod);
    const config = configOf(container, objects, render);
    assert.equal(config.maxRunning, 8);
    assert.equal(config.kubernetes.cpuRequest, "250m");
    assert.equal(config.kubernetes.cpuLimit, "1");
    assert.equal(config.kubernetes.memoryRequest, "128Mi");
    assert.equal(config.kubernetes.memoryLimit, "2Gi");
    assert.equal(config.kubernetes.ttlSecondsAfterFinished, 60);
    assert.equal(config.kubernetes.backoffLimit, 2);
    assert.equal(config.kubernetes.kueueQueueName, "team-a");
    assert.deepEqual(config.kubernetes.nodeSelector, { pool: "training" });
    assert.deepEqual(config.kubernetes.imagePullSecrets, ["regcred", "mirror"]);
    assert.equal(find(objects, "Secret", "trainyard")?.kind, "Secret");
  });
});
