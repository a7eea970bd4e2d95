// Sends the outbox's deliveries. Woken by NOTIFY trainyard_webhook (a task became terminal, or a
// redelivery), by a timer set to the next claimable delivery, and by a slow resync. Each claimed
// delivery runs its own retry loop (p-retry) under a lease, so a slow receiver only ever holds
// its own deliveries; several dispatchers (controller replicas) share the work with SKIP LOCKED.
// At-least-once: an attempt is recorded after it is sent, so a crash in between repeats it,
// with the same webhook-id, which receivers deduplicate on.
import { randomUUID } from "node:crypto";
import pRetry, { AbortError } from "p-retry";
import type { Logger } from "pino";
import type { WebhookConfig } from "../config.js";
import type { Pool } from "../db/queryable.js";
import { webhookAttempts } from "../metrics/registry.js";
import {
  beginAttempt,
  claimDue,
  markFailed,
  nextClaimableAt,
  recordAttempt,
  release,
  WEBHOOK_CHANNEL,
  type ClaimedDelivery,
  type DeliveryState,
} from "./outbox.js";
import { callbackPayload } from "./payload.js";
import { httpAgent, sendOnce, type SendResult } from "./sender.js";
import { webhookHeaders } from "./signing.js";

/** Time a lease covers beyond the attempt and the wait: database round trips, a busy loop. */
const LEASE_MARGIN_MS = 10_000;

class RetryableDelivery extends Error {
  constructor(readonly result: SendResult) {
    super(result.error ?? `HTTP ${result.statusCode ?? "?"}`);
  }
}

export interface DispatcherOptions {
  resyncMs: number;
}

