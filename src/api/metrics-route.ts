// GET /metrics (Prometheus text format) and the request-latency histogram behind it. Latency is
// labelled with the route pattern (/train/:id/status), never the raw URL: one series per route,
// however many task ids there are. Requests that match no route share one label value.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { httpRequestDuration, registry } from "../metrics/registry.js";

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
export const UNMATCHED_ROUTE = "(unmatched)";

/**
 * Streams (a followed log) last as long as the task: their duration is not latency and would
 * swamp the route's histogram, so they are left out of it.
 */
const streams = new WeakSet<FastifyRequest>();
export function excludeFromLatency(request: FastifyRequest): void {
  streams.add(request);
}

export function registerMetrics(app: FastifyInstance, appName: string): void {
  app.addHook("onResponse", (request, reply, done) => {
    if (streams.has(request)) return done();
    httpRequestDuration.observe(
      {
        app: appName,
        // A made-up method would otherwise be a new series per request.
        method: METHODS.has(request.method) ? request.method : "OTHER",
        route: request.routeOptions.url ?? UNMATCHED_ROUTE,
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    done();
  });

  app.get(
    "/metrics",
    {
      // Scrapes come every few seconds: their log lines would drown the requests that matter.
      logLevel: "warn",
      schema: {
        summary: "Prometheus metrics of this process (text exposition format 0.0.4)",
        tags: ["operations"],
        produces: ["text/plain"],
        response: {
          200: {
            description: "Prometheus text exposition format",
            content: { "text/plain": { schema: { type: "string" } } },
          },
        },
      },
    },
    async (_request, reply) => {
      const body = await registry.metrics();
      return reply.type(registry.contentType).send(body);
    },
  );
}
