// The webhook client (8006): the receiving end of the webhook pattern. POST /callback verifies
// the Standard Webhooks signature (when a secret is configured), stores each webhook-id once
// and logs its arrival; GET /callbacks lists what arrived; POST /train asks the webhook server
// to train with this client's own callback URL.
import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { request as httpRequest } from "undici";
import { listCallbacks, recordCallback } from "../webhooks/inbox.js";
import { verifyWebhook } from "../webhooks/signing.js";
import type { AppContext } from "./context.js";
import { ApiError } from "./errors.js";
import { registerPredict } from "./predict.js";
import { trainBody } from "./schemas.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The body exactly as received: signatures are computed over these bytes. */
    rawBody?: string;
  }
}

const callbacksQuery = {
  type: "object",
  additionalProperties: false,
  properties: { limit: { type: "integer", minimum: 1, maximum: 500, default: 50 } },
} as const;

const callbackBody = { type: "object", description: "the webhook server's notification" } as const;

const callbackHeaders = {
  type: "object",
  properties: {
    "webhook-id": { type: "string", minLength: 1, maxLength: 256 },
    "webhook-timestamp": { type: "string", maxLength: 20 },
    "webhook-signature": { type: "string", maxLength: 4096 },
  },
} as const;

export function webhookClientApp(ctx: AppContext) {
  const { signingSecrets, clientPublicUrl, serverUrl, serverToken, timeoutSeconds } =
    ctx.config.webhooks;
  return (app: FastifyInstance): void => {
    app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
      const text = body as string;
      request.rawBody = text;
      if (text === "") return done(null, undefined);
      try {
        done(null, JSON.parse(text));
      } catch (err) {
        done(Object.assign(err as Error, { statusCode: 400 }), undefined);
      }
    });

    app.post<{ Body: Record<string, unknown> }>(
      "/callback",
      {
        schema: {
          summary: "Receive a webhook notification",
          tags: ["webhooks"],
          body: callbackBody,
          headers: callbackHeaders,
        },
      },
      async (request, reply) => {
        const verified = signingSecrets.length > 0;
        if (verified) {
          const check = verifyWebhook(signingSecrets, request.headers, request.rawBody ?? "");
          if (!check.ok) {
            request.log.warn({ reason: check.reason }, "callback refused");
            throw new ApiError("bad_signature", `webhook ${check.reason.replaceAll("_", " ")}`, {
              reason: check.reason,
            });
          }
        }
        const header = request.headers["webhook-id"];
        const webhookId =
          (Array.isArray(header) ? header[0] : header) ?? `unidentified-${randomUUID()}`;
        const { stored, receivedAt } = await recordCallback(
          ctx.sql,
          webhookId,
          verified,
          request.rawBody ?? JSON.stringify(request.body),
        );
        request.log.info(
          {
            webhook_id: webhookId,
            task_id: request.body.id,
            task_status: request.body.status,
            received_at: receivedAt.toISOString(),
            duplicate: !stored,
          },
          stored ? "callback received" : "callback received again (duplicate, not recorded)",
        );
        return reply.code(200).send({ received: true, duplicate: !stored });
      },
    );

    app.get<{ Querystring: { limit: number } }>(
      "/callbacks",
      {
        schema: {
          summary: "Callbacks received, newest first",
          tags: ["webhooks"],
          querystring: callbacksQuery,
        },
      },
      async (request) => {
        const items = await listCallbacks(ctx.sql, request.query.limit);
        return {
          items: items.map((c) => ({
            webhook_id: c.webhookId,
            received_at: c.receivedAt.toISOString(),
            verified: c.verified,
            body: c.body,
          })),
        };
      },
    );

    app.post<{ Body: { duration_seconds?: number } | undefined }>(
      "/train",
      {
        schema: {
          summary: "Ask the webhook server to train, with this client's callback URL",
          tags: ["tasks"],
          body: trainBody(ctx.config),
        },
      },
      async (request, reply) => {
        const body = { ...request.body, callback_url: `${clientPublicUrl}/callback` };
        let res;
        try {
          res = await httpRequest(`${serverUrl}/train`, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              // The server's own token for this client, never the caller's.
              ...(serverToken ? { authorization: `Bearer ${serverToken}` } : {}),
            },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(timeoutSeconds * 1000),
          });
        } catch (err) {
          request.log.warn({ err }, "webhook server unreachable");
          throw new ApiError(
            "webhook_server_unavailable",
            `The webhook server at ${serverUrl} did not answer`,
            {},
            ctx.config.retryAfterSeconds,
          );
        }
        const text = await res.body.text();
        // Our credentials, not the caller's, were refused: a fault on this side, not theirs.
        if (res.statusCode === 401 || res.statusCode === 403) {
          request.log.error(
            { status: res.statusCode },
            "the webhook server refused this client: check TRAINYARD_WEBHOOK_SERVER_TOKEN",
          );
          throw new ApiError(
            "webhook_server_refused",
            `The webhook server at ${serverUrl} answered ${res.statusCode}`,
          );
        }
        for (const name of ["retry-after", "content-type"]) {
          const value = res.headers[name];
          if (typeof value === "string") void reply.header(name, value);
        }
        // The server's Location is relative to the server, not to this client.
        const location = res.headers.location;
        if (typeof location === "string")
          void reply.header("location", new URL(location, serverUrl).href);
        return reply.code(res.statusCode).send(text);
      },
    );

    registerPredict(app, ctx);
  };
}
