// GET /api/v1/namespaces/{ns}/pods/{name}/log: the container's output as text/plain, with
// container, previous, tailLines, limitBytes, sinceSeconds, sinceTime, timestamps, and follow
// (streams until the container's process ends, or the client goes).
import type { ServerResponse } from "node:http";
import type { Pod } from "kubernetes-types/core/v1.js";
import { badRequest, notFound } from "./status.js";
import type { Kubelet } from "./kubelet.js";
import { limit, stamp, type LogReadOptions } from "./log-buffer.js";
import { PODS } from "./resources.js";
import type { ObjectStore } from "./store.js";

function intParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw badRequest(`${name}: Invalid value: ${raw}: must be greater than or equal to 0`);
  return n;
}

export function serveLog(
  store: ObjectStore,
  kubelet: Kubelet,
  namespace: string,
  name: string,
  query: URLSearchParams,
  res: ServerResponse,
): void {
  const pod = store.get("pods", namespace, name) as Pod | undefined;
  if (!pod) throw notFound(PODS, name);
  const names = (pod.spec?.containers ?? []).map((c) => c.name);
  const container = query.get("container") || (names.length === 1 ? names[0] : undefined);
  if (!container) {
    throw badRequest(
      `a container name must be specified for pod ${name}, choose one of: [${names.join(" ")}]`,
    );
  }
  if (!names.includes(container))
    throw badRequest(`container ${container} is not valid for pod ${name}`);
  const previous = query.get("previous") === "true";
  const buffer = kubelet.logOf(namespace, name, container, previous);
  if (!buffer) {
    if (previous)
      throw badRequest(`previous terminated container "${container}" in pod "${name}" not found`);
    const waiting = pod.status?.containerStatuses?.find((c) => c.name === container)?.state
      ?.waiting;
    const why = waiting?.reason?.includes("Image")
      ? "trying and failing to pull image"
      : (waiting?.reason ?? "ContainerCreating");
    throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ${why}`);
  }
  const sinceTime = query.get("sinceTime");
  const options: LogReadOptions = {
    tailLines: intParam(query, "tailLines"),
    limitBytes: intParam(query, "limitBytes"),
    sinceSeconds: intParam(query, "sinceSeconds"),
    ...(sinceTime ? { sinceTime: new Date(sinceTime) } : {}),
    timestamps: query.get("timestamps") === "true",
  };
  res.writeHead(200, { "content-type": "text/plain", "cache-control": "no-cache, private" });
  const initial = buffer.read(options);
  const follow = query.get("follow") === "true";
  if (!follow || buffer.closed) {
    res.end(initial);
    return;
  }
  res.write(initial);
  let written = Buffer.byteLength(initial);
  let atLineStart = !buffer.endsMidLine();
  const done = (): void => {
    stop();
    if (!res.writableEnded) res.end();
  };
  const stop = buffer.follow((segment, time) => {
    let out = options.timestamps ? stamp(segment, time, atLineStart) : segment;
    atLineStart = segment.endsWith("\n");
    if (options.limitBytes !== undefined) {
      out = limit(out, options.limitBytes - written);
      written += Buffer.byteLength(out);
      res.write(out);
      if (written >= options.limitBytes) done();
      return;
    }
    res.write(out);
  });
  if (options.limitBytes !== undefined && written >= options.limitBytes) done();
  void buffer.whenClosed().then(done);
  res.on("close", stop);
}
