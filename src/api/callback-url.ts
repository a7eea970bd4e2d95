// The callback URL check of a submission (SSRF, see webhooks/url-policy.ts), shared by the
// webhook app, where callback_url is required, and the polling app, where it is optional (the
// dashboard and the CLI submit there).
import { callbackUrlRefusal } from "../webhooks/url-policy.js";
import type { AppContext } from "./context.js";
import { ApiError } from "./errors.js";
import type { TrainRequestBody } from "./task-routes.js";

export function callbackUrlCheck(ctx: AppContext): (body: TrainRequestBody) => Promise<void> {
  const policy = {
    blockPrivate: ctx.config.webhooks.blockPrivate,
    allowedHosts: ctx.config.webhooks.allowedHosts,
  };
  return async (body) => {
    if (body.callback_url === undefined) return;
    const refusal = await callbackUrlRefusal(body.callback_url, policy);
    if (refusal) {
      throw new ApiError("callback_url_refused", `callback_url ${refusal}`, {
        field: "callback_url",
      });
    }
  };
}
