// The polling pattern (8004): POST /train answers 202 at once with Location and Retry-After;
// the client polls status, then fetches the result, and may cancel. A callback_url is optional
// here (the dashboard and the CLI submit to this app), and deliveries are readable.
import type { FastifyInstance } from "fastify";
import { MAX_CALLBACK_URL_LENGTH } from "../webhooks/url-policy.js";
import { callbackUrlCheck } from "./callback-url.js";
import type { AppContext } from "./context.js";
import { registerDeliveries } from "./deliveries.js";
import { pollingTrainBody } from "./schemas.js";
import { registerTaskWatch } from "./task-watch.js";
import { registerLogs } from "./logs.js";
import { registerPredict } from "./predict.js";
import {
  registerCancel,
  registerList,
  registerSubmitAccepted,
  registerTaskReads,
} from "./task-routes.js";

export function pollingApp(ctx: AppContext) {
  return (app: FastifyInstance): void => {
    registerSubmitAccepted(app, ctx, "polling", {
      body: pollingTrainBody(ctx.config, MAX_CALLBACK_URL_LENGTH),
      check: callbackUrlCheck(ctx),
    });
    registerTaskReads(app, ctx);
    registerTaskWatch(app, ctx);
    registerCancel(app, ctx);
    registerList(app, ctx);
    registerDeliveries(app, ctx);
    registerLogs(app, ctx);
    registerPredict(app, ctx);
  };
}
