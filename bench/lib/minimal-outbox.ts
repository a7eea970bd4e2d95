// The baseline of the webhook figures: the least a correct Postgres-outbox dispatcher must do
// per delivery, written plainly. Woken by the same NOTIFY (trainyard_webhook, from the same
// trigger), `concurrency` loops each claim one due delivery (FOR UPDATE SKIP LOCKED, leased,
// attempt counted), read its payload (task + model in one query), POST it with an undici Agent
// configured as the service's, and record the attempt and the outcome in one statement. Three
// round trips and two commits per delivery; no retries (the receiver always answers 200).
import { Agent, request } from "undici";
import type { Sql } from "../../src/db/connect.js";

interface Claimed {
  id: string;
  task_id: string;
  url: string;
}

interface PayloadRow {
  id: string;
  created_at: Date;
  finished_at: Date | null;
  status: string;
  error: unknown;
  summary: unknown;
}

export class MinimalOutbox {
  private stopped = false;
  private generation = 0;
  private waiters: (() => void)[] = [];
  private loops: Promise<void>[] = [];
  private unlisten: (() => Promise<void>) | undefined;
  readonly agent: Agent;

  constructor(
    private readonly sql: Sql,
    private readonly concurrency = 16,
  ) {
    // As src/webhooks/sender.ts builds its Agent: 8 connections per origin.
    this.agent = new Agent({ connections: 8, headersTimeout: 10_000, bodyTimeout: 10_000 });
  }

  async start(): Promise<void> {
    const meta = await this.sql.listen("trainyard_webhook", () => this.kick());
    this.unlisten = () => meta.unlisten();
    this.loops = Array.from({ length: this.concurrency }, () => this.loop());
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.kick();
    await this.unlisten?.();
    await Promise.all(this.loops);
    await this.agent.close();
  }

  private kick(): void {
    this.generation++;
    for (const wake of this.waiters.splice(0)) wake();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const seen = this.generation;
      const claimed = await this.claim();
      if (claimed) {
        await this.deliver(claimed);
        continue;
      }
      // Nothing due: sleep until the next NOTIFY (unless one came while we were claiming).
      if (seen === this.generation && !this.stopped) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
      }
    }
  }

  private async claim(): Promise<Claimed | undefined> {
    const rows = await this.sql<Claimed[]>`
      UPDATE webhook_deliveries d
         SET locked_by = 'bench-minimal', locked_until = now() + interval '30 seconds',
             attempts = attempts + 1
       WHERE d.id = (
         SELECT id FROM webhook_deliveries
          WHERE state = 'pending' AND next_attempt_at <= now()
            AND (locked_until IS NULL OR locked_until < now())
          ORDER BY next_attempt_at
          LIMIT 1
          FOR UPDATE SKIP LOCKED)
      RETURNING d.id, d.task_id, d.url`;
    return rows[0];
  }

  private async deliver(d: Claimed): Promise<void> {
    const [row] = await this.sql<PayloadRow[]>`
      SELECT t.id, t.created_at, t.finished_at, t.status, t.error, m.summary
        FROM tasks t LEFT JOIN models m ON m.task_id = t.id
       WHERE t.id = ${d.task_id}`;
    if (!row) return;
    const body = JSON.stringify({
      id: row.id,
      created_at: row.created_at.toISOString(),
      finished_at: row.finished_at?.toISOString() ?? null,
      status: row.status,
      ...(row.status === "completed" ? { result: row.summary } : { error: row.error }),
    });
    const startedAt = new Date();
    const t0 = performance.now();
    const res = await request(d.url, {
      method: "POST",
      dispatcher: this.agent,
      headers: { "content-type": "application/json", "webhook-id": d.id },
      body,
    });
    await res.body.dump();
    const ms = Math.round(performance.now() - t0);
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    await this.sql`
      WITH attempt AS (
        INSERT INTO webhook_attempts
          (delivery_id, attempt, started_at, duration_ms, status_code, error, outcome)
        VALUES (${d.id}, 1, ${startedAt}, ${ms}, ${res.statusCode}, ${null},
                ${ok ? "succeeded" : "failed"}))
      UPDATE webhook_deliveries
         SET state = ${ok ? "succeeded" : "failed"}, finished_at = now(),
             locked_by = NULL, locked_until = NULL
       WHERE id = ${d.id}`;
  }
}
