// JSON schemas shared by validation and the OpenAPI documents: one definition, both uses.
import { STATUSES } from "../tasks/status.js";
import { MAX_RETRY_BACKOFF_SECONDS } from "../tasks/task.js";

const UUID_PATTERN =
  "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

export const taskIdParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", pattern: UUID_PATTERN, description: "task id (UUID)" } },
} as const;

/** The limits a submission is checked against (from the configuration). */
export interface TrainLimits {
  maxDurationSeconds: number;
  maxTimeoutSeconds: number;
  maxAttempts: number;
}

export function trainBody(limits: TrainLimits) {
  return {
    type: "object",
    additionalProperties: false,
    properties: {
      duration_seconds: {
        type: "integer",
        minimum: 0,
        maximum: limits.maxDurationSeconds,
        description: "simulated extra run time, so that a run can be watched and cancelled",
      },
      timeout_seconds: {
        type: "integer",
        minimum: 1,
        maximum: limits.maxTimeoutSeconds,
        description:
          "the run's time limit; past it the run is stopped and fails (DeadlineExceeded)",
      },
      max_attempts: {
        type: "integer",
        minimum: 1,
        maximum: limits.maxAttempts,
        description:
          "how many times the run may be tried in all: a failed attempt is retried after a " +
          "backoff (not a cancelled one; a timed-out one only with retry_on_timeout)",
      },
      retry_backoff_seconds: {
        type: "integer",
        minimum: 0,
        maximum: MAX_RETRY_BACKOFF_SECONDS,
        description: "the wait before the second attempt; it doubles for each one after",
      },
      retry_on_timeout: {
        type: "boolean",
        description: "retry a run stopped at its time limit too (default false)",
      },
    },
  } as const;
}

export function webhookTrainBody(limits: TrainLimits, maxUrlLength: number) {
  const base = trainBody(limits);
  return {
    ...base,
    required: ["callback_url"],
    properties: {
      ...base.properties,
      callback_url: {
        type: "string",
        minLength: 1,
        maxLength: maxUrlLength,
        // No control characters (URL parsers drop some silently; Postgres text refuses NUL) and
        // no lone surrogates: what is stored is what was checked.
        pattern: "^[^\\u0000-\\u001F\\u007F\\uD800-\\uDFFF]*$",
        description: "absolute http(s) URL the result is POSTed to when the task ends",
      },
    },
  } as const;
}

export const idempotencyHeaders = {
  type: "object",
  properties: {
    "idempotency-key": {
      type: "string",
      minLength: 1,
      maxLength: 255,
      pattern: "^[\\x21-\\x7E]+$",
      description: "the same key returns the same task instead of a second one",
    },
  },
} as const;

export const listQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    status: { type: "string", enum: [...STATUSES] },
    limit: { type: "integer", minimum: 1, maximum: 100, default: 20 },
    cursor: { type: "string", maxLength: 40, pattern: "^[0-9A-Za-z_-]+$" },
  },
} as const;

export const predictBody = {
  type: "object",
  required: ["data"],
  properties: {
    data: {
      description: "one penguin, or a list of up to 1000",
      anyOf: [{ type: "object" }, { type: "array", items: { type: "object" } }],
    },
  },
} as const;
