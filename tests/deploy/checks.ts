// Assertions shared by the chart and kustomize tests: schema validity, pod hardening and
// least-privilege RBAC, on whatever a render contains. What a render may grant depends on one
// switch, pod-log access (the chart's logs.podLogAccess, k8s/components/pod-logs): off, only the
// controller has a token and a Role; on, the log-serving APIs also get a read-only one.
import assert from "node:assert/strict";
import type { Container, PodSpec, SecurityContext } from "kubernetes-types/core/v1.js";
import type { Role, RoleBinding } from "kubernetes-types/rbac/v1.js";
import { isTrainyard, ofKind, schemaProblems, workloads, type K8sObject } from "./helpers.js";

/** The controller's whole Role, verbs sorted. Anything more is a privilege it does not need. */
export const CONTROLLER_RULES = [
  {
    apiGroups: ["batch"],
    resources: ["jobs"],
    verbs: ["create", "delete", "get", "list", "watch"],
  },
  { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] },
];

/** The log-serving APIs' whole Role: read the training pods and their logs, nothing else. */
export const API_LOG_RULES = [
  { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] },
  { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
];

export interface Privileges {
  /** The log-serving APIs read the training pods' logs (a token and the api-logs Role). */
  podLogAccess: boolean;
}

export const DEFAULT_PRIVILEGES: Privileges = { podLogAccess: false };

/** The pods that talk to the Kubernetes API: the controller, and with pod-log access the APIs
 * that serve logs. Every other pod (the webhook client, Postgres) has no token. */
function tokenComponents({ podLogAccess }: Privileges): string[] {
  return podLogAccess ? ["controller", "naive", "polling", "webhook"] : ["controller"];
}

export function assertValidObjects(objects: K8sObject[]): void {
  assert.ok(objects.length > 0, "the render is empty");
  const problems = objects.flatMap(schemaProblems);
  assert.deepEqual(problems, [], `schema problems:\n${problems.join("\n")}`);
  for (const object of objects) {
    assert.ok(object.metadata.name, `${object.kind} without a name`);
    // Object names must be DNS subdomains; Services and pods' names DNS labels.
    assert.match(object.metadata.name, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, object.metadata.name);
    assert.ok(object.metadata.name.length <= 63, `${object.metadata.name} is longer than 63`);
  }
}

