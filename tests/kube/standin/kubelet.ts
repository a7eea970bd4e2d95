// The stand-in's one node: binds new pods to itself, then runs each container as a local
// process (container-process.ts) and reports pod status back through the store, as a kubelet
// does through the API. A deleted pod's processes get SIGTERM, then SIGKILL after the grace
// period; the pod object goes away once they are gone and no finalizer holds it.
import { readFileSync } from "node:fs";
import { isAbsolute } from "node:path";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import {
  ContainerConfigError,
  containerArgv,
  containerEnv,
  findImage,
  type ImageConfig,
} from "./container-env.js";
import { ContainerProcess, type ContainerExit } from "./container-process.js";
import type { LogBuffer } from "./log-buffer.js";
import { keyOf, now, objectKey, type KubeObject, type Writable } from "./objects.js";
import {
  containerStatus,
  newContainerID,
  podConditions,
  podPhase,
  type ContainerView,
  type TerminatedState,
} from "./pod-status.js";
import type { ObjectStore } from "./store.js";
import { Timers, WorkQueue } from "./work-queue.js";

export interface KubeletOptions {
  images: Record<string, ImageConfig>;
  nodeName: string;
  /** Caps every graceful stop (deletion, deadline), whatever the pod asks for. */
  maxGracePeriodSeconds: number | undefined;
  /** First restart delay for OnFailure/Always containers; doubles up to 10x. */
  restartBackoffMs: number;
  /** How often a pod blocked on an image or a missing Secret tries again. */
  retryMs: number;
  onError: (err: unknown) => void;
}

interface Slot {
  spec: Container;
  process?: ContainerProcess;
  previous?: ContainerProcess;
  restartCount: number;
  state: ContainerView["state"];
  lastState?: ContainerView["state"];
  containerID?: string;
  restartTimer?: NodeJS.Timeout;
  /** Failed pulls so far, and when the next one may happen (the kubelet's image backoff). */
  pullFailures: number;
  nextPullAt?: number;
  /** Will not run (again): exited under its restart policy, or stopped. */
  done: boolean;
}

interface PodRun {
  uid: string;
  namespace: string;
  name: string;
  slots: Slot[];
  podIP: string;
  startTime: string;
  stopping: boolean;
  /** Every process gone and the final status written. */
  finished: boolean;
  retryTimer?: NodeJS.Timeout;
}

