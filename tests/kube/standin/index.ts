// The stand-in Kubernetes API server for tests: import from here.
export { StandInApiServer, type RestartOptions, type StandInOptions } from "./api-server.js";
export type { ImageConfig } from "./container-env.js";
export type { FailOptions, RequestFilter, RequestRecord } from "./faults.js";
export type { KubeObject } from "./objects.js";
export type { Status } from "./status.js";
