// The webhook client's inbox: what arrived at POST /callback, once per webhook-id.
import type { Queryable } from "../db/queryable.js";

export interface ReceivedCallback {
  webhookId: string;
  receivedAt: Date;
  verified: boolean;
  body: unknown;
}

interface Row {
  webhook_id: string;
  received_at: Date;
  verified: boolean;
  body: unknown;
}

/** Stores a callback; false when this webhook-id was already received (a retry or replay). */
export async function recordCallback(
  sql: Queryable,
  webhookId: string,
  verified: boolean,
  /** The body as received (JSON text): stored as it came, key order and all. */
  body: string,
): Promise<{ stored: boolean; receivedAt: Date }> {
  const rows = await sql<{ received_at: Date }[]>`
    INSERT INTO webhook_callbacks (webhook_id, verified, body)
    VALUES (${webhookId}, ${verified}, ${body}::text::json)
    ON CONFLICT (webhook_id) DO NOTHING
    RETURNING received_at`;
  const row = rows[0];
  return row
    ? { stored: true, receivedAt: row.received_at }
    : { stored: false, receivedAt: new Date() };
}

export async function listCallbacks(sql: Queryable, limit: number): Promise<ReceivedCallback[]> {
  const rows = await sql<Row[]>`
    SELECT webhook_id, received_at, verified, body FROM webhook_callbacks
     ORDER BY seq DESC LIMIT ${limit}`;
  return rows.map((r) => ({
    webhookId: r.webhook_id,
    receivedAt: r.received_at,
    verified: r.verified,
    body: r.body,
  }));
}
