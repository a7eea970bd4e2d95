// Job conditions and pod-failure-policy matching, as pkg/controller/job writes and reads them.
import type { JobCondition, JobSpec, PodFailurePolicyRule } from "kubernetes-types/batch/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import { now } from "./objects.js";

export const REASONS = {
  backoff: ["BackoffLimitExceeded", "Job has reached the specified backoff limit"],
  deadline: ["DeadlineExceeded", "Job was active longer than specified deadline"],
  completions: ["CompletionsReached", "Reached expected number of succeeded pods"],
} as const;

export function findCondition(conditions: JobCondition[], type: string): JobCondition | undefined {
  return conditions.find((c) => c.type === type && c.status === "True");
}

/**
 * Sets a condition (ensureJobConditionStatus): a changed status moves lastTransitionTime;
 * an unchanged one only refreshes reason and message. Returns whether anything changed.
 */
export function ensureCondition(
  conditions: JobCondition[],
  type: string,
  status: "True" | "False",
  reason: string,
  message: string,
): boolean {
  const existing = conditions.find((c) => c.type === type);
  const time = now();
  if (!existing) {
    if (status === "False") return false; // a False condition is only ever a flip of a True one
    conditions.push({
      type,
      status,
      lastProbeTime: time,
      lastTransitionTime: time,
      reason,
      message,
    });
    return true;
  }
  if (existing.status === status && existing.reason === reason && existing.message === message)
    return false;
  if (existing.status !== status) existing.lastTransitionTime = time;
  existing.status = status;
  existing.reason = reason;
  existing.message = message;
  existing.lastProbeTime = time;
  return true;
}

export interface PolicyMatch {
  /** Set when a FailJob rule matched: the Job's failure message. */
  failJobMessage?: string;
  /** False when an Ignore rule matched: the failure does not count towards backoffLimit. */
  counts: boolean;
}

function exitCodeMatches(
  rule: PodFailurePolicyRule,
  pod: Pod,
): { name: string; exitCode: number } | undefined {
  const req = rule.onExitCodes;
  if (!req) return undefined;
  for (const cs of pod.status?.containerStatuses ?? []) {
    const exitCode = cs.state?.terminated?.exitCode;
    if (exitCode === undefined || exitCode === 0) continue;
    if (req.containerName && req.containerName !== cs.name) continue;
    const listed = req.values.includes(exitCode);
    if ((req.operator === "In" && listed) || (req.operator === "NotIn" && !listed))
      return { name: cs.name, exitCode };
  }
  return undefined;
}

export function matchPodFailurePolicy(spec: JobSpec, pod: Pod): PolicyMatch {
  const rules = spec.podFailurePolicy?.rules ?? [];
  const where = `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
  for (const [index, rule] of rules.entries()) {
    let what: string | undefined;
    const byExit = exitCodeMatches(rule, pod);
    if (byExit) {
      what = `Container ${byExit.name} for pod ${where} failed with exit code ${byExit.exitCode}`;
    } else if (rule.onPodConditions) {
      const cond = (pod.status?.conditions ?? []).find((c) =>
        rule.onPodConditions?.some((p) => p.type === c.type && (p.status ?? "True") === c.status),
      );
      if (cond) what = `Pod ${where} has condition ${cond.type}`;
    }
    if (!what) continue;
    if (rule.action === "Ignore") return { counts: false };
    if (rule.action === "FailJob") {
      return { counts: true, failJobMessage: `${what} matching FailJob rule at index ${index}` };
    }
    return { counts: true };
  }
  return { counts: true };
}
