// The Helm chart, rendered by the real helm: `helm lint --strict` and `helm template` with the
// defaults and with each switch flipped; every object valid against the Kubernetes schemas (and
// the Prometheus Operator's, for the ServiceMonitor); every pod hardened; RBAC exactly the
// controller's minimum, plus the read-only log Role only with logs.podLogAccess.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Container, SecretKeySelector } from "kubernetes-types/core/v1.js";
import type { NetworkPolicy } from "kubernetes-types/networking/v1.js";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1.js";
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";
import { assertHardened, assertRbac, assertValidObjects, type Privileges } from "./checks.js";
import {
  CHART,
  HELM,
  RELEASE,
  decodeSecret,
  find,
  get,
  helmTemplate,
  ofKind,
  onlyContainer,
  packageVersion,
  requireTools,
  run,
  setArgs,
  workload,
  workloads,
  type K8sObject,
} from "./helpers.js";
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const NS = "trainyard";
const APIS = ["naive", "polling", "webhook", "webhook-client"] as const;
const EXTERNAL_URL = "postgres://app:s3cret@db.example.internal:5432/trainyard";
const SIGNING = [
  "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  "whsec_c2Vjb25kLXNpZ25pbmctc2VjcmV0LTMy",
];

function configMap(objects: K8sObject[]): Record<string, string> {
  return get(objects, "ConfigMap", RELEASE).data as Record<string, string>;
}

function templateMeta(object: K8sObject): ObjectMeta {
  return (object.spec as { template: { metadata: ObjectMeta } }).template.metadata;
}

function names(objects: K8sObject[], kind: string): string[] {
  return ofKind(objects, kind)
    .map((o) => o.metadata.name)
    .sort();
}

/** The Secret name every DATABASE_URL of the render reads. */
function databaseSecretNames(objects: K8sObject[]): string[] {
  const found = new Set<string>();
  for (const { pod } of workloads(objects)) {
    for (const c of pod.containers) {
      const ref = c.env?.find((e) => e.name === "DATABASE_URL")?.valueFrom?.secretKeyRef;
      if (ref) found.add(`${ref.name}/${ref.key}`);
    }
  }
  return [...found];
}

/** A container's Secret reference for `name`, if it has one. */
function secretRef(container: Container, name: string): SecretKeySelector | undefined {
  return container.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
}

/** The containers (by name) whose environment names `variable`. */
function containersWith(objects: K8sObject[], variable: string): string[] {
  return workloads(objects)
    .flatMap(({ pod }) => pod.containers)
    .filter((c) => c.env?.some((e) => e.name === variable))
    .map((c) => c.name)
    .sort();
}

function secretKeysOf(objects: K8sObject[], name: string): string[] {
  return Object.keys(get(objects, "Secret", name).data as object).sort();
}

const TOKEN_VARIABLES = [
  "TRAINYARD_API_TOKENS",
  "TRAINYARD_API_READ_TOKENS",
  "TRAINYARD_WEBHOOK_SERVER_TOKEN",
];
const TOKEN_HOLDERS = ["controller", "naive", "polling", "webhook", "webhook-client"];
const TOKEN_A = "full-access-token-of-alice-0123";
const TOKEN_R = "read-only-token-of-grafana-4567";

interface Variant {
  name: string;
  values: string[];
  /** What the render may grant (default: pod-log access off). */
  privileges?: Privileges;
  check(objects: K8sObject[]): void;
}

