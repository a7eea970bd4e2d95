// Pod status as the kubelet reports it (1.29+): phase, the five pod conditions with stable
// transition times, and one containerStatus per container.
import { createHash } from "node:crypto";
import type { PodCondition } from "kubernetes-types/core/v1.js";
import { now } from "./objects.js";

export type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: TerminatedState };

export interface TerminatedState {
  exitCode: number;
  signal?: number;
  reason: string;
  message?: string;
  startedAt: string;
  finishedAt: string;
  containerID: string;
}

export interface ContainerView {
  name: string;
  image: string;
  state: ContainerState;
  lastState?: ContainerState;
  restartCount: number;
  containerID?: string;
}

export type Phase = "Pending" | "Running" | "Succeeded" | "Failed";

export function imageID(image: string): string {
  const digest = createHash("sha256").update(image).digest("hex");
  return `${image.split(":")[0] ?? image}@sha256:${digest}`;
}

export function newContainerID(seed: string): string {
  return `containerd://${createHash("sha256").update(`${seed}:${Math.random()}`).digest("hex")}`;
}

export function containerStatus(view: ContainerView): Record<string, unknown> {
  const running = "running" in view.state;
  const started = running || "terminated" in view.state;
  return {
    name: view.name,
    image: view.image,
    imageID: started || view.lastState ? imageID(view.image) : "",
    ...(view.containerID ? { containerID: view.containerID } : {}),
    ready: running,
    started: running,
    restartCount: view.restartCount,
    state: view.state,
    lastState: view.lastState ?? {},
  };
}

interface Wanted {
  type: string;
  status: "True" | "False";
  reason?: string;
  message?: string;
}

/** Conditions for the phase; a condition keeps its lastTransitionTime while its status holds. */
export function podConditions(
  previous: PodCondition[] | undefined,
  phase: Phase,
  views: ContainerView[],
): PodCondition[] {
  const terminal = phase === "Succeeded" || phase === "Failed";
  const unready = views.filter((v) => !("running" in v.state)).map((v) => v.name);
  const ready: Wanted = terminal
    ? { type: "Ready", status: "False", reason: "PodCompleted" }
    : unready.length === 0
      ? { type: "Ready", status: "True" }
      : {
          type: "Ready",
          status: "False",
          reason: "ContainersNotReady",
          message: `containers with unready status: [${unready.join(" ")}]`,
        };
  const wanted: Wanted[] = [
    { type: "PodReadyToStartContainers", status: terminal ? "False" : "True" },
    { type: "Initialized", status: "True", ...(terminal ? { reason: "PodCompleted" } : {}) },
    ready,
    { ...ready, type: "ContainersReady" },
    { type: "PodScheduled", status: "True" },
  ];
  return wanted.map((w) => {
    const before = previous?.find((c) => c.type === w.type);
    const lastTransitionTime =
      before && before.status === w.status ? before.lastTransitionTime : now();
    return {
      type: w.type,
      status: w.status,
      lastProbeTime: null as unknown as string,
      lastTransitionTime,
      ...(w.reason ? { reason: w.reason } : {}),
      ...(w.message ? { message: w.message } : {}),
    };
  });
}

/** The phase from the containers: terminal once none will run again (restartPolicy decides). */
export function podPhase(views: ContainerView[], finished: boolean[]): Phase {
  if (views.length > 0 && finished.every(Boolean)) {
    const allZero = views.every(
      (v) => "terminated" in v.state && v.state.terminated.exitCode === 0,
    );
    return allZero ? "Succeeded" : "Failed";
  }
  const everStarted = views.some((v) => !("waiting" in v.state) || v.lastState !== undefined);
  return everStarted ? "Running" : "Pending";
}
