// /livez: the process answers. /readyz: it can do its work, i.e. reach the database, and is
// not shutting down; a load balancer stops sending traffic while it is 503.
import type { FastifyInstance } from "fastify";
import type { AppContext } from "./context.js";
import { DB_RETRY_AFTER_SECONDS, sendProblem } from "./error-handler.js";

const READY_TIMEOUT_MS = 2000;

export function registerHealth(app: FastifyInstance, ctx: AppContext): void {
  const hidden = { schema: { hide: true }, logLevel: "warn" as const };
  app.get("/livez", hidden, () => ({ status: "ok" }));
  app.get("/readyz", hidden, async (request, reply) => {
    if (ctx.shutdown.aborted) {
      return sendProblem(reply, request, "shutting_down", undefined, {}, DB_RETRY_AFTER_SECONDS);
    }
    try {
      await Promise.race([
        ctx.sql`SELECT 1`,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error("timed out")), READY_TIMEOUT_MS).unref(),
        ),
      ]);
    } catch (err) {
      request.log.warn({ err }, "not ready: database unreachable");
      return sendProblem(
        reply,
        request,
        "database_unavailable",
        "readiness check could not reach the database",
        {},
        DB_RETRY_AFTER_SECONDS,
      );
    }
    for (const check of ctx.readiness) {
      const problem = check();
      if (problem) {
        request.log.warn({ problem }, "not ready");
        return sendProblem(reply, request, "not_ready", problem, {}, DB_RETRY_AFTER_SECONDS);
      }
    }
    return { status: "ok" };
  });
}
