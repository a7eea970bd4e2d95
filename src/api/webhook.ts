// The webhook pattern (8005): POST /train {callback_url} answers 202 like the polling app; when
// the task ends, the controller's dispatcher POSTs the result to callback_url (see webhooks/).
// Deliveries are visible per task and can be sent again after a final failure.
import type { FastifyInstance } from "fastify";
import { deliveriesOf, redeliver, type AttemptRecord, type Delivery } from "../webhooks/outbox.js";
import { callbackUrlRefusal, MAX_CALLBACK_URL_LENGTH } from "../webhooks/url-policy.js";
import type { AppContext } from "./context.js";
import { registerTaskWatch } from "./task-watch.js";
import { ApiError } from "./errors.js";
import { registerLogs } from "./logs.js";
import { registerPredict } from "./predict.js";
import { taskIdParams, webhookTrainBody } from "./schemas.js";
import {
  mustGetTask,
  registerCancel,
  registerSubmitAccepted,
  registerTaskReads,
} from "./task-routes.js";

export function webhookApp(ctx: AppContext) {
  const policy = {
    blockPrivate: ctx.config.webhooks.blockPrivate,
    allowedHosts: ctx.config.webhooks.allowedHosts,
  };
  return (app: FastifyInstance): void => {
    registerSubmitAccepted(app, ctx, "webhook", {
      summary: "Submit a training task; its result is POSTed to callback_url when it ends",
      body: webhookTrainBody(ctx.config, MAX_CALLBACK_URL_LENGTH),
      check: async (body) => {
        const refusal = await callbackUrlRefusal(body.callback_url ?? "", policy);
        if (refusal) {
          throw new ApiError("callback_url_refused", `callback_url ${refusal}`, {
            field: "callback_url",
          });
        }
      },
    });
    registerTaskReads(app, ctx);
    registerTaskWatch(app, ctx);
    registerCancel(app, ctx);
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
    registerLogs(app, ctx);
    registerPredict(app, ctx);
  };
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
