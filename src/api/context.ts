// What every app's routes are given: the database, the task events of this process, the
// latest-model cache and the settings. Built once per process and shared by all its apps.
import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { Pool } from "../db/queryable.js";
import type { LatestModelCache } from "../models/cache.js";
import type { LogSource } from "../runner/logs.js";
import type { TaskEvents } from "../tasks/events.js";

export interface AppContext {
  sql: Pool;
  events: TaskEvents;
  models: LatestModelCache;
  config: Config;
  log: Logger;
  /** Aborted when the process begins to shut down: long waits answer at once. */
  shutdown: AbortSignal;
  /** More readiness conditions (e.g. the runner can reach Kubernetes): each names a problem. */
  readiness: (() => string | undefined)[];
  /**
   * Where the tasks' logs are read (the runner's: a local file or the pod's log); undefined when
   * this deployment does not serve them (Kubernetes runner with pod-log reading off).
   */
  logs: LogSource | undefined;
}
