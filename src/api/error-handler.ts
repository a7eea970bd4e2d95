// Turns anything thrown in a route into a problem+json answer from the catalogue: our own
// ApiErrors as they are, fastify's validation and body errors with the field at fault, a
// database that is away as 503 with Retry-After, and everything else as a logged 500.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { classifyPgError } from "../db/connect.js";
import { ApiError, problem, PROBLEM_CONTENT_TYPE, type ErrorCode } from "./errors.js";

export const DB_RETRY_AFTER_SECONDS = 2;

export function sendProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  code: ErrorCode,
  detail?: string,
  extra: Record<string, unknown> = {},
  retryAfter?: number,
): FastifyReply {
  const body = problem(code, detail, { instance: request.url, ...extra });
  if (retryAfter !== undefined) reply.header("retry-after", String(retryAfter));
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

interface AjvError {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** "/data/0/species" -> "data[0].species"; required/additional name the property itself. */
export function fieldOf(err: AjvError, context: string | undefined): string {
  const path = (err.instancePath ?? "")
    .split("/")
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  const prop = err.params?.missingProperty ?? err.params?.additionalProperty;
  if (typeof prop === "string") path.push(prop);
  const joined = path.reduce(
    (acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p),
    "",
  );
  if (joined) return joined;
  return context === "body" || context === undefined ? "body" : context;
}

function validationProblem(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const context = error.validationContext;
  const errors = (error.validation ?? []).map((e) => {
    const field = fieldOf(e, context);
    return { field, in: context, message: `${field} ${e.message ?? "is not valid"}` };
  });
  const first = errors[0];
  return sendProblem(reply, request, "validation_failed", first?.message ?? error.message, {
    field: first?.field,
    errors,
  });
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ApiError) {
      return sendProblem(reply, request, error.code, error.detail, error.extra, error.retryAfter);
    }
    if (error.validation) return validationProblem(error, request, reply);
    const pg = classifyPgError(error);
    if (pg.unavailable || pg.retryable) {
      request.log.warn({ err: error }, "database unavailable");
      return sendProblem(
        reply,
        request,
        "database_unavailable",
        undefined,
        {},
        DB_RETRY_AFTER_SECONDS,
      );
    }
    const status = error.statusCode ?? 500;
    if (status === 413) return sendProblem(reply, request, "payload_too_large", error.message);
    if (status === 415) return sendProblem(reply, request, "unsupported_media_type", error.message);
    if (status >= 400 && status < 500) {
      return sendProblem(reply, request, "invalid_body", error.message, { field: "body" });
    }
    request.log.error({ err: error }, "unhandled error");
    return sendProblem(reply, request, "internal_error");
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, request, "not_found", `No route ${request.method} ${request.url}`),
  );
}
