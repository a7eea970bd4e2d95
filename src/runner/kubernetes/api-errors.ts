// Kubernetes API errors, classified for what the controller does next: NotFound and
// AlreadyExists are the idempotent outcomes of a delete and a create; 429/5xx and network
// errors are retried with backoff; 401/403 are a configuration problem, reported as such.
import { setTimeout as sleep } from "node:timers/promises";

export type KubeErrorKind = "not_found" | "conflict" | "retryable" | "auth" | "invalid" | "other";

export interface KubeError {
  kind: KubeErrorKind;
  status: number | undefined;
  reason: string | undefined;
  message: string;
  retryAfterMs: number | undefined;
}

interface StatusBody {
  reason?: string;
  message?: string;
}

function statusBody(body: unknown): StatusBody {
  if (typeof body === "string") {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return { message: body };
    }
  }
  return typeof body === "object" && body !== null ? body : {};
}

export function classifyKubeError(err: unknown): KubeError {
  const e = err as { code?: unknown; body?: unknown; headers?: Record<string, string> };
  const status = typeof e.code === "number" ? e.code : undefined;
  const body = statusBody(e.body);
  const message = body.message ?? (err instanceof Error ? err.message : String(err));
  const retryAfter = Number(e.headers?.["retry-after"]);
  const base = {
    status,
    reason: body.reason,
    message,
    retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
  };
  if (status === undefined) return { kind: "retryable", ...base }; // no answer: network
  if (status === 404) return { kind: "not_found", ...base };
  if (status === 409) return { kind: "conflict", ...base };
  if (status === 401 || status === 403) return { kind: "auth", ...base };
  if (status === 422 || status === 400) return { kind: "invalid", ...base };
  if (status === 429 || status >= 500) return { kind: "retryable", ...base };
  return { kind: "other", ...base };
}

export class KubeApiError extends Error {
  constructor(
    readonly kube: KubeError,
    action: string,
  ) {
    super(`${action}: ${kube.status ?? "no answer"} ${kube.reason ?? ""} ${kube.message}`.trim());
    this.name = "KubeApiError";
  }
}

/**
 * Runs `call`, retrying 429, 5xx and network errors with exponential backoff (honouring
 * Retry-After), up to `attempts` times; any other error is thrown as a KubeApiError at once.
 */
export async function withRetry<T>(
  action: string,
  call: () => Promise<T>,
  opts: { attempts?: number; baseMs?: number; signal?: AbortSignal } = {},
): Promise<T> {
  const attempts = opts.attempts ?? 5;
  const baseMs = opts.baseMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const kube = classifyKubeError(err);
      if (kube.kind !== "retryable" || attempt >= attempts) throw new KubeApiError(kube, action);
      const backoff = Math.min(baseMs * 2 ** (attempt - 1), 10_000) * (1 + Math.random() / 2);
      await sleep(Math.max(backoff, kube.retryAfterMs ?? 0), undefined, { signal: opts.signal });
    }
  }
}
