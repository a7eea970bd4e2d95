// Enough discovery for a client that looks before it calls (kubectl, ObjectApi): the version,
// the core and batch group lists, and the resources each serves. client-node's typed APIs
// (BatchV1Api, CoreV1Api, Watch, informers) call the resource paths directly and never ask.
import { RESOURCES } from "./resources.js";

const VERBS: Record<string, string[]> = {
  jobs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
  pods: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
  secrets: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
};

export const VERSION = {
  major: "1",
  minor: "33",
  gitVersion: "v1.33.0-standin",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2025-04-23T00:00:00Z",
  goVersion: "go1.24.2",
  compiler: "gc",
  platform: "linux/amd64",
};

function resourceList(group: string): Record<string, unknown> {
  const resources = RESOURCES.filter((r) => r.group === group).flatMap((r) => {
    const main = {
      name: r.resource,
      singularName: r.kind.toLowerCase(),
      namespaced: true,
      kind: r.kind,
      verbs: VERBS[r.resource] ?? [],
    };
    if (r.resource === "pods")
      return [
        main,
        { name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] },
      ];
    if (r.resource === "jobs")
      return [
        main,
        { name: "jobs/status", singularName: "", namespaced: true, kind: "Job", verbs: ["get"] },
      ];
    return [main];
  });
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group ? `${group}/v1` : "v1",
    resources,
  };
}

/** The discovery document for a non-resource path, or undefined when there is none. */
export function discovery(path: string, serverAddress: string): unknown {
  switch (path) {
    case "/version":
      return VERSION;
    case "/api":
      return {
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
      };
    case "/apis":
      return {
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: [
          {
            name: "batch",
            versions: [{ groupVersion: "batch/v1", version: "v1" }],
            preferredVersion: { groupVersion: "batch/v1", version: "v1" },
          },
        ],
      };
    case "/apis/batch":
      return {
        kind: "APIGroup",
        apiVersion: "v1",
        name: "batch",
        versions: [{ groupVersion: "batch/v1", version: "v1" }],
        preferredVersion: { groupVersion: "batch/v1", version: "v1" },
      };
    case "/api/v1":
      return resourceList("");
    case "/apis/batch/v1":
      return resourceList("batch");
    default:
      return undefined;
  }
}
