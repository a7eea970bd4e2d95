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

function callbackUrlProperty(maxUrlLength: number) {
  return {
    type: "string",
    minLength: 1,
    maxLength: maxUrlLength,
    // No control characters (URL parsers drop some silently; Postgres text refuses NUL) and
    // no lone surrogates: what is stored is what was checked.
    pattern: "^[^\\u0000-\\u001F\\u007F\\uD800-\\uDFFF]*$",
    description: "absolute http(s) URL the result is POSTed to when the task ends",
  } as const;
}

/** The polling app's body: a callback is optional there. */
export function pollingTrainBody(limits: TrainLimits, maxUrlLength: number) {
  const base = trainBody(limits);
  return {
    ...base,
    properties: { ...base.properties, callback_url: callbackUrlProperty(maxUrlLength) },
  } as const;
}

export function webhookTrainBody(limits: TrainLimits, maxUrlLength: number) {
  return { ...pollingTrainBody(limits, maxUrlLength), required: ["callback_url"] } as const;
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

const timestamp = { type: "string", format: "date-time" } as const;
const nullableTimestamp = { type: "string", format: "date-time", nullable: true } as const;
const errorSchema = {
  type: "object",
  required: ["code", "message"],
  properties: { code: { type: "string" }, message: { type: "string" } },
} as const;

/**
 * A task as the status and wait routes answer it (task-view.ts). Also the serializer's schema:
 * a field missing here would be dropped from the answer, which the API tests would see.
 */
export const taskStatusSchema = {
  type: "object",
  required: [
    "id",
    "status",
    "app",
    "tenant",
    "created_at",
    "started_at",
    "finished_at",
    "progress",
  ],
  properties: {
    id: { type: "string", format: "uuid" },
    status: { type: "string", enum: [...STATUSES] },
    app: { type: "string", description: "the pattern that submitted it" },
    tenant: { type: "string", description: 'who submitted it ("default" without tenants)' },
    duration_seconds: { type: "integer" },
    created_at: timestamp,
    started_at: nullableTimestamp,
    finished_at: nullableTimestamp,
    progress: {
      type: "object",
      nullable: true,
      description: "the worker's phase (loading, simulating, fitting, storing, done) and fraction",
      properties: { phase: { type: "string" }, fraction: { type: "number" } },
    },
    error: { ...errorSchema, description: "why it failed or was cancelled" },
    queue_position: {
      type: "integer",
      description:
        "queued and not yet admitted: how many tasks are ahead of it (counted up to 1000)",
    },
    queue_position_exact: {
      type: "boolean",
      description: "false when the count stopped at 1000: at least that many are ahead",
    },
    attempt: { type: "integer", description: "retries only: the attempt it is on, from 1" },
    max_attempts: { type: "integer", description: "retries only: as submitted" },
    next_attempt_at: { ...timestamp, description: "retries only: the end of the backoff" },
    previous_attempts: {
      type: "array",
      description: "retries only: what each earlier attempt did",
      items: {
        type: "object",
        properties: {
          attempt: { type: "integer" },
          started_at: nullableTimestamp,
          finished_at: timestamp,
          error: errorSchema,
        },
      },
    },
  },
} as const;
