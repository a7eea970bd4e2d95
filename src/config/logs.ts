// GET /train/{id}/logs: how much of a task's log it returns, and whether, with the Kubernetes
// runner, the API processes may read the training pods' logs at all.
import { bool, int, type Env } from "./env.js";

export interface LogsConfig {
  /** How much of a task's log GET /train/{id}/logs returns when tail_bytes is not given. */
  tailBytes: number;
  /** The most tail_bytes may ask for. */
  maxTailBytes: number;
  /**
   * Kubernetes runner only: read the training pods' logs through the Kubernetes API. Off by
   * default, because it needs the API pods to hold a token with read rights on pods and their
   * logs; off, GET /train/{id}/logs answers 501 logs_disabled. (Local logs are files: always on.)
   */
  kubernetesPodLogs: boolean;
}

const KIB = 1024;
const MIB = 1024 * KIB;

export function logsConfig(env: Env): LogsConfig {
  const maxTailBytes = int(env, "TRAINYARD_LOG_MAX_TAIL_BYTES", MIB, KIB, 64 * MIB);
  const tailFallback = Math.min(64 * KIB, maxTailBytes);
  return {
    tailBytes: int(env, "TRAINYARD_LOG_TAIL_BYTES", tailFallback, 0, maxTailBytes),
    maxTailBytes,
    kubernetesPodLogs: bool(env, "TRAINYARD_KUBERNETES_POD_LOGS", false),
  };
}
