// A task's log in Kubernetes: the log of its Job's newest pod, read through the API server
// (GET /api/v1/namespaces/{ns}/pods/{name}/log), as `kubectl logs` does. The API pods need a
// read-only Role for it: pods get/list and pods/log get (charts/trainyard/templates/rbac.yaml).
//
// The API has tailLines and limitBytes but no "last N bytes" (limitBytes counts from the
// start): the tail asks for tailLines = N (no N-byte window holds more than N lines) and keeps
// the last N bytes. Following is two requests: that tail with timestamps, then follow=true from
// the second of its last line, skipping what was already sent by comparing timestamps, so that
// nothing is lost or repeated between the two. The follow stream ends when the container does.
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { KubernetesConfig } from "../../config.js";
import type { Task } from "../../tasks/task.js";
import {
  lastBytes,
  LogUnavailableError,
  type FollowOptions,
  type LogSource,
  type WriteChunk,
} from "../logs.js";
import { KubeApiError, withRetry } from "./api-errors.js";
import { CONTAINER_NAME, jobName, labelSelector } from "./job-spec.js";

/** A container that has not started yet is asked again after this long. */
const WAITING_RETRY_MS = 1000;
/** After the task ended, the container's exit ends the stream; this bounds the wait for it. */
const END_GRACE_MS = 30_000;
const MAX_ERROR_BODY = 4096;

/** A kubelet timestamp (RFC 3339 with up to 9 fraction digits) as nanoseconds, comparable. */
export function stampNanos(stamp: string): bigint | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(stamp);
  if (!m) return undefined;
  const seconds = Date.parse(`${m[1] ?? ""}${m[3] ?? ""}`);
  if (Number.isNaN(seconds)) return undefined;
  return BigInt(seconds) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

interface StampedLine {
  nanos: bigint | undefined;
  /** The line without its timestamp, newline included (absent on a partial last line). */
  text: string;
}

/** Splits timestamped log text into lines; a line without a stamp is a continuation. */
export function splitStamped(text: string): StampedLine[] {
  const lines: StampedLine[] = [];
  for (const raw of text.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
    const space = raw.indexOf(" ");
    const nanos = space > 0 ? stampNanos(raw.slice(0, space)) : undefined;
    lines.push(nanos === undefined ? { nanos, text: raw } : { nanos, text: raw.slice(space + 1) });
  }
  return lines;
}

/** Where a follow resumes: after the line(s) stamped `nanos`, `count` of which were sent. */
interface Resume {
  nanos: bigint;
  count: number;
}

function resumeAfter(lines: StampedLine[], previous?: Resume): Resume | undefined {
  let resume = previous;
  for (const line of lines) {
    if (line.nanos === undefined) continue;
    resume =
      resume && resume.nanos === line.nanos
        ? { nanos: line.nanos, count: resume.count + 1 }
        : { nanos: line.nanos, count: 1 };
  }
  return resume;
}

