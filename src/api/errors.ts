// The one error catalogue. Every error the API answers has a stable code (clients match on
// it, never on the text), an HTTP status and a title; bodies are application/problem+json
// (RFC 9457) with the code, and the field at fault where there is one.

export const CATALOGUE = {
  validation_failed: { status: 400, title: "The request is not valid" },
  invalid_body: { status: 400, title: "The request body could not be read" },
  malformed_request: { status: 400, title: "The request is not well-formed HTTP" },
  unauthorized: { status: 401, title: "Authentication is required" },
  forbidden: { status: 403, title: "This token may read but not change anything" },
  not_found: { status: 404, title: "No such resource" },
  method_not_allowed: { status: 405, title: "This method is not served here" },
  request_timeout: { status: 408, title: "The request took too long to arrive" },
  task_not_found: { status: 404, title: "No such task" },
  task_not_finished: { status: 409, title: "The task has not finished yet" },
  task_not_completed: { status: 409, title: "The task ended without a model" },
  task_already_finished: { status: 409, title: "The task has already finished" },
  task_cancelled: { status: 409, title: "The task was cancelled" },
  no_model: { status: 409, title: "No trained model yet: POST /train first" },
  log_not_found: { status: 404, title: "The task has ended and has no log" },
  log_unavailable: { status: 503, title: "The task's log cannot be read right now" },
  logs_disabled: { status: 501, title: "This deployment does not serve task logs" },
  delivery_not_failed: { status: 409, title: "Only a finally failed delivery can be redelivered" },
  callback_url_refused: { status: 400, title: "The callback_url is not one this server calls" },
  bad_signature: { status: 401, title: "The webhook signature could not be verified" },
  webhook_server_unavailable: { status: 503, title: "The webhook server could not be reached" },
  webhook_server_refused: {
    status: 502,
    title: "The webhook server refused this client's credentials",
  },
  payload_too_large: { status: 413, title: "The request body is too large" },
  uri_too_long: { status: 414, title: "A part of the request path is too long" },
  unsupported_media_type: { status: 415, title: "Send the body as application/json" },
  expectation_failed: { status: 417, title: "Only Expect: 100-continue is supported" },
  idempotency_key_reused: {
    status: 422,
    title: "This Idempotency-Key was already used for a different request",
  },
  rate_limited: { status: 429, title: "Too many submissions from this client; slow down" },
  headers_too_large: { status: 431, title: "The request headers are too large" },
  training_failed: { status: 500, title: "The training failed" },
  internal_error: { status: 500, title: "Internal error" },
  database_unavailable: { status: 503, title: "The database is unavailable; try again shortly" },
  not_ready: { status: 503, title: "A dependency of this process is not usable" },
  shutting_down: { status: 503, title: "The service is shutting down; try again shortly" },
} as const;

export type ErrorCode = keyof typeof CATALOGUE;

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  instance?: string;
  field?: string;
  [extension: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    /** Extension members of the problem: field, status of the task, ids. */
    readonly extra: Record<string, unknown> = {},
    /** Seconds, for 503 and 409-while-running answers. */
    readonly retryAfter?: number,
  ) {
    super(detail ?? CATALOGUE[code].title);
    this.name = "ApiError";
  }

  get status(): number {
    return CATALOGUE[this.code].status;
  }
}

export function problem(
  code: ErrorCode,
  detail?: string,
  extra: Record<string, unknown> = {},
): Problem {
  const { status, title } = CATALOGUE[code];
  return {
    type: `urn:trainyard:problem:${code}`,
    title,
    status,
    code,
    ...(detail !== undefined ? { detail } : {}),
    ...extra,
  };
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json; charset=utf-8";
