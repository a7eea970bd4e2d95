// The naive pattern (8003): POST /train holds the request until the task ends. It wakes on
// NOTIFY, so a task finished by any process anywhere answers at once. Past the wait limit,
// or when this process shuts down, it answers 202 + Location as the polling app does. A
// client that goes away only stops the waiting: the task runs on and is never lost.
import type { FastifyInstance } from "fastify";
import { waitForEnd } from "../tasks/waiter.js";
import type { AppContext } from "./context.js";
import { registerTaskWatch } from "./task-watch.js";
import { ApiError } from "./errors.js";
import { registerLogs } from "./logs.js";
import { registerPredict } from "./predict.js";
import { idempotencyHeaders, trainBody } from "./schemas.js";
import { accepted, registerTaskReads, resultBody, submitTask } from "./task-routes.js";

export function naiveApp(ctx: AppContext) {
  return (app: FastifyInstance): void => {
    app.post<{
      Body: { duration_seconds?: number } | undefined;
      Headers: { "idempotency-key"?: string };
    }>(
      "/train",
      {
        schema: {
          summary: "Train and wait for the result (202 + Location past the wait limit)",
          tags: ["tasks"],
          body: trainBody(ctx.config),
          headers: idempotencyHeaders,
        },
      },
      async (request, reply) => {
        const { task } = await submitTask(
          ctx,
          "naive",
          request.body,
          request.headers["idempotency-key"],
        );
        request.log.info({ task_id: task.id }, "task accepted; waiting for its end");
        const gone = new AbortController();
        reply.raw.once("close", () => gone.abort());
        const signal = AbortSignal.any([gone.signal, ctx.shutdown]);
        const outcome = await waitForEnd(
          ctx.sql,
          ctx.events,
          task,
          ctx.config.naiveWaitSeconds * 1000,
          signal,
        );
        if (outcome.kind !== "finished") return accepted(reply, ctx, outcome.task);
        const done = outcome.task;
        if (done.status === "completed") return resultBody(ctx, done);
        if (done.status === "cancelled") {
          throw new ApiError("task_cancelled", `Task ${done.id} was cancelled`, {
            task_id: done.id,
          });
        }
        throw new ApiError("training_failed", done.error?.message, {
          task_id: done.id,
          task_status: done.status,
          error: done.error,
        });
      },
    );
    registerTaskReads(app, ctx);
    registerTaskWatch(app, ctx);
    registerLogs(app, ctx);
    registerPredict(app, ctx);
  };
}
