// POST /predict on every app: body mass from the latest completed model, cached in memory.
import type { FastifyInstance } from "fastify";
import { parsePredictInput, predict } from "../training/predict.js";
import type { AppContext } from "./context.js";
import { ApiError } from "./errors.js";
import { predictBody } from "./schemas.js";

export function registerPredict(app: FastifyInstance, ctx: AppContext): void {
  app.post<{ Body: { data: unknown } }>(
    "/predict",
    {
      schema: {
        summary: "Predict body_mass_g with the latest trained model",
        tags: ["predict"],
        body: predictBody,
      },
    },
    async (request) => {
      const input = parsePredictInput(request.body.data);
      if (!input.ok) throw new ApiError("validation_failed", input.message, { field: input.field });
      const model = await ctx.models.get();
      if (!model)
        throw new ApiError("no_model", "No model has been trained yet: POST /train first");
      const values = predict(model.summary, input.rows);
      return {
        model_id: model.taskId,
        predictions: values.map((body_mass_g) => ({ body_mass_g })),
      };
    },
  );
}
