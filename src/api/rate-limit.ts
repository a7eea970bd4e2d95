// Submissions (POST /train, on every app) per client: a token bucket for each, keyed by the
// bearer token's name when authentication is on, else by the remote address. Each task costs a
// worker (a process or a Kubernetes Job), so one client must not be able to flood the queue.
// Buckets live in this process's memory: with N replicas a client can submit N times as much.
// Only submissions that passed validation count; malformed ones are refused before this.
import type { FastifyInstance } from "fastify";
import type { Config } from "../config.js";
import { ApiError } from "./errors.js";

interface Bucket {
  tokens: number;
  at: number;
}

export type Verdict = { ok: true } | { ok: false; retryAfterSeconds: number };

/** Buckets of `burst` tokens, refilled at `perMinute`; the least recently seen are dropped first. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    perMinute: number,
    private readonly burst: number,
    /** Bounds memory: a client dropped for room starts again with a full bucket. */
    private readonly maxClients = 10_000,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = perMinute / 60_000;
  }

  take(key: string): Verdict {
    const now = this.now();
    const old = this.buckets.get(key);
    const tokens = old
      ? Math.min(this.burst, old.tokens + (now - old.at) * this.perMs)
      : this.burst;
    // Delete and set again: Map order is then least recently seen first.
    this.buckets.delete(key);
    if (tokens >= 1) {
      this.buckets.set(key, { tokens: tokens - 1, at: now });
      this.evict();
      return { ok: true };
    }
    this.buckets.set(key, { tokens, at: now });
    return {
      ok: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000)),
    };
  }

  get size(): number {
    return this.buckets.size;
  }

  private evict(): void {
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= this.maxClients) return;
      this.buckets.delete(key);
    }
  }
}

export function installSubmitRateLimit(app: FastifyInstance, config: Config): void {
  const { submitRatePerMinute: perMinute, submitBurst: burst } = config;
  if (perMinute === 0) return;
  const buckets = new TokenBuckets(perMinute, burst);
  // preHandler: after authentication and validation, before the task is stored.
  app.addHook("preHandler", (request, _reply, done) => {
    if (request.method !== "POST" || request.routeOptions.url !== "/train") return done();
    const client = request.principal?.id ?? `address ${request.ip}`;
    const verdict = buckets.take(client);
    if (verdict.ok) return done();
    request.log.warn({ client, retry_after: verdict.retryAfterSeconds }, "submission rate-limited");
    done(
      new ApiError(
        "rate_limited",
        `At most ${perMinute} submissions a minute per client (bursts of ${burst}); ` +
          `try again in ${verdict.retryAfterSeconds} s`,
        {},
        verdict.retryAfterSeconds,
      ),
    );
  });
}
