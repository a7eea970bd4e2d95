// Two validators: query strings, params and headers arrive as text, so numbers there are
// coerced ("?limit=2"); JSON bodies are not, so {"duration_seconds": "5"} is a 400 naming
// the field rather than silently accepted.
import { Ajv, type Options } from "ajv";
import type { FastifyInstance, FastifySchema } from "fastify";

const common: Options = {
  allErrors: false,
  removeAdditional: false,
  useDefaults: true,
  strict: false,
};

export function installValidators(app: FastifyInstance): void {
  const forText = new Ajv({ ...common, coerceTypes: "array" });
  const forBody = new Ajv({ ...common, coerceTypes: false });
  app.setValidatorCompiler<FastifySchema>(({ schema, httpPart }) =>
    (httpPart === "body" ? forBody : forText).compile(schema as object),
  );
  // Only JSON bodies are accepted: anything else is a 415 that says so.
  app.removeContentTypeParser("text/plain");
  // `curl -X POST .../train` sends no body at all: that means "all defaults".
  app.addHook("preValidation", (request, _reply, done) => {
    if (request.body === undefined && request.method === "POST") request.body = {};
    done();
  });
}
