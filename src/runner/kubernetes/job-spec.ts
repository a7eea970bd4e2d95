// The batch/v1 Job that runs one task: what a cluster operator would want of it. Built as a
// typed V1Job (the client drops fields its models do not know, so the compiler must).
import type { V1Job, V1PodSpec } from "@kubernetes/client-node";
import type { KubernetesConfig } from "../../config.js";
import type { Task } from "../../tasks/task.js";
import { EXIT } from "../exit-codes.js";

export const CONTAINER_NAME = "train";
export const TASK_ID_LABEL = "trainyard.dev/task-id";

export function jobName(config: Pick<KubernetesConfig, "jobPrefix">, taskId: string): string {
  return `${config.jobPrefix}-${taskId.toLowerCase()}`;
}

/** The labels that select this installation's training Jobs (and nothing else). */
export function selectorLabels(config: Pick<KubernetesConfig, "instance">): Record<string, string> {
  return {
    "app.kubernetes.io/name": "trainyard",
    "app.kubernetes.io/instance": config.instance,
    "app.kubernetes.io/component": "training",
  };
}

export function labelSelector(config: Pick<KubernetesConfig, "instance">): string {
  return Object.entries(selectorLabels(config))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

export interface JobSettings {
  /** Seconds the run may take before the Job is failed with DeadlineExceeded. */
  timeoutSeconds: number;
  logLevel: string;
  datasetPath: string | undefined;
  /** How long the worker keeps trying to record its outcome while the database refuses. */
  writePatienceSeconds: number;
}

export function buildJob(task: Task, config: KubernetesConfig, settings: JobSettings): V1Job {
  if (!config.image) throw new Error("TRAINYARD_WORKER_IMAGE is required by the Kubernetes runner");
  const labels = {
    ...selectorLabels(config),
    "app.kubernetes.io/managed-by": "trainyard-controller",
    [TASK_ID_LABEL]: task.id,
    ...(config.kueueQueueName ? { "kueue.x-k8s.io/queue-name": config.kueueQueueName } : {}),
  };
  const env = [
    // Never inline: the URL carries the database password.
    {
      name: "DATABASE_URL",
      valueFrom: {
        secretKeyRef: { name: config.databaseSecretName, key: config.databaseSecretKey },
      },
    },
    { name: "LOG_LEVEL", value: settings.logLevel },
    { name: "NODE_ENV", value: "production" },
    { name: "TRAINYARD_DATA_DIR", value: "/tmp/trainyard" },
    {
      name: "TRAINYARD_WORKER_WRITE_PATIENCE_SECONDS",
      value: String(settings.writePatienceSeconds),
    },
    ...(settings.datasetPath
      ? [{ name: "TRAINYARD_DATASET_PATH", value: settings.datasetPath }]
      : []),
  ];
  const pod: V1PodSpec = {
    restartPolicy: "Never",
    automountServiceAccountToken: false,
    // Service links would inject e.g. TRAINYARD_WEBHOOK_PORT=tcp://... for a release named
    // "trainyard", which the worker's config rightly refuses.
    enableServiceLinks: false,
    ...(config.serviceAccountName ? { serviceAccountName: config.serviceAccountName } : {}),
    securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
    containers: [
      {
        name: CONTAINER_NAME,
        image: config.image,
        imagePullPolicy: config.imagePullPolicy,
        // The image's WORKDIR is /app: the same entrypoint as every app, the worker command.
        command: ["node", "dist/src/main.js", "worker", task.id],
        env,
        resources: {
          requests: { cpu: config.cpuRequest, memory: config.memoryRequest },
          limits: { cpu: config.cpuLimit, memory: config.memoryLimit },
        },
        securityContext: {
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        },
        // A failed run's last log lines become the pod's termination message, which the
        // controller copies into the task's error.
        terminationMessagePolicy: "FallbackToLogsOnError",
        volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
      },
    ],
    volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
    ...(Object.keys(config.nodeSelector).length > 0 ? { nodeSelector: config.nodeSelector } : {}),
    ...(config.tolerations.length > 0 ? { tolerations: config.tolerations as never } : {}),
    ...(config.priorityClassName ? { priorityClassName: config.priorityClassName } : {}),
    ...(config.imagePullSecrets.length > 0
      ? { imagePullSecrets: config.imagePullSecrets.map((name) => ({ name })) }
      : {}),
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: jobName(config, task.id),
      labels,
      annotations: { "trainyard.dev/task-seq": String(task.seq) },
    },
    spec: {
      // Retrying a failed training is the task's policy, not the pod's.
      backoffLimit: config.backoffLimit,
      activeDeadlineSeconds: settings.timeoutSeconds,
      ttlSecondsAfterFinished: config.ttlSecondsAfterFinished,
      ...(config.kueueQueueName ? { suspend: true } : {}),
      podFailurePolicy: {
        rules: [
          // The training itself failed: no retry would change that, and the reason says so.
          {
            action: "FailJob",
            onExitCodes: {
              containerName: CONTAINER_NAME,
              operator: "In",
              values: [EXIT.failed],
            },
          },
          // Evicted or preempted: not the run's fault, do not count it against backoffLimit.
          { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
        ],
      },
      template: { metadata: { labels }, spec: pod },
    },
  };
}
