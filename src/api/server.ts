// The server factory every app shares: logging, limits, the error catalogue, health, the
// OpenAPI document (generated from the same schemas that validate requests) and its HTML
// reference. Each app adds its routes through `register`.
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { HttpAppName } from "../config.js";
import { installAuth } from "./auth.js";
import type { AppContext } from "./context.js";
import { installErrorHandlers } from "./error-handler.js";
import { registerHealth } from "./health.js";
import { registerMetrics } from "./metrics-route.js";
import { installBodyDepthLimit } from "./json-depth.js";
import { clientErrorHandler, frameworkErrors, installProtocolGuards } from "./protocol-errors.js";
import { installSubmitRateLimit } from "./rate-limit.js";
import { installValidators } from "./validation.js";

export const APP_TITLES: Record<HttpAppName | "controller", string> = {
  naive: "trainyard naive API: POST /train waits for the result",
  polling: "trainyard polling API: submit, then poll status and result",
  webhook: "trainyard webhook API: the result is POSTed to your callback_url",
  "webhook-client": "trainyard webhook client: receives callbacks",
  controller: "trainyard controller: health and metrics",
};

export async function buildServer(
  name: HttpAppName | "controller",
  ctx: AppContext,
  register: (app: FastifyInstance) => void | Promise<void>,
): Promise<FastifyInstance> {
  // pino's Logger type is wider than fastify's; seen through fastify's type, the instance stays
  // a plain FastifyInstance that every plugin accepts.
  const logger: FastifyBaseLogger = ctx.log.child({ http_app: name });
  const { config } = ctx;
  const requestTimeoutMs = config.requestTimeoutSeconds * 1000;
  const app = Fastify({
    loggerInstance: logger,
    // fastify's own request logging writes two lines per request ("incoming request", "request
    // completed") through its serialisers; logResponses() below writes one. On a cheap request
    // the two lines were ~30% of its CPU (docs/benchmarks.md, finding 4).
    disableRequestLogging: true,
    bodyLimit: config.bodyLimitBytes,
    // Bounded path segments, headers and arrival time keep a hostile client from holding memory
    // or connections (a slowly dribbled request gets 408 once its time is up).
    routerOptions: { maxParamLength: 200 },
    requestTimeout: requestTimeoutMs,
    http: {
      maxHeaderSize: config.maxHeaderBytes,
      headersTimeout: requestTimeoutMs,
      // How often Node looks for requests past their time; its default (30 s) would let a short
      // timeout run long.
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, requestTimeoutMs / 4)),
      // Checked in protocol-errors.ts instead, so that the answer is problem+json.
      requireHostHeader: false,
    },
    clientErrorHandler,
    frameworkErrors,
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    requestIdHeader: "x-request-id",
    return503OnClosing: true,
    forceCloseConnections: "idle",
  });
  installErrorHandlers(app);
  logResponses(app);
  // Hooks run in this order: a request without Host is refused before its token is checked.
  installProtocolGuards(app);
  installAuth(app, config, name);
  installSubmitRateLimit(app, config);
  installValidators(app);
  installBodyDepthLimit(app);
  // A keep-alive connection that was busy when close() began would keep the server open after
  // its answer: asking the client to close it lets shutdown finish once in-flight work is done.
  app.addHook("onSend", async (_request, reply) => {
    if (ctx.shutdown.aborted) void reply.header("connection", "close");
  });
  const authOn = config.apiTokens.length + config.apiReadTokens.length > 0;
  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: APP_TITLES[name], version: "0.1.0" },
      // With tokens configured, /docs offers "Authorize" and sends the token it is given.
      ...(authOn
        ? {
            components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
            security: [{ bearer: [] }],
          }
        : {}),
    },
  });
  // Before every route, so that its latency hook sees them all.
  registerMetrics(app, name);
  registerHealth(app, ctx);
  await register(app);
  app.get("/openapi.json", { schema: { hide: true } }, () => app.swagger());
  await app.register(swaggerUi, { routePrefix: "/docs" });
  return app;
}

/**
 * One line per answered request, at info, through the request's logger (so it carries the
 * request id, the principal once authenticated, and the route's log level: /metrics is warn).
 * The URL is logged as it came, never a header: tokens travel in headers only.
 */
function logResponses(app: FastifyInstance): void {
  app.addHook("onResponse", (request, reply, done) => {
    request.log.info(
      {
        method: request.method,
        url: request.url,
        status_code: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      "request completed",
    );
    done();
  });
}