function assertContainerHardened(where: string, container: Container, pod: PodSpec): void {
  const sc: SecurityContext | undefined = container.securityContext;
  assert.ok(sc, `${where}: no securityContext`);
  assert.equal(sc.runAsNonRoot, true, `${where}: runAsNonRoot`);
  assert.ok(Number.isInteger(sc.runAsUser) && (sc.runAsUser ?? 0) > 0, `${where}: numeric uid`);
  assert.equal(sc.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
  assert.equal(sc.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation`);
  assert.notEqual(sc.privileged, true, `${where}: privileged`);
  assert.deepEqual(sc.capabilities?.drop, ["ALL"], `${where}: capabilities.drop`);
  assert.equal(sc.capabilities?.add, undefined, `${where}: capabilities.add`);
  assert.equal(sc.seccompProfile?.type, "RuntimeDefault", `${where}: seccompProfile`);
  // Resources on every container: requests and limits of both CPU and memory.
  for (const kind of ["requests", "limits"] as const) {
    for (const resource of ["cpu", "memory"]) {
      assert.ok(container.resources?.[kind]?.[resource], `${where}: resources.${kind}.${resource}`);
    }
  }
  if (isTrainyard(container)) {
    // The root filesystem is read-only: /tmp is the writable emptyDir, the data dir is in it.
    const tmp = container.volumeMounts?.find((m) => m.mountPath === "/tmp");
    assert.ok(tmp, `${where}: no /tmp mount`);
    const volume = pod.volumes?.find((v) => v.name === tmp.name);
    assert.ok(volume?.emptyDir, `${where}: /tmp is not an emptyDir`);
  }
}

/** Every pod and container of the render is hardened (the pod security "restricted" profile). */
export function assertHardened(
  objects: K8sObject[],
  privileges: Privileges = DEFAULT_PRIVILEGES,
): void {
  const all = workloads(objects);
  assert.ok(all.length > 0, "no workloads");
  for (const { object, pod } of all) {
    const where = `${object.kind}/${object.metadata.name}`;
    const psc = pod.securityContext;
    assert.equal(psc?.runAsNonRoot, true, `${where}: pod runAsNonRoot`);
    assert.ok(Number.isInteger(psc?.runAsUser) && (psc?.runAsUser ?? 0) > 0, `${where}: pod uid`);
    assert.equal(psc?.seccompProfile?.type, "RuntimeDefault", `${where}: pod seccompProfile`);
    assert.notEqual(pod.hostNetwork, true, `${where}: hostNetwork`);
    assert.notEqual(pod.hostPID, true, `${where}: hostPID`);
    assert.notEqual(pod.hostIPC, true, `${where}: hostIPC`);
    // Service links would define e.g. TRAINYARD_WEBHOOK_PORT=tcp://... (release "trainyard").
    assert.equal(pod.enableServiceLinks, false, `${where}: enableServiceLinks`);
    const component = object.metadata.labels?.["app.kubernetes.io/component"];
    // Only the controller (and with pod-log access the log-serving APIs) talk to the Kubernetes
    // API: no other pod gets a token.
    const wantsToken = tokenComponents(privileges).includes(component ?? "");
    assert.equal(pod.automountServiceAccountToken, wantsToken, `${where}: token automount`);
    for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
      assertContainerHardened(`${where} ${container.name}`, container, pod);
    }
  }
}

function sortedRules(role: Role): unknown {
  return (role.rules ?? []).map((r) => ({
    apiGroups: r.apiGroups,
    resources: r.resources,
    verbs: [...(r.verbs ?? [])].sort(),
  }));
}

/**
 * RBAC is exactly: the controller's Role with its minimal rules bound to the controller's
 * ServiceAccount and, only with pod-log access, the read-only log Role bound to the API account;
 * no cluster-wide objects; the API and worker accounts mount no token themselves, and the
 * worker's has no binding.
 */
export function assertRbac(
  objects: K8sObject[],
  prefix: string,
  namespace: string,
  privileges: Privileges = DEFAULT_PRIVILEGES,
): void {
  assert.deepEqual(ofKind(objects, "ClusterRole"), [], "no ClusterRole");
  assert.deepEqual(ofKind(objects, "ClusterRoleBinding"), [], "no ClusterRoleBinding");
  const roles = new Map(
    (ofKind(objects, "Role") as unknown as Role[]).map((r) => [r.metadata?.name, r]),
  );
  const expected: [role: string, account: string, rules: unknown][] = [
    [`${prefix}-controller`, `${prefix}-controller`, CONTROLLER_RULES],
  ];
  if (privileges.podLogAccess)
    expected.push([`${prefix}-api-logs`, `${prefix}-api`, API_LOG_RULES]);
  assert.deepEqual([...roles.keys()].sort(), expected.map(([role]) => role).sort(), "the Roles");
  for (const [role, , rules] of expected) {
    assert.deepEqual(sortedRules(roles.get(role) as Role), rules, `${role}: exactly these rules`);
  }
  const bindings = ofKind(objects, "RoleBinding") as unknown as RoleBinding[];
  assert.equal(bindings.length, expected.length, "one RoleBinding per Role");
  for (const [role, account] of expected) {
    const binding = bindings.find((b) => b.metadata?.name === role);
    assert.ok(binding, `RoleBinding ${role}`);
    assert.deepEqual(binding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: role,
    });
    assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: account, namespace }]);
  }

  const accounts = new Map(ofKind(objects, "ServiceAccount").map((sa) => [sa.metadata.name, sa]));
  assert.deepEqual([...accounts.keys()].sort(), [
    `${prefix}-api`,
    `${prefix}-controller`,
    `${prefix}-worker`,
  ]);
  assert.equal(accounts.get(`${prefix}-api`)?.automountServiceAccountToken, false);
  assert.equal(accounts.get(`${prefix}-worker`)?.automountServiceAccountToken, false);

  for (const { object, pod } of workloads(objects)) {
    const component = object.metadata.labels?.["app.kubernetes.io/component"];
    if (component === "postgresql") {
      assert.equal(pod.serviceAccountName, undefined, "Postgres uses no account of ours");
    } else if (component === "controller") {
      assert.equal(pod.serviceAccountName, `${prefix}-controller`);
    } else {
      assert.equal(pod.serviceAccountName, `${prefix}-api`, `${object.metadata.name}: API account`);
    }
  }
}
