// metav1.Status bodies shaped as the real API server writes them (k8s.io/apimachinery
// pkg/api/errors): the same reasons, codes, details and message formats, so a client's error
// handling is exercised against the real wording and not an approximation of it.

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message?: string;
  reason?: string;
  details?: StatusDetails;
  /** Absent on a Success (Go's omitempty on a zero code). */
  code?: number;
}

/** What a handler throws to answer with a Status; the router turns it into the response. */
export class ApiError extends Error {
  constructor(
    readonly status: Status,
    readonly headers: Record<string, string> = {},
  ) {
    super(status.message ?? status.reason ?? `HTTP ${status.code}`);
  }
  get code(): number {
    return this.status.code ?? 500;
  }
}

/** A resource as errors name it: "jobs.batch" for a group, "pods" for the core group. */
export interface GroupResource {
  group: string;
  resource: string;
}

export function qualified(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

function failure(code: number, reason: string, message: string, details?: StatusDetails): ApiError {
  const status: Status = {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details ? { details: withoutEmpty(details) } : {}),
    code,
  };
  return new ApiError(status);
}

/** Go's encoder omits empty fields (omitempty): a core-group error has no "group" key. */
function withoutEmpty(details: StatusDetails): StatusDetails {
  const out: StatusDetails = {};
  if (details.name) out.name = details.name;
  if (details.group) out.group = details.group;
  if (details.kind) out.kind = details.kind;
  if (details.uid) out.uid = details.uid;
  if (details.causes && details.causes.length > 0) out.causes = details.causes;
  if (details.retryAfterSeconds) out.retryAfterSeconds = details.retryAfterSeconds;
  return out;
}

function resourceDetails(gr: GroupResource, name?: string): StatusDetails {
  return { name, group: gr.group, kind: gr.resource };
}

export function notFound(gr: GroupResource, name: string): ApiError {
  return failure(
    404,
    "NotFound",
    `${qualified(gr)} "${name}" not found`,
    resourceDetails(gr, name),
  );
}

/** A path the server has no handler for (unknown group, resource or subresource). */
export function pathNotFound(): ApiError {
  return failure(404, "NotFound", "the server could not find the requested resource", {});
}

export function alreadyExists(gr: GroupResource, name: string): ApiError {
  return failure(
    409,
    "AlreadyExists",
    `${qualified(gr)} "${name}" already exists`,
    resourceDetails(gr, name),
  );
}

export function conflict(gr: GroupResource, name: string, why: string): ApiError {
  return failure(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${why}`,
    resourceDetails(gr, name),
  );
}

/** The optimistic-concurrency failure of an update carrying a stale resourceVersion. */
export function staleObject(gr: GroupResource, name: string): ApiError {
  return conflict(
    gr,
    name,
    "the object has been modified; please apply your changes to the latest version and try again",
  );
}

/** A field error as field.Error renders it: "<field>: <body>". */
export interface FieldError {
  type: string;
  field: string;
  body: string;
}

export function invalid(
  kind: { group: string; kind: string },
  name: string,
  errors: FieldError[],
): ApiError {
  // field.ErrorList.ToAggregate drops repeated messages (one per generated label, say).
  const rendered = [...new Set(errors.map((e) => `${e.field}: ${e.body}`))];
  // utilerrors.NewAggregate: one error prints bare, several in brackets joined by ", ".
  const aggregate = rendered.length === 1 ? rendered[0] : `[${rendered.join(", ")}]`;
  const qualifiedKind = kind.group ? `${kind.kind}.${kind.group}` : kind.kind;
  return failure(422, "Invalid", `${qualifiedKind} "${name}" is invalid: ${aggregate}`, {
    name,
    group: kind.group,
    kind: kind.kind,
    causes: errors.map((e) => ({ reason: e.type, message: e.body, field: e.field })),
  });
}

export function badRequest(message: string): ApiError {
  return failure(400, "BadRequest", message);
}

export function methodNotSupported(gr: GroupResource, action: string): ApiError {
  return failure(
    405,
    "MethodNotAllowed",
    `${action} is not supported on resources of kind "${qualified(gr)}"`,
    { group: gr.group, kind: gr.resource },
  );
}

export function methodNotAllowed(): ApiError {
  return failure(
    405,
    "MethodNotAllowed",
    "the server does not allow this method on the requested resource",
    {},
  );
}

export function unsupportedMediaType(contentType: string, accepted: string[]): ApiError {
  return failure(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`,
    { causes: [{ reason: "UnsupportedMediaType", message: contentType }] },
  );
}

