// k8s/: the plain manifests for users without Helm. `kubectl kustomize` renders the base and
// the dev overlay; both are valid and hardened, and each is the chart's own render with the
// matching values, object by object (so the two can never drift apart): the base is the
// chart's defaults (no pod-log access), the dev overlay what skaffold's Helm release deploys
// (with pod-log access, through k8s/components/pod-logs), so that `skaffold dev` and
// `skaffold dev -p kustomize` give the same cluster.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { assertHardened, assertRbac, assertValidObjects } from "./checks.js";
import {
  ROOT,
  decodeSecret,
  find,
  get,
  helmTemplate,
  kustomize,
  ofKind,
  onlyContainer,
  packageVersion,
  workload,
  workloads,
  type K8sObject,
} from "./helpers.js";

const NS = "trainyard";

/** The values skaffold.yaml's Helm release sets (besides the image it builds). */
function skaffoldValues(): string[] {
  const skaffold = parse(readFileSync(join(ROOT, "skaffold.yaml"), "utf8")) as {
    deploy: { helm: { releases: { setValues: Record<string, unknown> }[] } };
  };
  const setValues = skaffold.deploy.helm.releases[0]?.setValues ?? {};
  return Object.entries(setValues).map(([k, v]) => `${k}=${String(v)}`);
}
const SELECTOR_LABELS = [
  "app.kubernetes.io/name",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/component",
];

/**
 * What may differ between Helm and kustomize: Helm's own labels, the checksum annotations
 * that roll pods on a Helm upgrade, and the namespace (kustomize writes it, Helm applies it).
 */
function normalize(value: unknown, key = ""): unknown {
  if (Array.isArray(value)) return value.map((v) => normalize(v));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (key === "metadata" && (k === "namespace" || k === "annotations")) continue;
    if (key === "metadata" && k === "labels") {
      const labels = v as Record<string, string>;
      out[k] = Object.fromEntries(
        SELECTOR_LABELS.filter((l) => l in labels).map((l) => [l, labels[l]]),
      );
      continue;
    }
    out[k] = normalize(v, k);
  }
  return out;
}

function secretKeys(secret: K8sObject): string[] {
  return Object.keys({ ...(secret.data as object), ...(secret.stringData as object) }).sort();
}

function byKey(objects: K8sObject[]): Map<string, K8sObject> {
  return new Map(objects.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
}

/** Object by object equality, Secrets by their keys (the values are the user's or random). */
function assertSameObjects(kustomized: K8sObject[], chart: K8sObject[]): void {
  const ours = byKey(kustomized.filter((o) => o.kind !== "Namespace"));
  const theirs = byKey(chart);
  assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort());
  for (const [key, object] of ours) {
    const other = theirs.get(key) as K8sObject;
    if (object.kind === "Secret") {
      assert.deepEqual(secretKeys(object), secretKeys(other), `${key}: keys`);
      continue;
    }
    assert.deepEqual(normalize(object), normalize(other), `${key} differs from the chart's`);
  }
}

function assertWorkerImageIsThePodsImage(objects: K8sObject[]): string {
  const controller = onlyContainer(workload(objects, "Deployment", "trainyard-controller").pod);
  const env = get(objects, "ConfigMap", "trainyard").data as Record<string, string>;
  assert.equal(env.TRAINYARD_WORKER_IMAGE, controller.image);
  assert.equal(env.TRAINYARD_WORKER_IMAGE_PULL_POLICY, controller.imagePullPolicy);
  for (const { pod } of workloads(objects)) {
    const c = onlyContainer(pod);
    if (c.name !== "postgresql") assert.equal(c.image, controller.image);
  }
  return controller.image ?? "";
}

describe("kustomize", () => {
  describe("k8s/base", () => {
    test("renders valid, hardened objects with minimal RBAC, in namespace trainyard", async () => {
      const objects = await kustomize("k8s/base");
      assertValidObjects(objects);
      assertHardened(objects);
      assertRbac(objects, "trainyard", NS);
      for (const object of objects.filter((o) => o.kind !== "Namespace")) {
        assert.equal(object.metadata.namespace, NS, `${object.kind}/${object.metadata.name}`);
      }
      const namespace = get(objects, "Namespace", NS);
      assert.equal(namespace.metadata.labels?.["pod-security.kubernetes.io/warn"], "restricted");
      // The base holds no credentials: the user's Secret "trainyard" does.
      assert.deepEqual(ofKind(objects, "Secret"), []);
      assert.deepEqual(ofKind(objects, "StatefulSet"), []);
      assert.equal(assertWorkerImageIsThePodsImage(objects), `trainyard:${packageVersion()}`);
    });

    test("is the chart with its own Secret and an external database", async () => {
      const chart = await helmTemplate(["postgresql.enabled=false", "existingSecret=trainyard"]);
      assertSameObjects(await kustomize("k8s/base"), chart);
    });
  });

  describe("k8s/overlays/dev", () => {
    test("renders valid, hardened objects with minimal RBAC and a bundled Postgres", async () => {
      const objects = await kustomize("k8s/overlays/dev");
      assertValidObjects(objects);
      // Development serves task logs: the log-serving APIs' read-only Role and token.
      assertHardened(objects, { podLogAccess: true });
      assertRbac(objects, "trainyard", NS, { podLogAccess: true });
      get(objects, "StatefulSet", "trainyard-postgresql");
      // The image built locally, and the training Jobs get the same (copied by replacements).
      assert.equal(assertWorkerImageIsThePodsImage(objects), "trainyard:dev");
      // The generated Secrets keep their names: TRAINYARD_WORKER_DATABASE_SECRET names one.
      const secret = get(objects, "Secret", "trainyard");
      const env = get(objects, "ConfigMap", "trainyard").data as Record<string, string>;
      assert.equal(env.TRAINYARD_WORKER_DATABASE_SECRET, secret.metadata.name);
      const password = decodeSecret(get(objects, "Secret", "trainyard-postgresql"), "password");
      assert.equal(
        decodeSecret(secret, "database-url"),
        `postgres://trainyard:${password}@trainyard-postgresql:5432/trainyard`,
      );
      assert.equal(find(objects, "Secret", "trainyard-postgresql")?.kind, "Secret");
    });

    test("is what skaffold's Helm release installs, with the image trainyard:dev", async () => {
      const values = skaffoldValues();
      // What makes it differ from the base; were skaffold to drop it, so must the overlay.
      assert.ok(values.includes("logs.podLogAccess=true"), values.join(" "));
      const chart = await helmTemplate(["image.tag=dev", ...values]);
      assertSameObjects(await kustomize("k8s/overlays/dev"), chart);
    });
  });
});
