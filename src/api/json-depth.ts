// Request bodies may nest at most MAX_JSON_DEPTH levels. JSON.parse copes with any depth, but
// JSON.stringify (answering), Postgres' json parser (storing) and any recursive walk do not: the
// fuzzer found a 30,000-deep body that made POST /callback fail in Postgres (stack depth limit
// exceeded, a 500), and a 10,000-deep one that was stored and then broke every GET /callbacks
// listing it (JSON.stringify overflowed the stack). No body of this API needs more than a few.
import type { FastifyInstance } from "fastify";
import { ApiError } from "./errors.js";

export const MAX_JSON_DEPTH = 32;

/** The nesting depth of a parsed JSON value, walked without recursion; stops past `limit`. */
export function jsonDepth(value: unknown, limit = Infinity): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, above] = item;
    if (typeof node !== "object" || node === null) continue;
    const depth = above + 1;
    if (depth > max) max = depth;
    if (max > limit) return max;
    for (const child of Object.values(node)) stack.push([child, depth]);
  }
  return max;
}

export function installBodyDepthLimit(app: FastifyInstance): void {
  app.addHook("preValidation", (request, _reply, done) => {
    if (jsonDepth(request.body, MAX_JSON_DEPTH) <= MAX_JSON_DEPTH) return done();
    done(
      new ApiError("invalid_body", `The JSON body nests deeper than ${MAX_JSON_DEPTH} levels`, {
        field: "body",
      }),
    );
  });
}
