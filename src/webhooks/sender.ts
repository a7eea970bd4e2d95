// One delivery attempt over HTTP (undici): POST the signed body, never follow a redirect, read
// at most a few KiB of the answer, give up after the per-attempt timeout. The connection's
// address is checked by the callback policy as it is resolved (guardedLookup).
import { isIP } from "node:net";
import { Agent, request } from "undici";
import {
  addressRefusal,
  guardedLookup,
  RefusedAddressError,
  type CallbackPolicy,
} from "./url-policy.js";

/** What is read of a receiver's answer at most: enough for a log line, never a memory sink. */
export const MAX_RESPONSE_BYTES = 4096;

export interface SendResult {
  /** succeeded: any 2xx; gone: 410 (stop for good); failed: never worth a retry; retry: others. */
  outcome: "succeeded" | "retry" | "failed" | "gone";
  statusCode?: number;
  error?: string;
  /** From Retry-After on 429/503. */
  retryAfterMs?: number;
  durationMs: number;
}

export function httpAgent(policy: CallbackPolicy, timeoutMs: number): Agent {
  return new Agent({
    connect: { lookup: guardedLookup(policy), timeout: timeoutMs },
    // Deliveries to one slow receiver must not starve the others of sockets.
    connections: 8,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
}

export async function sendOnce(
  agent: Agent,
  policy: CallbackPolicy,
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<SendResult> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  // A literal IP never goes through the lookup: check it here.
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) {
    const refusal = addressRefusal(host, host, policy);
    if (refusal) return { outcome: "failed", error: `refused: ${refusal}`, durationMs: 0 };
  }
  try {
    const res = await request(url, {
      method: "POST",
      dispatcher: agent,
      headers: {
        "content-type": "application/json",
        "user-agent": "trainyard-webhooks/0.1",
        ...headers,
      },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await drain(res.body);
    const statusCode = res.statusCode;
    if (statusCode >= 200 && statusCode < 300) {
      return { outcome: "succeeded", statusCode, durationMs: elapsed() };
    }
    if (statusCode === 410) return { outcome: "gone", statusCode, durationMs: elapsed() };
    const retryAfterMs =
      statusCode === 429 || statusCode === 503
        ? parseRetryAfter(res.headers["retry-after"])
        : undefined;
    return {
      outcome: "retry",
      statusCode,
      durationMs: elapsed(),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  } catch (err) {
    const refused = hasCause(err, RefusedAddressError);
    return {
      outcome: refused ? "failed" : "retry",
      error: describe(err),
      durationMs: elapsed(),
    };
  }
}

async function drain(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<void> {
  let read = 0;
  for await (const chunk of body) {
    read += chunk.length;
    if (read >= MAX_RESPONSE_BYTES) {
      body.destroy();
      return;
    }
  }
}

/** Seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim()) * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function hasCause(err: unknown, type: typeof RefusedAddressError): boolean {
  let cause: unknown = err;
  for (let depth = 0; depth < 5; depth++) {
    if (cause instanceof type) return true;
    if (!(cause instanceof Error)) return false;
    cause = cause.cause;
  }
  return false;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === "TimeoutError" || err.name === "AbortError") return "timed out";
  const code = (err as { code?: string }).code;
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return `${code ? `${code} ` : ""}${err.message}${cause}`.slice(0, 500);
}
