// The log source of this process's runner kind: the local worker's file in the data dir, or
// the pod's log through the Kubernetes API. The Kubernetes client is built on first use, so a
// process that never serves a log (webhook-client, controller) needs no kubeconfig or token.
// Reading pods' logs is opt-in (TRAINYARD_KUBERNETES_POD_LOGS): it needs the API pods to hold a
// token with rights on pods/log, which by default they do not; without it there is no source.
import { join } from "node:path";
import type { Config } from "../config.js";
import type { Pool } from "../db/queryable.js";
import { KubernetesLogSource } from "./kubernetes/pod-logs.js";
import { loadKubeConfig } from "./kubernetes/runner.js";
import { LocalLogSource, LogUnavailableError, type LogSource } from "./logs.js";

export function createLogSource(config: Config, sql: Pool): LogSource | undefined {
  if (config.runner === "local") return new LocalLogSource(sql, join(config.dataDir, "logs"));
  if (!config.logs.kubernetesPodLogs) return undefined;
  let source: LogSource | undefined;
  const get = (): LogSource => {
    try {
      const { kubeconfig, inCluster } = config.kubernetes;
      source ??= new KubernetesLogSource(loadKubeConfig(kubeconfig, inCluster), config.kubernetes);
    } catch (err) {
      throw new LogUnavailableError(`no Kubernetes client: ${(err as Error).message}`);
    }
    return source;
  };
  return {
    tail: (task, maxBytes) => get().tail(task, maxBytes),
    follow: (task, maxBytes, write, opts) => get().follow(task, maxBytes, write, opts),
  };
}
