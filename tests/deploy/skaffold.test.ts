// skaffold.yaml, checked without skaffold or a cluster: it builds this Dockerfile, deploys this
// chart with the built image, forwards the ports the Services really have, and its profiles
// patch paths that exist and render what they name.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { HTTP_APPS } from "../../src/config.js";
import { ROOT, get, helmTemplate, kustomize, type K8sObject } from "./helpers.js";

interface PortForward {
  resourceType: string;
  resourceName: string;
  namespace?: string;
  port: number;
  localPort: number;
}

interface Patch {
  op: string;
  path: string;
  value?: unknown;
}

interface HelmRelease {
  name: string;
  chartPath: string;
  setValueTemplates: Record<string, string>;
  setValues: Record<string, string>;
}

interface Profile {
  name: string;
  activation?: { kubeContext?: string }[];
  patches?: Patch[];
  manifests?: { kustomize?: { paths: string[] } };
  deploy?: { kubectl?: object; helm?: unknown };
  portForward?: PortForward[];
}

interface Skaffold {
  apiVersion: string;
  kind: string;
  build: {
    artifacts: { image: string; context?: string; docker?: { dockerfile: string } }[];
    local: { push: boolean };
  };
  deploy: { helm: { releases: HelmRelease[] } };
  portForward: PortForward[];
  profiles: Profile[];
}

const SKAFFOLD = parse(readFileSync(join(ROOT, "skaffold.yaml"), "utf8")) as Skaffold;

/** A JSON pointer's parent must exist for add/replace, the target itself for remove. */
function resolves(config: unknown, pointer: string, op: string): boolean {
  const parts = pointer
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  const walk = op === "remove" || op === "replace" ? parts : parts.slice(0, -1);
  let node: unknown = config;
  for (const part of walk) {
    if (node === null || typeof node !== "object") return false;
    if (!(part in node)) return false;
    node = (node as Record<string, unknown>)[part];
  }
  return node !== undefined;
}

function assertForwardsServices(forwards: PortForward[], objects: K8sObject[], ns?: string): void {
  const expected = Object.entries(HTTP_APPS).map(([app, { defaultPort }]) => ({
    name: `trainyard-${app}`,
    port: defaultPort,
  }));
  assert.deepEqual(
    forwards.map((f) => ({ name: f.resourceName, port: f.port })).sort((a, b) => a.port - b.port),
    expected,
  );
  for (const forward of forwards) {
    assert.equal(forward.resourceType, "service");
    assert.equal(forward.localPort, forward.port);
    assert.equal(forward.namespace, ns);
    const service = get(objects, "Service", forward.resourceName);
    const ports = (service.spec as { ports: { port: number }[] }).ports.map((p) => p.port);
    assert.deepEqual(ports, [forward.port], `${forward.resourceName} has that port`);
  }
}

describe("skaffold.yaml", () => {
  test("is a skaffold v2 config building the trainyard image from this Dockerfile", () => {
    assert.match(SKAFFOLD.apiVersion, /^skaffold\/v4beta\d+$/);
    assert.equal(SKAFFOLD.kind, "Config");
    assert.deepEqual(
      SKAFFOLD.build.artifacts.map((a) => a.image),
      ["trainyard"],
    );
    const artifact = SKAFFOLD.build.artifacts[0];
    assert.ok(artifact?.docker, "docker builder");
    assert.ok(existsSync(join(ROOT, artifact.context ?? ".", artifact.docker.dockerfile)));
    assert.equal(SKAFFOLD.build.local.push, false);
  });

  test("deploys the chart with the built image, which the chart also gives the Jobs", async () => {
    const [release, ...others] = SKAFFOLD.deploy.helm.releases;
    assert.ok(release && others.length === 0);
    assert.equal(release.name, "trainyard");
    assert.ok(existsSync(join(ROOT, release.chartPath, "Chart.yaml")));
    assert.deepEqual(release.setValueTemplates, {
      "image.repository": "{{.IMAGE_REPO_trainyard}}",
      "image.tag": "{{.IMAGE_TAG_trainyard}}",
    });
    // What skaffold would pass, with a stand-in for the built tag.
    const values = [
      "image.repository=trainyard",
      "image.tag=0123abcd",
      ...Object.entries(release.setValues).map(([k, v]) => `${k}=${v}`),
    ];
    const objects = await helmTemplate(values, { release: release.name });
    const env = get(objects, "ConfigMap", "trainyard").data as Record<string, string>;
    assert.equal(env.TRAINYARD_WORKER_IMAGE, "trainyard:0123abcd");
    // Development serves task logs (the chart's default does not; kustomize.test.ts holds the
    // kustomize profile's overlay to the same values).
    assert.equal(env.TRAINYARD_KUBERNETES_POD_LOGS, "true");
    get(objects, "Role", "trainyard-api-logs");
    assertForwardsServices(SKAFFOLD.portForward, objects);
  });

  test("has kind, minikube and kustomize profiles whose patches apply", () => {
    const names = SKAFFOLD.profiles.map((p) => p.name).sort();
    assert.deepEqual(names, ["kind", "kustomize", "minikube"]);
    for (const profile of SKAFFOLD.profiles) {
      for (const patch of profile.patches ?? []) {
        assert.ok(
          resolves(SKAFFOLD, patch.path, patch.op),
          `${profile.name}: ${patch.op} ${patch.path} does not apply`,
        );
      }
    }
    for (const name of ["kind", "minikube"]) {
      const profile = SKAFFOLD.profiles.find((p) => p.name === name);
      // A loaded image is never pulled (and the Jobs get the chart's pull policy too).
      assert.deepEqual(
        profile?.patches?.map((p) => p.value),
        ["Never"],
      );
    }
  });

  test("the kustomize profile deploys k8s/overlays/dev with kubectl instead of helm", async () => {
    const profile = SKAFFOLD.profiles.find((p) => p.name === "kustomize");
    assert.ok(profile);
    assert.deepEqual(profile.patches, [{ op: "remove", path: "/deploy/helm" }]);
    assert.deepEqual(profile.deploy, { kubectl: {} });
    assert.deepEqual(profile.manifests?.kustomize?.paths, ["k8s/overlays/dev"]);
    const objects = await kustomize("k8s/overlays/dev");
    const namespace = get(objects, "ConfigMap", "trainyard").metadata.namespace;
    assertForwardsServices(profile.portForward ?? [], objects, namespace);
  });
});
