// Standard Webhooks signatures (https://www.standardwebhooks.com): the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", HMAC-SHA256 with the secret's bytes, sent as
// "v1,<base64>". Several secrets sign at once (space-separated), so a receiver can rotate.
import { createHmac, timingSafeEqual } from "node:crypto";

export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
}

function signature(key: Buffer, id: string, timestamp: number, body: string): Buffer {
  return createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
}

export interface WebhookHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature"?: string;
}

/** The headers of one request; without secrets, id and timestamp only (still deduplicable). */
export function webhookHeaders(
  secrets: readonly string[],
  id: string,
  timestamp: number,
  body: string,
): WebhookHeaders {
  const headers: WebhookHeaders = {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
  };
  if (secrets.length > 0) {
    headers["webhook-signature"] = secrets
      .map((s) => `v1,${signature(keyOf(s), id, timestamp, body).toString("base64")}`)
      .join(" ");
  }
  return headers;
}

export type Verification =
  | { ok: true }
  | { ok: false; reason: "missing_headers" | "timestamp_out_of_range" | "bad_signature" };

/** Checks a received request against any of `secrets`, in constant time per candidate. */
export function verifyWebhook(
  secrets: readonly string[],
  headers: Record<string, string | string[] | undefined>,
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000),
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): Verification {
  const id = single(headers["webhook-id"]);
  const timestamp = single(headers["webhook-timestamp"]);
  const sent = single(headers["webhook-signature"]);
  if (!id || !timestamp || !sent || !/^\d{1,12}$/.test(timestamp)) {
    return { ok: false, reason: "missing_headers" };
  }
  const ts = Number(timestamp);
  if (Math.abs(nowSeconds - ts) > toleranceSeconds) {
    return { ok: false, reason: "timestamp_out_of_range" };
  }
  const candidates = sent
    .split(" ")
    .filter((part) => part.startsWith("v1,"))
    .map((part) => Buffer.from(part.slice(3), "base64"));
  for (const secret of secrets) {
    const expected = signature(keyOf(secret), id, ts, body);
    for (const candidate of candidates) {
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) {
        return { ok: true };
      }
    }
  }
  return { ok: false, reason: "bad_signature" };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