/** sinceTime is whole seconds: the second of the last line sent (inclusive, hence the skip). */
function sinceTime(resume: Resume): string {
  const ms = Number(resume.nanos / 1_000_000_000n) * 1000;
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export class KubernetesLogSource implements LogSource {
  private readonly core: CoreV1Api;

  constructor(
    private readonly kc: KubeConfig,
    private readonly config: KubernetesConfig,
    private readonly waitingRetryMs = WAITING_RETRY_MS,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async tail(task: Task, maxBytes: number): Promise<Buffer | undefined> {
    const pod = await this.currentPod(task);
    if (!pod) return undefined;
    const res = await this.get(pod, { tailLines: String(Math.max(1, maxBytes)) });
    if (!res) return undefined;
    return lastBytes(await readAll(res), maxBytes);
  }

  async follow(
    task: Task,
    maxBytes: number,
    write: WriteChunk,
    { ended, signal }: FollowOptions,
  ): Promise<boolean> {
    let done = false;
    const stop = new AbortController();
    const all = AbortSignal.any([signal, stop.signal]);
    void ended.then(() => {
      done = true;
      setTimeout(() => stop.abort(), END_GRACE_MS).unref();
    });

    // The tail, once the pod's container has started.
    let pod: string | undefined;
    let resume: Resume | undefined;
    while (!all.aborted) {
      pod = await this.currentPod(task);
      const res = pod
        ? await this.get(pod, { timestamps: "true", tailLines: String(Math.max(1, maxBytes)) })
        : undefined;
      if (pod && res) {
        const lines = splitStamped((await readAll(res)).toString("utf8"));
        resume = resumeAfter(lines);
        const text = Buffer.from(lines.map((l) => l.text).join(""));
        const head = lastBytes(text, maxBytes);
        if (head.length > 0) await write(head);
        break;
      }
      if (done) return false; // ended without a pod, or before its container started
      await Promise.race([sleep(this.waitingRetryMs, undefined, { signal: all }), ended]).catch(
        () => undefined,
      );
    }

    // Then everything after it, until the container ends (or the grace after the task's end).
    while (!all.aborted && pod) {
      const query: Record<string, string> = { follow: "true", timestamps: "true" };
      if (resume) query.sinceTime = sinceTime(resume);
      const res = await this.get(pod, query, all).catch((err: unknown) => {
        if (all.aborted) return undefined;
        throw err;
      });
      if (!res) break;
      resume = await this.relay(res, resume, write, all);
      if (done || all.aborted) break;
      // The stream ended but the task did not (yet): the container exited just before its
      // status arrived, or the connection was cut. Give the status a moment, then resume.
      await Promise.race([sleep(this.waitingRetryMs, undefined, { signal: all }), ended]).catch(
        () => undefined,
      );
      if (done) break;
      const now = await this.currentPod(task);
      if (now !== pod) resume = undefined; // a new pod (a retry): its log from the start
      pod = now;
    }
    return true;
  }

  /** Sends the stream's lines that come after `resume`; returns the new resume point. */
  private async relay(
    res: IncomingMessage,
    resume: Resume | undefined,
    write: WriteChunk,
    signal: AbortSignal,
  ): Promise<Resume | undefined> {
    let skip = resume;
    let pending = "";
    let current = resume;
    const onAbort = (): void => void res.destroy();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        pending += chunk.toString("utf8");
        const cut = pending.lastIndexOf("\n") + 1;
        if (cut === 0) continue;
        const lines = splitStamped(pending.slice(0, cut));
        pending = pending.slice(cut);
        const out: string[] = [];
        for (const line of lines) {
          if (skip && line.nanos !== undefined) {
            if (line.nanos < skip.nanos) continue;
            if (line.nanos === skip.nanos && skip.count > 0) {
              skip = { nanos: skip.nanos, count: skip.count - 1 };
              continue;
            }
            skip = undefined; // past the already sent lines: send everything from here
          } else if (skip) continue; // a continuation of a line already sent
          out.push(line.text);
          current = resumeAfter([line], current);
        }
        if (out.length > 0) await write(Buffer.from(out.join("")));
      }
    } catch (err) {
      if (!signal.aborted)
        throw new LogUnavailableError(`the pod's log stream broke: ${String(err)}`);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    // A last line without its newline (the process ended mid-line).
    if (pending && !skip) {
      const lines = splitStamped(pending);
      await write(Buffer.from(lines.map((l) => l.text).join("")));
      current = resumeAfter(lines, current);
    }
    return current;
  }

  /** The name of the task's Job's newest pod, if there is one. */
  private async currentPod(task: Task): Promise<string | undefined> {
    const job = jobName(this.config, task.id);
    let pods: V1Pod[];
    try {
      const list = await withRetry("list pods", () =>
        this.core.listNamespacedPod({
          namespace: this.config.namespace,
          labelSelector: `${labelSelector(this.config)},batch.kubernetes.io/job-name=${job}`,
        }),
      );
      pods = list.items;
    } catch (err) {
      throw new LogUnavailableError(err instanceof KubeApiError ? err.message : String(err));
    }
    const newest = pods.sort(
      (a, b) =>
        (b.metadata?.creationTimestamp?.getTime() ?? 0) -
        (a.metadata?.creationTimestamp?.getTime() ?? 0),
    )[0];
    return newest?.metadata?.name;
  }

  /**
   * GET .../pods/{pod}/log. Undefined when there is nothing to read yet or any more: the pod is
   * gone (404) or its container has not started (400 "waiting to start"). Anything else the
   * API answers (403: the Role is missing) is a LogUnavailableError.
   */
  private async get(
    pod: string,
    query: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<IncomingMessage | undefined> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new LogUnavailableError("the kubeconfig has no current cluster");
    const params = new URLSearchParams({ container: CONTAINER_NAME, ...query });
    const path = `/api/v1/namespaces/${encodeURIComponent(this.config.namespace)}/pods/${encodeURIComponent(pod)}/log`;
    const url = new URL(`${cluster.server.replace(/\/+$/, "")}${path}?${params.toString()}`);
    const options: https.RequestOptions = {
      method: "GET",
      headers: {},
      ...(signal ? { signal } : {}),
    };
    // Token, CA, client certificate and the agent, as the generated clients get them.
    await this.kc.applyToHTTPSOptions(options);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = (url.protocol === "https:" ? https : http).request(url, options, resolve);
      request.on("error", (err) =>
        reject(new LogUnavailableError(`the Kubernetes API could not be reached: ${err.message}`)),
      );
      request.end();
    });
    if (res.statusCode === 200) return res;
    const body = (await readAll(res)).subarray(0, MAX_ERROR_BODY).toString("utf8");
    let message = body;
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      // not a Status: keep the text
    }
    if (res.statusCode === 404) return undefined;
    if (
      res.statusCode === 400 &&
      /waiting to start|ContainerCreating|PodInitializing/.test(message)
    ) {
      return undefined;
    }
    throw new LogUnavailableError(`Kubernetes API ${res.statusCode ?? "?"}: ${message}`);
  }
}

async function readAll(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
