// A kubeconfig for the stand-in. The cluster entry is plain http, which client-node 1.4 only
// accepts with insecure-skip-tls-verify set (it refuses http otherwise).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { stringify } from "yaml";

export function writeKubeconfig(
  path: string,
  opts: { server: string; namespace: string; token: string },
): void {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "stand-in", cluster: { server: opts.server, "insecure-skip-tls-verify": true } },
    ],
    users: [{ name: "stand-in", user: { token: opts.token } }],
    contexts: [
      {
        name: "stand-in",
        context: { cluster: "stand-in", user: "stand-in", namespace: opts.namespace },
      },
    ],
    "current-context": "stand-in",
    preferences: {},
  };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, stringify(config), { mode: 0o600 });
}