export function expired(message: string): ApiError {
  return failure(410, "Expired", message);
}

/** The watch cache's answer to a watch from a compacted revision. */
export function tooOldResourceVersion(requested: number, oldest: number): ApiError {
  return expired(`too old resource version: ${requested} (${oldest})`);
}

export function resourceVersionTooLarge(requested: number, current: number): ApiError {
  return failure(
    504,
    "Timeout",
    `Timeout: Too large resource version: ${requested}, current: ${current}`,
    { causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }] },
  );
}

export function unauthorized(): ApiError {
  return failure(401, "Unauthorized", "Unauthorized");
}

export function forbidden(
  gr: GroupResource,
  name: string | undefined,
  user: string,
  verb: string,
  resourcePath: string,
  namespace: string | undefined,
): ApiError {
  const where = namespace ? ` in the namespace "${namespace}"` : " at the cluster scope";
  const why = `User "${user}" cannot ${verb} resource "${resourcePath}" in API group "${gr.group}"${where}`;
  const subject = name ? `${qualified(gr)} "${name}"` : qualified(gr);
  return failure(403, "Forbidden", `${subject} is forbidden: ${why}`, resourceDetails(gr, name));
}

export function tooManyRequests(retryAfterSeconds: number): ApiError {
  const err = failure(429, "TooManyRequests", "Too many requests, please try again later.", {
    retryAfterSeconds,
  });
  return new ApiError(err.status, { "retry-after": String(retryAfterSeconds) });
}

export function internalError(cause: string): ApiError {
  return failure(500, "InternalError", `Internal error occurred: ${cause}`, {
    causes: [{ message: cause }],
  });
}

export function serviceUnavailable(message: string): ApiError {
  return failure(503, "ServiceUnavailable", message);
}

/** The Status a DELETE answers with when the object is gone at once (ReturnDeletedObject off). */
export function deleted(gr: GroupResource, name: string, uid: string): Status {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    details: withoutEmpty({ name, group: gr.group, kind: gr.resource, uid }),
  };
}

// field.Error bodies (k8s.io/apimachinery/pkg/util/validation/field).
export const fieldErrors = {
  required(field: string, detail = ""): FieldError {
    return {
      type: "FieldValueRequired",
      field,
      body: detail ? `Required value: ${detail}` : "Required value",
    };
  },
  invalid(field: string, value: unknown, detail: string): FieldError {
    return {
      type: "FieldValueInvalid",
      field,
      body: `Invalid value: ${render(value)}: ${detail}`,
    };
  },
  notSupported(field: string, value: unknown, supported: string[]): FieldError {
    const list = supported.map((s) => JSON.stringify(s)).join(", ");
    return {
      type: "FieldValueNotSupported",
      field,
      body: `Unsupported value: ${render(value)}: supported values: ${list}`,
    };
  },
  duplicate(field: string, value: unknown): FieldError {
    return { type: "FieldValueDuplicate", field, body: `Duplicate value: ${render(value)}` };
  },
  tooLong(field: string, max: number): FieldError {
    return {
      type: "FieldValueTooLong",
      field,
      body: `Too long: may not be more than ${max} bytes`,
    };
  },
  forbidden(field: string, detail: string): FieldError {
    return { type: "FieldValueForbidden", field, body: `Forbidden: ${detail}` };
  },
  immutable(field: string, value: unknown): FieldError {
    return fieldErrors.invalid(field, value, "field is immutable");
  },
};

/** Strings quoted, numbers bare, anything else as JSON (the real server prints Go values). */
function render(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value) ?? "null";
}
