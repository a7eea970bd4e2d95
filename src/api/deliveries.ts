// A task's callback deliveries, with every attempt, and a redelivery after a final failure.
// Served by the webhook app and by the polling app (which the dashboard and the CLI talk to).
import type { FastifyInstance } from "fastify";
import { deliveriesOf, redeliver, type AttemptRecord, type Delivery } from "../webhooks/outbox.js";
import type { AppContext } from "./context.js";
import { ApiError } from "./errors.js";
import { taskIdParams } from "./schemas.js";
import { mustGetTask } from "./task-routes.js";

export function registerDeliveries(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { id: string } }>(
    "/train/:id/deliveries",
    {
      schema: {
        summary: "The callback deliveries of a task, with every attempt",
        tags: ["webhooks"],
        params: taskIdParams,
      },
    },
    async (request) => {
      await mustGetTask(ctx, request.params.id);
      const deliveries = await deliveriesOf(ctx.sql, request.params.id);
      return { items: deliveries.map(({ delivery, attempts }) => view(delivery, attempts)) };
    },
  );
  app.post<{ Params: { id: string } }>(
    "/train/:id/deliveries/redeliver",
    {
      schema: {
        summary: "Send a finally failed callback again (same event id, a fresh set of attempts)",
        tags: ["webhooks"],
        params: taskIdParams,
      },
    },
    async (request, reply) => {
      const task = await mustGetTask(ctx, request.params.id);
      const delivery = await redeliver(ctx.sql, task.id, ctx.config.webhooks.maxAttempts);
      if (!delivery) {
        throw new ApiError(
          "delivery_not_failed",
          `Task ${task.id} has no failed delivery to send again`,
          { task_id: task.id },
        );
      }
      request.log.info({ task_id: task.id, delivery_id: delivery.id }, "redelivery requested");
      return reply.code(202).send(view(delivery, []));
    },
  );
}

function view(delivery: Delivery, attempts: AttemptRecord[]) {
  return {
    id: delivery.id,
    url: delivery.url,
    state: delivery.state,
    attempts: delivery.attempts,
    next_attempt_at: delivery.state === "pending" ? delivery.nextAttemptAt.toISOString() : null,
    last_error: delivery.lastError,
    created_at: delivery.createdAt.toISOString(),
    finished_at: delivery.finishedAt?.toISOString() ?? null,
    attempt_log: attempts.map((a) => ({
      attempt: a.attempt,
      started_at: a.startedAt.toISOString(),
      duration_ms: a.durationMs,
      status_code: a.statusCode,
      error: a.error,
      outcome: a.outcome,
    })),
  };
}
