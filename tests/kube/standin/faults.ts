// Fault injection and request accounting: what tests switch on to see how a client copes
// with a misbehaving API server, and what they read to assert how a client used it.
import {
  ApiError,
  forbidden,
  internalError,
  serviceUnavailable,
  tooManyRequests,
  type GroupResource,
} from "./status.js";

/** Which requests a fault applies to; every given criterion must match. */
export interface RequestFilter {
  /** HTTP method, e.g. "POST". */
  method?: string;
  /** Tested against the path without the query, e.g. /\/jobs$/. */
  path?: RegExp;
  /** Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection. */
  verb?: string;
  /** Resource name as in the URL: jobs, pods, secrets, pods/log. */
  resource?: string;
}

export interface FailOptions extends RequestFilter {
  /** 500 (InternalError, default), 429 (TooManyRequests), 503, or any other status code. */
  status?: number;
  /** Retry-After seconds for 429 (default 1). */
  retryAfterSeconds?: number;
  /**
   * Perform the request, then answer with the failure anyway: the client cannot know whether
   * its create or delete happened (a response lost after the commit).
   */
  afterCommit?: boolean;
  /** Instead of an answer, reset the connection (after the commit when afterCommit is set). */
  dropConnection?: boolean;
  /** Answer 429 as API Priority and Fairness does: plain text, not a Status. */
  plainText?: boolean;
}

interface FailRule extends FailOptions {
  remaining: number;
}

export interface RequestRecord {
  at: number;
  method: string;
  path: string;
  query: string;
  verb: string;
  /** jobs, pods, secrets, pods/log...; "" for discovery and unknown paths. */
  resource: string;
  namespace?: string;
  name?: string;
  /** Status code answered (a watch: 200 once it streams); 0 if the connection was reset. */
  status: number;
  /** Set when an injected fault reset the connection. */
  dropped?: boolean;
  fault?: "injected" | "forbidden" | "unauthorized";
}

export interface RequestInfoLike {
  method: string;
  path: string;
  verb: string;
  resource: string;
}

function matches(filter: RequestFilter, req: RequestInfoLike): boolean {
  if (filter.method && filter.method.toUpperCase() !== req.method) return false;
  if (filter.path && !filter.path.test(req.path)) return false;
  if (filter.verb && filter.verb !== req.verb) return false;
  if (filter.resource && filter.resource !== req.resource) return false;
  return true;
}

export interface InjectedFailure {
  error: ApiError;
  afterCommit: boolean;
  dropConnection: boolean;
  plainText: boolean;
}

export class Faults {
  private failRules: FailRule[] = [];
  private delays: { ms: number; filter: RequestFilter }[] = [];
  private forbiddenRules: RequestFilter[] = [];
  readonly requests: RequestRecord[] = [];

  failNext(count: number, options: FailOptions = {}): void {
    this.failRules.push({ ...options, remaining: count });
  }

  /** Every matching response waits `ms` first; returns the function that lifts the delay. */
  delay(ms: number, filter: RequestFilter = {}): () => void {
    const rule = { ms, filter };
    this.delays.push(rule);
    return () => {
      this.delays = this.delays.filter((d) => d !== rule);
    };
  }

  forbid(filter: RequestFilter): () => void {
    this.forbiddenRules.push(filter);
    return () => {
      this.forbiddenRules = this.forbiddenRules.filter((f) => f !== filter);
    };
  }

  clear(): void {
    this.failRules = [];
    this.delays = [];
    this.forbiddenRules = [];
  }

  delayFor(req: RequestInfoLike): number {
    return this.delays.filter((d) => matches(d.filter, req)).reduce((sum, d) => sum + d.ms, 0);
  }

  isForbidden(req: RequestInfoLike): boolean {
    return this.forbiddenRules.some((f) => matches(f, req));
  }

  forbiddenError(
    req: RequestInfoLike & { name?: string; namespace?: string },
    gr: GroupResource,
    user: string,
  ): ApiError {
    return forbidden(gr, req.name, user, req.verb, req.resource, req.namespace);
  }

  /** Consumes one use of the first matching rule. */
  takeFailure(req: RequestInfoLike): InjectedFailure | undefined {
    const rule = this.failRules.find((r) => r.remaining > 0 && matches(r, req));
    if (!rule) return undefined;
    rule.remaining--;
    this.failRules = this.failRules.filter((r) => r.remaining > 0);
    const status = rule.status ?? 500;
    const error =
      status === 429
        ? tooManyRequests(rule.retryAfterSeconds ?? 1)
        : status === 503
          ? serviceUnavailable("the server is currently unable to handle the request")
          : status === 500
            ? internalError("injected by the stand-in API server")
            : new ApiError({
                kind: "Status",
                apiVersion: "v1",
                metadata: {},
                status: "Failure",
                message: `injected by the stand-in API server (${status})`,
                code: status,
              });
    return {
      error,
      afterCommit: rule.afterCommit ?? false,
      dropConnection: rule.dropConnection ?? false,
      plainText: rule.plainText ?? false,
    };
  }

  /** Requests seen so far, optionally only those matching `filter`. */
  log(filter: RequestFilter = {}): RequestRecord[] {
    return this.requests.filter((r) => matches(filter, r));
  }
}
