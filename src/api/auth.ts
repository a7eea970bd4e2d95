// Optional bearer tokens (TRAINYARD_API_TOKENS full access, TRAINYARD_API_READ_TOKENS read-only);
// with neither set every route is open, as on a laptop. The policy is one table: what each route
// needs. Anything not in it needs a full-access token, so a route added and forgotten here is
// closed, not open. Tokens are compared by SHA-256 digest with timingSafeEqual, against every
// configured token each time, so neither a token's length nor its position leaks through timing.
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Config } from "../config.js";
import { ApiError } from "./errors.js";

/**
 * public: anyone (health, the API description). read: any token. write: a full-access token.
 * callback: the webhook client's POST /callback, which the webhook signature authenticates when
 * signing secrets are set (the dispatcher sends no bearer token); without them it is a write.
 */
export type Access = "public" | "read" | "write" | "callback";
export type Grant = "full" | "read";

export interface Principal {
  /** A name for the token that is not the token: its list and position ("read-token-2"). */
  id: string;
  grant: Grant;
  /** The tenant whose token this is; undefined for operator tokens, which see every tenant. */
  tenant?: string | undefined;
}

declare module "fastify" {
  interface FastifyRequest {
    /** Who is calling, when authentication is on and a known token came with the request. */
    principal?: Principal;
  }
}

const POLICY: Record<string, Access> = {
  "GET /train": "read",
  "GET /train/:id/status": "read",
  "GET /train/:id/result": "read",
  "GET /train/:id/deliveries": "read",
  "GET /train/:id/wait": "read",
  "GET /train/:id/events": "read",
  "GET /train/:id/logs": "read",
  // Prometheus sends a bearer token (authorization in its scrape config).
  "GET /metrics": "read",
  "GET /callbacks": "read",
  "POST /predict": "read",
  "POST /callback": "callback",
  "POST /train": "write",
  "DELETE /train/:id": "write",
  "POST /train/:id/deliveries/redeliver": "write",
};

const PUBLIC_PATHS = new Set(["/livez", "/readyz", "/openapi.json", "/docs"]);

/** What calling `method url` (a route's path pattern) needs. */
export function accessOf(method: string, url: string): Access {
  // Probes carry no token; the API description and its page hold no data, and a browser cannot
  // add a bearer header when it loads /docs.
  if (PUBLIC_PATHS.has(url) || url.startsWith("/docs/")) return "public";
  const m = method === "HEAD" ? "GET" : method;
  return POLICY[`${m} ${url}`] ?? "write";
}

const digest = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

export class TokenTable {
  private readonly entries: { digest: Buffer; principal: Principal }[];

  constructor(full: readonly string[], read: readonly string[]) {
    this.entries = [
      ...full.map((t, i) => ({
        digest: digest(t),
        principal: { id: `token-${i + 1}`, grant: "full" as const },
      })),
      ...read.map((t, i) => ({
        digest: digest(t),
        principal: { id: `read-token-${i + 1}`, grant: "read" as const },
      })),
    ];
  }

  get enabled(): boolean {
    return this.entries.length > 0;
  }

  /** The principal holding `presented`, or undefined. Always compares with every token. */
  lookup(presented: string): Principal | undefined {
    const candidate = digest(presented);
    let found: Principal | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(candidate, entry.digest) && !found) found = entry.principal;
    }
    return found;
  }
}

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

/** The token of an `Authorization: Bearer <token>` header; null when the header is malformed. */
export function bearerToken(header: string | undefined): string | null | undefined {
  if (header === undefined) return undefined;
  return BEARER.exec(header)?.[1] ?? null;
}

const REALM = 'Bearer realm="trainyard"';

function refuse(reply: FastifyReply, challenge: string, error: ApiError): never {
  void reply.header("www-authenticate", challenge);
  throw error;
}

/** Checks every request against the policy; does nothing when no token is configured. */
export function installAuth(app: FastifyInstance, config: Config, appName: string): void {
  const table = new TokenTable(config.apiTokens, config.apiReadTokens);
  if (!table.enabled) return;
  const signed = config.webhooks.signingSecrets.length > 0;
  if (appName === "webhook-client" && !signed) {
    app.log.warn(
      "tokens are on but TRAINYARD_WEBHOOK_SIGNING_SECRETS is not set: POST /callback needs a " +
        "full-access token, which the dispatcher does not send, so callbacks will be refused",
    );
  }
  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    // No route matched: the 404 says nothing a token would protect.
    if (request.is404) return;
    const access = accessOf(request.method, request.routeOptions.url ?? "");
    if (access === "public" || (access === "callback" && signed)) return;
    const presented = bearerToken(request.headers.authorization);
    if (presented === undefined) {
      refuse(reply, REALM, new ApiError("unauthorized", "Send Authorization: Bearer <token>"));
    }
    const principal = presented === null ? undefined : table.lookup(presented);
    if (!principal) {
      refuse(
        reply,
        `${REALM}, error="invalid_token"`,
        new ApiError("unauthorized", "The bearer token is malformed or unknown"),
      );
    }
    if (access !== "read" && principal.grant !== "full") {
      refuse(
        reply,
        `${REALM}, error="insufficient_scope"`,
        new ApiError(
          "forbidden",
          `${request.method} ${request.routeOptions.url} needs a full-access token`,
        ),
      );
    }
    request.principal = principal;
    // Which token did what, in every later log line of this request; never the token itself.
    request.log = request.log.child({ principal: principal.id });
    reply.log = request.log;
  });
}