const VARIANTS: Variant[] = [
  {
    name: "defaults",
    values: [],
    check(objects) {
      assert.deepEqual(names(objects, "Deployment"), [
        "trainyard-controller",
        "trainyard-naive",
        "trainyard-polling",
        "trainyard-webhook",
        "trainyard-webhook-client",
      ]);
      assert.deepEqual(names(objects, "StatefulSet"), ["trainyard-postgresql"]);
      assert.deepEqual(names(objects, "Secret"), ["trainyard", "trainyard-postgresql"]);
      // Single replicas: no budget (it would block drains or protect nothing).
      assert.deepEqual(ofKind(objects, "PodDisruptionBudget"), []);
      assert.deepEqual(ofKind(objects, "NetworkPolicy"), []);
      assert.deepEqual(ofKind(objects, "ServiceMonitor"), []);
      // Every HTTP port has a Service, the controller's (its /metrics) included.
      assert.deepEqual(names(objects, "Service"), [
        "trainyard-controller",
        "trainyard-naive",
        "trainyard-polling",
        "trainyard-postgresql",
        "trainyard-postgresql-hl",
        "trainyard-webhook",
        "trainyard-webhook-client",
      ]);
      // No pod-log reading, so no API pod holds a token (assertHardened) or a Role (assertRbac).
      assert.equal(configMap(objects).TRAINYARD_KUBERNETES_POD_LOGS, "false");
      // The signing secrets only where they are used: the controller signs, the client verifies.
      assert.deepEqual(containersWith(objects, "TRAINYARD_WEBHOOK_SIGNING_SECRETS"), [
        "controller",
        "webhook-client",
      ]);
      // No auth: no token anywhere, and the Secret holds only the two keys.
      for (const variable of TOKEN_VARIABLES) {
        assert.deepEqual(containersWith(objects, variable), [], variable);
      }
      assert.deepEqual(secretKeysOf(objects, "trainyard"), [
        "database-url",
        "webhook-signing-secrets",
      ]);
      const image = `trainyard:${packageVersion()}`;
      for (const { pod } of workloads(objects)) {
        const c = onlyContainer(pod);
        if (c.name !== "postgresql") assert.equal(c.image, image);
      }
      assert.deepEqual(databaseSecretNames(objects), ["trainyard/database-url"]);
      assert.equal(configMap(objects).TRAINYARD_WORKER_DATABASE_SECRET, "trainyard");
      // The generated password is the same in the Postgres Secret and in database-url.
      const password = decodeSecret(get(objects, "Secret", "trainyard-postgresql"), "password");
      assert.match(password, /^[A-Za-z0-9]{32}$/);
      assert.equal(
        decodeSecret(get(objects, "Secret", "trainyard"), "database-url"),
        `postgres://trainyard:${password}@trainyard-postgresql:5432/trainyard`,
      );
      // Every pod rolls on a change of the same ConfigMap and Secret.
      const checksums = new Set(
        workloads(objects)
          .filter((w) => w.object.kind === "Deployment")
          .map((w) => JSON.stringify(templateMeta(w.object).annotations)),
      );
      assert.equal(checksums.size, 1);
      assert.match(
        [...checksums][0] ?? "",
        /"checksum\/config":"[0-9a-f]{64}","checksum\/secret":"[0-9a-f]{64}"/,
      );
    },
  },
  ...APIS.map((app): Variant => ({
    name: `${app} disabled`,
    values: [`${app === "webhook-client" ? "webhookClient" : app}.enabled=false`],
    check(objects) {
      assert.equal(find(objects, "Deployment", `trainyard-${app}`), undefined);
      assert.equal(find(objects, "Service", `trainyard-${app}`), undefined);
      for (const other of APIS.filter((a) => a !== app)) {
        get(objects, "Deployment", `trainyard-${other}`);
        get(objects, "Service", `trainyard-${other}`);
      }
      get(objects, "Deployment", "trainyard-controller");
      if (app === "webhook-client") {
        // No client Service to allow: the webhook server allows no private host by default.
        assert.equal(configMap(objects).TRAINYARD_WEBHOOK_ALLOWED_HOSTS, "");
      }
    },
  })),
  {
    name: "every API disabled",
    values: [
      "naive.enabled=false",
      "polling.enabled=false",
      "webhook.enabled=false",
      "webhookClient.enabled=false",
    ],
    check(objects) {
      assert.deepEqual(names(objects, "Deployment"), ["trainyard-controller"]);
      assert.deepEqual(names(objects, "Service"), [
        "trainyard-controller",
        "trainyard-postgresql",
        "trainyard-postgresql-hl",
      ]);
    },
  },
  {
    name: "external database",
    values: ["postgresql.enabled=false", `externalDatabase.url=${EXTERNAL_URL}`],
    check(objects) {
      assert.deepEqual(ofKind(objects, "StatefulSet"), []);
      assert.equal(find(objects, "Service", "trainyard-postgresql"), undefined);
      assert.deepEqual(names(objects, "Secret"), ["trainyard"]);
      assert.equal(decodeSecret(get(objects, "Secret", "trainyard"), "database-url"), EXTERNAL_URL);
    },
  },
  {
    name: "existing secret",
    values: ["existingSecret=team-trainyard"],
    check(objects) {
      // The chart makes no Secret of its own then; every reference goes to the user's.
      assert.deepEqual(names(objects, "Secret"), ["trainyard-postgresql"]);
      assert.deepEqual(databaseSecretNames(objects), ["team-trainyard/database-url"]);
      assert.equal(configMap(objects).TRAINYARD_WORKER_DATABASE_SECRET, "team-trainyard");
      const signer = onlyContainer(workload(objects, "Deployment", "trainyard-controller").pod);
      assert.deepEqual(secretRef(signer, "TRAINYARD_WEBHOOK_SIGNING_SECRETS"), {
        name: "team-trainyard",
        key: "webhook-signing-secrets",
      });
      for (const w of workloads(objects)) {
        assert.equal(templateMeta(w.object).annotations?.["checksum/secret"], undefined);
      }
    },
  },
  {
    name: "existing secret with an external database",
    values: ["postgresql.enabled=false", "existingSecret=team-trainyard"],
    check(objects) {
      assert.deepEqual(ofKind(objects, "Secret"), []);
      assert.deepEqual(ofKind(objects, "StatefulSet"), []);
      assert.deepEqual(databaseSecretNames(objects), ["team-trainyard/database-url"]);
    },
  },
  {
    name: "network policies",
    values: ["networkPolicy.enabled=true"],
    check(objects) {
      const policies = ofKind(objects, "NetworkPolicy") as unknown as NetworkPolicy[];
      const byName = new Map(policies.map((p) => [p.metadata?.name, p]));
      assert.deepEqual([...byName.keys()].sort(), [
        "trainyard-controller",
        "trainyard-naive",
        "trainyard-polling",
        "trainyard-postgresql",
        "trainyard-training",
        "trainyard-webhook",
        "trainyard-webhook-client",
      ]);
      // Postgres: only this release's apps, controller and training pods, on 5432.
      const pg = byName.get("trainyard-postgresql")?.spec;
      assert.deepEqual(pg?.policyTypes, ["Ingress"]);
      assert.equal(pg?.ingress?.length, 1);
      const from = pg?.ingress?.[0]?.from?.[0]?.podSelector;
      assert.deepEqual(from?.matchLabels, { "app.kubernetes.io/instance": RELEASE });
      assert.deepEqual(from?.matchExpressions?.[0]?.values?.slice().sort(), [
        "controller",
        "naive",
        "polling",
        "training",
        "webhook",
        "webhook-client",
      ]);
      assert.deepEqual(pg?.ingress?.[0]?.ports, [{ protocol: "TCP", port: 5432 }]);
      // Training pods: no ingress; egress to Postgres and DNS only.
      const training = byName.get("trainyard-training")?.spec;
      assert.deepEqual(training?.podSelector.matchLabels, {
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/component": "training",
      });
      assert.deepEqual(training?.policyTypes, ["Ingress", "Egress"]);
      assert.equal(training?.ingress, undefined);
      assert.deepEqual(training?.egress, [
        {
          to: [
            {
              podSelector: {
                matchLabels: {
                  "app.kubernetes.io/name": "trainyard",
                  "app.kubernetes.io/instance": RELEASE,
                  "app.kubernetes.io/component": "postgresql",
                },
              },
            },
          ],
          ports: [{ protocol: "TCP", port: 5432 }],
        },
        {
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
      ]);
      // The controller's dispatcher calls back anywhere; no API may (the webhook API only
      // resolves callback hosts, which DNS allows).
      assert.equal(allowsAll(byName, "trainyard-controller"), true);
      for (const app of APIS) assert.equal(allowsAll(byName, `trainyard-${app}`), false, app);
      // Without pod-log access only the controller reaches the Kubernetes API server.
      assert.equal(reachesApiServer(byName, "trainyard-controller"), true);
      for (const app of APIS) assert.equal(reachesApiServer(byName, `trainyard-${app}`), false);
      // Nobody reaches the controller's port (no metricsIngressFrom): no ingress rule at all.
      assert.equal(byName.get("trainyard-controller")?.spec?.ingress, undefined);
    },
  },
  {
    name: "pod-log access",
    values: ["logs.podLogAccess=true"],
    privileges: { podLogAccess: true },
    check(objects) {
      // assertRbac: the api-logs Role is exactly pods get/list and pods/log get, bound to the
      // API account; assertHardened: the naive, polling and webhook pods (only) mount its token.
      assert.equal(configMap(objects).TRAINYARD_KUBERNETES_POD_LOGS, "true");
      const client = workload(objects, "Deployment", "trainyard-webhook-client").pod;
      assert.equal(client.automountServiceAccountToken, false, "the client never gets a token");
    },
  },
  {
    name: "network policies with pod-log access and a metrics scraper",
    values: [
      "networkPolicy.enabled=true",
      "logs.podLogAccess=true",
      'json:networkPolicy.metricsIngressFrom=[{"namespaceSelector":{"matchLabels":{"name":"monitoring"}}}]',
    ],
    privileges: { podLogAccess: true },
    check(objects) {
      const policies = ofKind(objects, "NetworkPolicy") as unknown as NetworkPolicy[];
      const byName = new Map(policies.map((p) => [p.metadata?.name, p]));
      // The log-serving APIs reach the API server now; the webhook client still does not.
      for (const app of ["naive", "polling", "webhook"]) {
        assert.equal(reachesApiServer(byName, `trainyard-${app}`), true, app);
      }
      assert.equal(reachesApiServer(byName, "trainyard-webhook-client"), false);
      // The scraper, and only it, reaches the controller's port.
      assert.deepEqual(byName.get("trainyard-controller")?.spec?.ingress, [
        {
          ports: [{ protocol: "TCP", port: 8007 }],
          from: [{ namespaceSelector: { matchLabels: { name: "monitoring" } } }],
        },
      ]);
      // The APIs' ingress is open to anyone (no apiIngressFrom): no extra rule is needed.
      assert.equal(byName.get("trainyard-polling")?.spec?.ingress?.length, 1);
    },
  },
  {
    name: "network policies with an external database",
    values: [
      "networkPolicy.enabled=true",
      "postgresql.enabled=false",
      `externalDatabase.url=${EXTERNAL_URL}`,
      'json:networkPolicy.databaseEgressTo=[{"ipBlock":{"cidr":"10.20.0.0/16"}}]',
      'json:networkPolicy.apiIngressFrom=[{"namespaceSelector":{"matchLabels":{"team":"a"}}}]',
      'json:networkPolicy.metricsIngressFrom=[{"namespaceSelector":{"matchLabels":{"name":"mon"}}}]',
    ],
    check(objects) {
      const policies = ofKind(objects, "NetworkPolicy") as unknown as NetworkPolicy[];
      const training = policies.find((p) => p.metadata?.name === "trainyard-training");
      assert.deepEqual(training?.spec?.egress?.[0], {
        ports: [{ protocol: "TCP", port: 5432 }],
        to: [{ ipBlock: { cidr: "10.20.0.0/16" } }],
      });
      assert.equal(find(objects, "NetworkPolicy", "trainyard-postgresql"), undefined);
      const client = policies.find((p) => p.metadata?.name === "trainyard-webhook-client");
      // Restricted ingress still lets Prometheus in, to every HTTP port.
      const scraper = [{ namespaceSelector: { matchLabels: { name: "mon" } } }];
      for (const policy of policies.filter((p) => p.spec?.ingress)) {
        assert.ok(
          policy.spec?.ingress?.some(
            (rule) => JSON.stringify(rule.from) === JSON.stringify(scraper),
          ),
          `${policy.metadata?.name}: the scraper may connect`,
        );
      }
      // ... and the callbacks: the controller's dispatcher sends them.
      assert.equal(client?.spec?.ingress?.length, 3);
      assert.deepEqual(client?.spec?.ingress?.[1]?.from, [
        {
          podSelector: {
            matchLabels: {
              "app.kubernetes.io/name": "trainyard",
              "app.kubernetes.io/instance": RELEASE,
              "app.kubernetes.io/component": "controller",
            },
          },
        },
      ]);
    },
  },
  {
    name: "auth with generated tokens",
    values: ["auth.enabled=true"],
    check(objects) {
      const secret = get(objects, "Secret", "trainyard");
      assert.deepEqual(secretKeysOf(objects, "trainyard"), [
        "api-read-tokens",
        "api-tokens",
        "database-url",
        "webhook-client-token",
        "webhook-signing-secrets",
      ]);
      // One generated token for the operator, and the webhook client's own.
      const full = decodeSecret(secret, "api-tokens").split(",");
      const clientToken = decodeSecret(secret, "webhook-client-token");
      assert.equal(full.length, 2);
      for (const token of full) assert.match(token, /^[A-Za-z0-9]{40}$/);
      assert.equal(full[1], clientToken);
      assert.equal(decodeSecret(secret, "api-read-tokens"), "");
      // Every HTTP server checks the tokens; they come from the Secret, never the ConfigMap.
      for (const variable of ["TRAINYARD_API_TOKENS", "TRAINYARD_API_READ_TOKENS"]) {
        assert.deepEqual(containersWith(objects, variable), TOKEN_HOLDERS, variable);
      }
      assert.deepEqual(containersWith(objects, "TRAINYARD_WEBHOOK_SERVER_TOKEN"), [
        "webhook-client",
      ]);
      for (const key of Object.keys(configMap(objects))) {
        assert.ok(!TOKEN_VARIABLES.includes(key), `${key} in the ConfigMap`);
      }
      const polling = onlyContainer(workload(objects, "Deployment", "trainyard-polling").pod);
      assert.deepEqual(secretRef(polling, "TRAINYARD_API_TOKENS"), {
        name: "trainyard",
        key: "api-tokens",
      });
      // A Secret of the user's may hold no read-only tokens: the pods start all the same.
      assert.equal(secretRef(polling, "TRAINYARD_API_READ_TOKENS")?.optional, true);
    },
  },
  {
    name: "auth with given tokens, without the webhook client",
    values: [
      "auth.enabled=true",
      `auth.tokens={${TOKEN_A}}`,
      `auth.readTokens={${TOKEN_R}}`,
      "webhookClient.enabled=false",
    ],
    check(objects) {
      const secret = get(objects, "Secret", "trainyard");
      // Exactly the given tokens: no client, so no client token.
      assert.equal(decodeSecret(secret, "api-tokens"), TOKEN_A);
      assert.equal(decodeSecret(secret, "api-read-tokens"), TOKEN_R);
      assert.ok(!secretKeysOf(objects, "trainyard").includes("webhook-client-token"));
      assert.deepEqual(containersWith(objects, "TRAINYARD_WEBHOOK_SERVER_TOKEN"), []);
    },
  },
  {
    name: "auth from a Secret of the user's, with its own keys",
    values: [
      "auth.enabled=true",
      "auth.existingSecret=team-tokens",
      "auth.keys.tokens=full",
      "auth.keys.readTokens=read",
      "auth.keys.webhookClientToken=client",
    ],
    check(objects) {
      // The chart's Secret keeps only its own keys; the tokens come from the user's Secret.
      assert.deepEqual(secretKeysOf(objects, "trainyard"), [
        "database-url",
        "webhook-signing-secrets",
      ]);
      const client = onlyContainer(workload(objects, "Deployment", "trainyard-webhook-client").pod);
      assert.deepEqual(secretRef(client, "TRAINYARD_API_TOKENS"), {
        name: "team-tokens",
        key: "full",
      });
      assert.deepEqual(secretRef(client, "TRAINYARD_API_READ_TOKENS"), {
        name: "team-tokens",
        key: "read",
        optional: true,
      });
      assert.deepEqual(secretRef(client, "TRAINYARD_WEBHOOK_SERVER_TOKEN"), {
        name: "team-tokens",
        key: "client",
      });
      // The database still comes from the chart's Secret.
      assert.deepEqual(databaseSecretNames(objects), ["trainyard/database-url"]);
    },
  },
  {
    name: "service monitor",
    values: ["serviceMonitor.enabled=true", 'json:serviceMonitor.labels={"release":"kps"}'],
    check(objects) {
      const [monitor, ...others] = ofKind(objects, "ServiceMonitor");
      assert.ok(monitor && others.length === 0);
      assert.equal(monitor.metadata.labels?.release, "kps");
      const spec = monitor.spec as {
        selector: { matchLabels: Record<string, string> };
        endpoints: Record<string, unknown>[];
        namespaceSelector: { matchNames: string[] };
      };
      assert.deepEqual(spec.namespaceSelector.matchNames, [NS]);
      assert.deepEqual(spec.endpoints, [
        { port: "http", path: "/metrics", scheme: "http", interval: "30s", scrapeTimeout: "10s" },
      ]);
      // It selects exactly the Services that serve /metrics: the four APIs and the controller.
      assert.deepEqual(monitoredServices(objects, monitor), [
        "trainyard-controller",
        "trainyard-naive",
        "trainyard-polling",
        "trainyard-webhook",
        "trainyard-webhook-client",
      ]);
      for (const name of monitoredServices(objects, monitor)) {
        const ports = (get(objects, "Service", name).spec as { ports: { name: string }[] }).ports;
        assert.ok(
          ports.some((p) => p.name === "http"),
          `${name} has the port named http`,
        );
      }
      // No auth: nothing to send, and no scrape token is made.
      assert.ok(!secretKeysOf(objects, "trainyard").includes("metrics-token"));
    },
  },
  {
    name: "service monitor with auth, without the naive API",
    values: ["serviceMonitor.enabled=true", "auth.enabled=true", "naive.enabled=false"],
    check(objects) {
      const monitor = get(objects, "ServiceMonitor", "trainyard");
      assert.deepEqual(monitoredServices(objects, monitor), [
        "trainyard-controller",
        "trainyard-polling",
        "trainyard-webhook",
        "trainyard-webhook-client",
      ]);
      const endpoint = (monitor.spec as { endpoints: Record<string, unknown>[] }).endpoints[0];
      assert.deepEqual(endpoint?.authorization, {
        type: "Bearer",
        credentials: { name: "trainyard", key: "metrics-token" },
      });
      // The scrape token is a read-only token, and only that.
      const secret = get(objects, "Secret", "trainyard");
      const scrape = decodeSecret(secret, "metrics-token");
      assert.match(scrape, /^[A-Za-z0-9]{40}$/);
      assert.deepEqual(decodeSecret(secret, "api-read-tokens").split(","), [scrape]);
      assert.ok(!decodeSecret(secret, "api-tokens").split(",").includes(scrape));
    },
  },
  {
    name: "kueue",
    values: ["worker.kueueQueueName=team-a-queue"],
    check(objects) {
      assert.equal(configMap(objects).TRAINYARD_KUEUE_QUEUE_NAME, "team-a-queue");
      // Kueue unsuspends the Jobs itself: the controller's Role does not grow.
    },
  },
  {
    name: "two controllers",
    values: ["controller.replicas=2"],
    check(objects) {
      const controller = get(objects, "Deployment", "trainyard-controller");
      assert.equal((controller.spec as { replicas: number }).replicas, 2);
      const pdbs = ofKind(objects, "PodDisruptionBudget") as unknown as PodDisruptionBudget[];
      assert.deepEqual(
        pdbs.map((p) => [p.metadata?.name, p.spec?.maxUnavailable]),
        [["trainyard-controller", 1]],
      );
      const selector = (controller.spec as { selector: unknown }).selector;
      assert.deepEqual(pdbs[0]?.spec?.selector, selector);
    },
  },
  {
    name: "replicas without budgets",
    values: ["polling.replicas=3", "controller.replicas=2", "podDisruptionBudget.enabled=false"],
    check(objects) {
      assert.deepEqual(ofKind(objects, "PodDisruptionBudget"), []);
      const polling = get(objects, "Deployment", "trainyard-polling");
      assert.equal((polling.spec as { replicas: number }).replicas, 3);
    },
  },
  {
    name: "worker scheduling and registry",
    values: [
      'json:worker.nodeSelector={"pool":"training"}',
      'json:worker.tolerations=[{"key":"gpu","operator":"Exists","effect":"NoSchedule"}]',
      "worker.priorityClassName=batch-low",
      'json:imagePullSecrets=[{"name":"regcred"},{"name":"mirror"}]',
      "worker.jobPrefix=ty-train",
    ],
    check(objects) {
      const env = configMap(objects);
      assert.equal(env.TRAINYARD_WORKER_NODE_SELECTOR, '{"pool":"training"}');
      assert.deepEqual(JSON.parse(env.TRAINYARD_WORKER_TOLERATIONS ?? ""), [
        { key: "gpu", operator: "Exists", effect: "NoSchedule" },
      ]);
      assert.equal(env.TRAINYARD_WORKER_PRIORITY_CLASS, "batch-low");
      assert.equal(env.TRAINYARD_WORKER_IMAGE_PULL_SECRETS, "regcred,mirror");
      assert.equal(env.TRAINYARD_JOB_PREFIX, "ty-train");
      for (const { pod } of workloads(objects)) {
        assert.deepEqual(pod.imagePullSecrets, [{ name: "regcred" }, { name: "mirror" }]);
      }
    },
  },
  {
    name: "image from a registry",
    values: [
      "image.repository=registry.example.com/ml/trainyard",
      "image.tag=1.2.3",
      "image.pullPolicy=Always",
    ],
    check(objects) {
      const env = configMap(objects);
      assert.equal(env.TRAINYARD_WORKER_IMAGE, "registry.example.com/ml/trainyard:1.2.3");
      assert.equal(env.TRAINYARD_WORKER_IMAGE_PULL_POLICY, "Always");
      const controller = onlyContainer(workload(objects, "Deployment", "trainyard-controller").pod);
      assert.equal(controller.image, env.TRAINYARD_WORKER_IMAGE);
      assert.equal(controller.imagePullPolicy, "Always");
    },
  },
  {
    name: "given signing secrets",
    values: [`json:webhook.signingSecrets=${JSON.stringify(SIGNING)}`],
    check(objects) {
      const secret = get(objects, "Secret", "trainyard");
      assert.equal(decodeSecret(secret, "webhook-signing-secrets"), SIGNING.join(","));
    },
  },
];

/** The Services a ServiceMonitor's selector picks, by name. */
function monitoredServices(objects: K8sObject[], monitor: K8sObject): string[] {
  const { matchLabels, matchExpressions } = (
    monitor.spec as {
      selector: {
        matchLabels: Record<string, string>;
        matchExpressions: { key: string; operator: string; values: string[] }[];
      };
    }
  ).selector;
  return ofKind(objects, "Service")
    .filter((service) => {
      const labels = service.metadata.labels ?? {};
      const matches = Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
      return (
        matches &&
        matchExpressions.every((e) => {
          assert.equal(e.operator, "In");
          return e.values.includes(labels[e.key] ?? "");
        })
      );
    })
    .map((s) => s.metadata.name)
    .sort();
}

type Policies = Map<string | undefined, NetworkPolicy>;

/** An egress rule with neither ports nor peers: anywhere. */
function allowsAll(policies: Policies, name: string): boolean {
  return (policies.get(name)?.spec?.egress ?? []).some((rule) => Object.keys(rule).length === 0);
}

/** An egress rule to the API server's port. */
function reachesApiServer(policies: Policies, name: string): boolean {
  return (policies.get(name)?.spec?.egress ?? []).some((rule) =>
    (rule.ports ?? []).some((p) => p.port === 6443),
  );
}

describe("helm chart", () => {
  test("helm and kubectl are installed", async () => {
    requireTools();
    const version = await run(HELM, ["version", "--short"]);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^v\d+\.\d+/);
  });

  test("Chart.yaml: apiVersion v2, appVersion is package.json's version", () => {
    const chart = parse(readFileSync(join(CHART, "Chart.yaml"), "utf8")) as Record<string, string>;
    assert.equal(chart.apiVersion, "v2");
    assert.equal(chart.name, "trainyard");
    assert.equal(chart.appVersion, packageVersion());
  });

  for (const variant of VARIANTS) {
    describe(variant.name, () => {
      test("helm lint --strict passes", async () => {
        const lint = await run(HELM, ["lint", "--strict", CHART, ...setArgs(variant.values)]);
        assert.equal(lint.code, 0, `${lint.stdout}\n${lint.stderr}`);
        assert.match(lint.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
        // Lint treats a failed `required`/`fail` as a warning; none may be there.
        assert.doesNotMatch(lint.stderr, /missing required values|funcMap fail/);
      });

      test("renders valid, hardened objects with minimal RBAC", async () => {
        const objects = await helmTemplate(variant.values);
        assertValidObjects(objects);
        assertHardened(objects, variant.privileges);
        assertRbac(objects, RELEASE, NS, variant.privileges);
        variant.check(objects);
      });
    });
  }

  test("every Service selects the pods of one Deployment and targets their port", async () => {
    const objects = await helmTemplate();
    for (const service of ofKind(objects, "Service")) {
      const spec = service.spec as {
        selector: Record<string, string>;
        ports: { port: number; targetPort: string }[];
      };
      const matches = workloads(objects).filter(({ object }) => {
        const labels = templateMeta(object).labels ?? {};
        return Object.entries(spec.selector).every(([k, v]) => labels[k] === v);
      });
      const [match, ...others] = matches;
      assert.ok(match && others.length === 0, `${service.metadata.name} selects ${matches.length}`);
      const container = onlyContainer(match.pod);
      for (const port of spec.ports) {
        const named = container.ports?.find((p) => p.name === port.targetPort);
        assert.ok(named, `${service.metadata.name}: no container port ${port.targetPort}`);
        assert.equal(named.containerPort, port.port, `${service.metadata.name}: same port`);
      }
    }
  });

  test("a long release name still gives valid names", async () => {
    // Helm allows 53 characters.
    const release = "a-very-long-release-name-for-a-team-that-likes-names";
    const objects = await helmTemplate([], { release });
    assertValidObjects(objects);
    for (const object of objects) assert.ok(object.metadata.name.length <= 52);
    const configMaps = ofKind(objects, "ConfigMap");
    assert.equal(configMaps.length, 1);
    // The Jobs' instance label is the release name itself (a label value: 63 characters).
    const env = configMaps[0]?.data as Record<string, string>;
    assert.equal(env.TRAINYARD_INSTANCE, release);
  });

  test("NOTES.txt shows the port-forward and curl flows with the release's names", async () => {
    const install = await run(HELM, [
      "install",
      "demo",
      CHART,
      "--dry-run=client",
      "--namespace",
      "ml",
    ]);
    assert.equal(install.code, 0, install.stderr);
    const notes = install.stdout.slice(install.stdout.indexOf("NOTES:"));
    for (const [app, port] of [
      ["naive", 8003],
      ["polling", 8004],
      ["webhook", 8005],
      ["webhook-client", 8006],
    ] as const) {
      assert.ok(notes.includes(`port-forward svc/demo-${app} ${port}:${port}`), app);
    }
    assert.ok(notes.includes("curl -X POST http://localhost:8003/train"));
    assert.ok(notes.includes("/train/$TASK_ID/status"));
    assert.ok(notes.includes('{"callback_url": "http://demo-webhook-client:8006/callback"}'));
    // Logs are off by default: the notes say so and show the way that works.
    assert.ok(notes.includes("kubectl -n ml logs job/trainyard-train-$TASK_ID"));
  });
});