export class Kubelet {
  private readonly runs = new Map<string, PodRun>();
  private readonly timers = new Timers();
  private readonly queue: WorkQueue;
  private nextIP = 2;
  private unsubscribe: () => void = () => undefined;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: KubeletOptions,
  ) {
    this.queue = new WorkQueue(
      (key) => this.sync(key),
      (err) => options.onError(err),
    );
  }

  start(): void {
    this.unsubscribe = this.store.subscribe((event) => {
      if (event.resource === "pods") this.queue.add(keyOf(event.object));
      // A Secret that appears may unblock a pod waiting in CreateContainerConfigError.
      if (event.resource === "secrets") for (const key of this.runs.keys()) this.queue.add(key);
    });
  }

  /** SIGKILL to every process group this kubelet started, and wait for them to be gone. */
  async stop(): Promise<void> {
    this.unsubscribe();
    this.queue.stop();
    this.timers.clearAll();
    const exits: Promise<ContainerExit>[] = [];
    for (const run of this.runs.values()) {
      run.stopping = true;
      for (const slot of run.slots) if (slot.process) exits.push(slot.process.stop(0));
    }
    await Promise.all(exits);
  }

  /** Whether the pod's containers are all stopped and its final status written. */
  canRemove(namespace: string, name: string, uid: string): boolean {
    const run = this.runs.get(objectKey(namespace, name));
    return !run || run.uid !== uid || run.finished;
  }

  processes(
    namespace: string,
    name: string,
  ): { container: string; pid: number | undefined; running: boolean }[] {
    const run = this.runs.get(objectKey(namespace, name));
    return (run?.slots ?? []).map((s) => ({
      container: s.spec.name,
      pid: (s.process ?? s.previous)?.pid,
      running: s.process?.running ?? false,
    }));
  }

  logOf(
    namespace: string,
    name: string,
    container: string,
    previous: boolean,
  ): LogBuffer | undefined {
    const slot = this.runs
      .get(objectKey(namespace, name))
      ?.slots.find((s) => s.spec.name === container);
    return (previous ? slot?.previous : slot?.process)?.log;
  }

  /** Makes a container's process exit as if it crashed (or was OOM-killed, with SIGKILL). */
  signal(
    namespace: string,
    name: string,
    container: string | undefined,
    signal: NodeJS.Signals,
  ): boolean {
    const run = this.runs.get(objectKey(namespace, name));
    const slot = run?.slots.find((s) => container === undefined || s.spec.name === container);
    if (!slot?.process?.running) return false;
    slot.process.signal(signal);
    return true;
  }

  private sync(key: string): void {
    const [namespace = "", name = ""] = key.split("/");
    const pod = this.store.get("pods", namespace, name) as (KubeObject & Writable<Pod>) | undefined;
    let run = this.runs.get(key);
    if (run && (!pod || pod.metadata.uid !== run.uid)) {
      // Removed from the API (force deletion) or replaced: nothing may keep running.
      this.abandon(run);
      run = undefined;
    }
    if (!pod || (run?.finished && !pod.metadata.deletionTimestamp)) return;
    if (!pod.spec?.nodeName) {
      this.bind(pod);
      return;
    }
    if (!run) {
      const phase = pod.status?.phase;
      if (phase === "Succeeded" || phase === "Failed") return;
      run = this.admit(pod);
    }
    if (pod.metadata.deletionTimestamp && !run.stopping) this.stopRun(run, pod);
    if (!run.stopping) this.startContainers(run, pod);
    this.writeStatus(run);
  }

  private bind(pod: KubeObject & Writable<Pod>): void {
    pod.spec = {
      ...pod.spec,
      containers: pod.spec?.containers ?? [],
      nodeName: this.options.nodeName,
    };
    pod.status = {
      ...pod.status,
      conditions: [
        {
          type: "PodScheduled",
          status: "True",
          lastProbeTime: null as unknown as string,
          lastTransitionTime: now(),
        },
      ],
    };
    this.store.update("pods", pod);
  }

  private admit(pod: KubeObject & Writable<Pod>): PodRun {
    const run: PodRun = {
      uid: pod.metadata.uid ?? "",
      namespace: pod.metadata.namespace ?? "",
      name: pod.metadata.name ?? "",
      slots: (pod.spec?.containers ?? []).map((spec) => ({
        spec,
        restartCount: 0,
        pullFailures: 0,
        state: { waiting: { reason: "ContainerCreating" } },
        done: false,
      })),
      podIP: `10.244.0.${this.nextIP++ % 250}`,
      startTime: now(),
      stopping: false,
      finished: false,
    };
    this.runs.set(keyOf(pod), run);
    return run;
  }

  private startContainers(run: PodRun, pod: KubeObject & Writable<Pod>): void {
    let blocked = false;
    for (const slot of run.slots) {
      if (slot.process?.running || slot.done || slot.restartTimer) continue;
      const image = findImage(this.options.images, slot.spec.image ?? "");
      if (!image) {
        blocked = true;
        if (slot.nextPullAt !== undefined && Date.now() < slot.nextPullAt) continue;
        slot.pullFailures++;
        slot.state = { waiting: this.pullFailure(slot) };
        const backoff = this.options.retryMs * 2 ** (slot.pullFailures - 1);
        slot.nextPullAt = Date.now() + Math.min(backoff, this.options.retryMs * 10);
        continue;
      }
      try {
        const env = containerEnv(slot.spec, pod, image, (ns, n) =>
          this.store.get("secrets", ns, n),
        );
        const argv = containerArgv(slot.spec, image, env);
        if (argv.length === 0)
          throw new ContainerConfigError("CreateContainerError", "no command specified");
        this.launch(run, slot, argv, image.workingDir, env);
      } catch (err) {
        if (!(err instanceof ContainerConfigError)) throw err;
        blocked = true;
        slot.state = { waiting: { reason: err.reason, message: err.message } };
      }
    }
    this.timers.cancel(run.retryTimer);
    run.retryTimer = blocked
      ? this.timers.after(this.options.retryMs, () =>
          this.queue.add(objectKey(run.namespace, run.name)),
        )
      : undefined;
  }

  /** The first failed pull shows ErrImagePull; while the kubelet backs off, ImagePullBackOff. */
  private pullFailure(slot: Slot): { reason: string; message: string } {
    const image = slot.spec.image ?? "";
    if (slot.spec.imagePullPolicy === "Never") {
      return {
        reason: "ErrImageNeverPull",
        message: `Container image "${image}" is not present with pull policy of Never`,
      };
    }
    if (slot.pullFailures > 1) {
      return { reason: "ImagePullBackOff", message: `Back-off pulling image "${image}"` };
    }
    return {
      reason: "ErrImagePull",
      message:
        `failed to pull and unpack image "${image}": failed to resolve reference "${image}": ` +
        "pull access denied, repository does not exist or may require authorization " +
        "(stand-in: no such image configured)",
    };
  }

  private launch(
    run: PodRun,
    slot: Slot,
    argv: string[],
    cwd: string,
    env: Record<string, string>,
  ): void {
    if (slot.process) slot.previous = slot.process;
    const proc = new ContainerProcess(argv, cwd, env);
    slot.process = proc;
    slot.containerID = newContainerID(`${run.uid}/${slot.spec.name}/${slot.restartCount}`);
    slot.state = { running: { startedAt: now() } };
    void proc.exited
      .then((exit) => {
        if (slot.process !== proc) return;
        this.onExit(run, slot, proc, exit);
      })
      .catch((err: unknown) => this.options.onError(err));
  }

  private onExit(run: PodRun, slot: Slot, proc: ContainerProcess, exit: ContainerExit): void {
    const terminated: TerminatedState = {
      exitCode: exit.exitCode,
      ...(exit.signal ? { signal: exit.exitCode - 128 } : {}),
      reason: exit.startError ? "StartError" : exit.exitCode === 0 ? "Completed" : "Error",
      startedAt: proc.startedAt.toISOString().replace(/\.\d{3}Z$/, "Z"),
      finishedAt: now(),
      containerID: slot.containerID ?? "",
    };
    const message = exit.startError ?? terminationMessage(slot.spec, proc, exit.exitCode);
    if (message) terminated.message = message;
    slot.state = { terminated };
    const policy = this.store.get("pods", run.namespace, run.name)?.spec as Pod["spec"] | undefined;
    const restartPolicy = policy?.restartPolicy ?? "Always";
    const restarts =
      !run.stopping &&
      (restartPolicy === "Always" || (restartPolicy === "OnFailure" && exit.exitCode !== 0));
    if (restarts) {
      const delay = Math.min(
        this.options.restartBackoffMs * 2 ** slot.restartCount,
        this.options.restartBackoffMs * 10,
      );
      slot.lastState = { terminated };
      slot.state = {
        waiting: {
          reason: "CrashLoopBackOff",
          message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${slot.spec.name} pod=${run.name}_${run.namespace}(${run.uid})`,
        },
      };
      slot.restartTimer = this.timers.after(delay, () => {
        slot.restartTimer = undefined;
        slot.restartCount++;
        this.queue.add(objectKey(run.namespace, run.name));
      });
    } else slot.done = true;
    this.writeStatus(run);
  }

  private stopRun(run: PodRun, pod: KubeObject & Writable<Pod>): void {
    run.stopping = true;
    this.timers.cancel(run.retryTimer);
    const asked =
      pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    const cap = this.options.maxGracePeriodSeconds;
    const graceMs = Math.min(asked, cap ?? asked) * 1000;
    for (const slot of run.slots) {
      this.timers.cancel(slot.restartTimer);
      slot.restartTimer = undefined;
      if (slot.process?.running) void slot.process.stop(graceMs);
      else slot.done = true;
    }
  }

  private abandon(run: PodRun): void {
    this.timers.cancel(run.retryTimer);
    for (const slot of run.slots) {
      this.timers.cancel(slot.restartTimer);
      void slot.process?.stop(0);
    }
    this.runs.delete(objectKey(run.namespace, run.name));
  }

  private writeStatus(run: PodRun): void {
    const pod = this.store.get("pods", run.namespace, run.name) as
      (KubeObject & Writable<Pod>) | undefined;
    if (!pod || pod.metadata.uid !== run.uid) return;
    const views: ContainerView[] = run.slots.map((s) => ({
      name: s.spec.name,
      image: s.spec.image ?? "",
      state: s.state,
      ...(s.lastState ? { lastState: s.lastState } : {}),
      restartCount: s.restartCount,
      ...(s.containerID && !("waiting" in s.state) ? { containerID: s.containerID } : {}),
    }));
    const phase = podPhase(
      views,
      run.slots.map((s) => s.done),
    );
    const started = phase !== "Pending" || views.some((v) => "running" in v.state);
    const terminal = phase === "Succeeded" || phase === "Failed";
    run.finished = terminal && run.slots.every((s) => !s.process?.running);
    pod.status = {
      ...pod.status,
      phase,
      conditions: podConditions(pod.status?.conditions, phase, views),
      hostIP: "172.18.0.2",
      hostIPs: [{ ip: "172.18.0.2" }],
      ...(started ? { podIP: run.podIP, podIPs: [{ ip: run.podIP }] } : {}),
      startTime: run.startTime,
      containerStatuses: views.map(containerStatus) as never,
      qosClass: pod.status?.qosClass ?? "BestEffort",
    };
    this.store.update("pods", pod);
  }
}

/** The container's termination message: its file, else (policy permitting) its log's tail. */
function terminationMessage(
  spec: Container,
  proc: ContainerProcess,
  exitCode: number,
): string | undefined {
  const path = spec.terminationMessagePath ?? "/dev/termination-log";
  let message = "";
  // The default path does not exist on the host; any other absolute path is read as given.
  if (path !== "/dev/termination-log" && isAbsolute(path)) {
    try {
      message = readFileSync(path).subarray(0, 4096).toString("utf8");
    } catch {
      message = "";
    }
  }
  if (!message && exitCode !== 0 && spec.terminationMessagePolicy === "FallbackToLogsOnError") {
    message = proc.log.tail(80, 2048);
  }
  return message || undefined;
}