export class WebhookDispatcher {
  private readonly owner = `dispatcher-${randomUUID()}`;
  private readonly agent;
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly stopping = new AbortController();
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly sql: Pool,
    private readonly config: WebhookConfig,
    private readonly options: DispatcherOptions,
    private readonly log: Logger,
  ) {
    this.agent = httpAgent(this.policy, config.timeoutSeconds * 1000);
  }

  private get policy() {
    return { blockPrivate: this.config.blockPrivate, allowedHosts: this.config.allowedHosts };
  }

  async start(): Promise<void> {
    const meta = await this.sql.listen(
      WEBHOOK_CHANNEL,
      () => this.kick(),
      // First LISTEN and every reconnect: notifications may have been missed meanwhile.
      () => this.kick(),
    );
    this.unlisten = () => meta.unlisten();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.unlisten?.().catch(() => undefined);
    await Promise.allSettled(this.inflight.values());
    await this.agent.close().catch(() => undefined);
  }

  /** Claims what is due, as often as asked, never two claim loops at once. */
  kick(): void {
    if (this.stopping.signal.aborted) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.claimLoop()
      .catch((err: unknown) => {
        this.log.warn({ err }, "webhooks: claiming deliveries failed; retrying at the resync");
      })
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async claimLoop(): Promise<void> {
    for (;;) {
      if (this.stopping.signal.aborted) return;
      const free = this.config.concurrency - this.inflight.size;
      // Every slot busy: nothing could be claimed before one of them ends, and its end kicks
      // a claim loop. No timer is needed, so the next-claimable read is saved, which on a
      // backlog is every loop (one per delivery).
      if (free <= 0) return;
      const claimed = await claimDue(this.sql, this.owner, free, this.leaseMs(0));
      for (const delivery of claimed) this.track(delivery);
      if (claimed.length < free) break;
    }
    await this.scheduleNext();
  }

  private async scheduleNext(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    const at = await nextClaimableAt(this.sql);
    const wait = at ? Math.max(0, at.getTime() - Date.now()) + 20 : this.options.resyncMs;
    this.timer = setTimeout(() => this.kick(), Math.min(wait, this.options.resyncMs));
    this.timer.unref();
  }

  private track(delivery: ClaimedDelivery): void {
    const run = this.deliver(delivery)
      .catch((err: unknown) => {
        this.log.warn({ err, delivery_id: delivery.id }, "webhooks: delivery interrupted");
        return release(this.sql, delivery.id, this.owner).catch(() => undefined);
      })
      .finally(() => {
        this.inflight.delete(delivery.id);
        this.kick();
      });
    this.inflight.set(delivery.id, run);
  }

  private leaseMs(waitMs: number): number {
    return this.config.timeoutSeconds * 1000 + waitMs + LEASE_MARGIN_MS;
  }

  private baseDelayMs(attempt: number): number {
    return backoffDelayMs(this.config, attempt);
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const log = this.log.child({ task_id: delivery.taskId, delivery_id: delivery.id });
    const limit = delivery.maxAttempts ?? this.config.maxAttempts;
    let attempts = delivery.attempts;
    if (attempts >= limit) {
      await markFailed(this.sql, delivery.id, this.owner);
      return;
    }
    if (!delivery.source) return; // the task was deleted, and its delivery with it
    const body = JSON.stringify(callbackPayload(delivery.source));
    const exponential = this.config.backoff === "exponential";
    let retryAfterMs = 0;

    await pRetry(
      async () => {
        if (!(await beginAttempt(this.sql, delivery.id, this.owner, attempts, this.leaseMs(0)))) {
          throw new AbortError("the delivery is no longer ours (lease lost or already attempted)");
        }
        attempts += 1;
        const startedAt = new Date();
        const headers = webhookHeaders(
          this.config.signingSecrets,
          delivery.id,
          Math.floor(startedAt.getTime() / 1000),
          body,
        );
        const result = await sendOnce(
          this.agent,
          this.policy,
          delivery.url,
          body,
          { ...headers },
          this.config.timeoutSeconds * 1000,
        );
        const last = attempts >= limit;
        const state: DeliveryState =
          result.outcome === "succeeded"
            ? "succeeded"
            : result.outcome === "gone"
              ? "gone"
              : result.outcome === "failed" || last
                ? "failed"
                : "pending";
        retryAfterMs = Math.min(result.retryAfterMs ?? 0, this.config.backoffMaxSeconds * 1000);
        const waitMs = Math.max(this.baseDelayMs(attempts), retryAfterMs);
        await recordAttempt(
          this.sql,
          delivery.id,
          this.owner,
          {
            attempt: attempts,
            startedAt,
            durationMs: result.durationMs,
            statusCode: result.statusCode,
            error: result.error,
            outcome: state === "pending" ? "retry" : state,
          },
          // Jitter can double an exponential wait: the lease covers the longest one.
          { state, nextDelayMs: waitMs, leaseMs: this.leaseMs(exponential ? 2 * waitMs : waitMs) },
        );
        webhookAttempts.inc({ outcome: state === "pending" ? "retry" : state });
        log.info(
          {
            attempt: attempts,
            status_code: result.statusCode,
            error: result.error,
            duration_ms: result.durationMs,
            state,
            target: redact(delivery.url),
          },
          "webhook attempt",
        );
        if (state === "pending") throw new RetryableDelivery(result);
      },
      {
        retries: limit - attempts - 1,
        // p-retry counts from this run's first attempt; a resumed delivery continues the schedule.
        minTimeout: this.baseDelayMs(attempts + 1),
        factor: exponential ? 2 : 1,
        maxTimeout: this.config.backoffMaxSeconds * 1000,
        randomize: exponential,
        signal: this.stopping.signal,
        onFailedAttempt: async ({ error }) => {
          if (!(error instanceof RetryableDelivery)) throw error;
          // Honour Retry-After: wait out whatever it asks beyond the backoff p-retry adds.
          const extra = retryAfterMs - this.baseDelayMs(attempts);
          if (extra > 0) await sleep(extra, this.stopping.signal);
        },
      },
    ).catch((err: unknown) => {
      if (err instanceof RetryableDelivery) return; // the last attempt, already recorded failed
      throw err;
    });
  }
}

/**
 * The wait after attempt number `attempt` (1-based) failed, before jitter: fixed, or doubling
 * from backoffSeconds up to backoffMaxSeconds. p-retry applies the same schedule (factor 2,
 * randomize adds up to 100% jitter), so this is the earliest the next attempt can be.
 */
export function backoffDelayMs(
  config: Pick<WebhookConfig, "backoff" | "backoffSeconds" | "backoffMaxSeconds">,
  attempt: number,
): number {
  const base = config.backoffSeconds * 1000;
  if (config.backoff === "fixed") return base;
  return Math.min(base * 2 ** (attempt - 1), config.backoffMaxSeconds * 1000);
}

/** Origin and path only: a query string may carry the receiver's token. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return "(invalid url)";
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}
