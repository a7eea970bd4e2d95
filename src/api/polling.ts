// The polling pattern (8004): POST /train answers 202 at once with Location and Retry-After;
// the client polls status, then fetches the result, and may cancel.
import type { FastifyInstance } from "fastify";
import type { AppContext } from "./context.js";
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
    registerSubmitAccepted(app, ctx, "polling");
    registerTaskReads(app, ctx);
    registerTaskWatch(app, ctx);
    registerCancel(app, ctx);
    registerList(app, ctx);
    registerLogs(app, ctx);
    registerPredict(app, ctx);
  };
}
