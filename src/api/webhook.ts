// The webhook pattern (8005): POST /train {callback_url} answers 202 like the polling app; when
// the task ends, the controller's dispatcher POSTs the result to callback_url (see webhooks/).
import type { FastifyInstance } from "fastify";
import { MAX_CALLBACK_URL_LENGTH } from "../webhooks/url-policy.js";
import { callbackUrlCheck } from "./callback-url.js";
import type { AppContext } from "./context.js";
import { registerTaskWatch } from "./task-watch.js";
import { registerLogs } from "./logs.js";
import { registerPredict } from "./predict.js";
import { webhookTrainBody } from "./schemas.js";
import { registerDeliveries } from "./deliveries.js";
import { registerCancel, registerSubmitAccepted, registerTaskReads } from "./task-routes.js";

export function webhookApp(ctx: AppContext) {
  return (app: FastifyInstance): void => {
    registerSubmitAccepted(app, ctx, "webhook", {
      summary: "Submit a training task; its result is POSTed to callback_url when it ends",
      body: webhookTrainBody(ctx.config, MAX_CALLBACK_URL_LENGTH),
      check: callbackUrlCheck(ctx),
    });
    registerTaskReads(app, ctx);
    registerTaskWatch(app, ctx);
    registerCancel(app, ctx);
    registerDeliveries(app, ctx);
    registerLogs(app, ctx);
    registerPredict(app, ctx);
  };
}
