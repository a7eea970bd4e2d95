// The one place a postgres.js pool is built, plus the error taxonomy the rest of the code uses
// to decide between "retry / answer 503" and "this is a bug or a bad request".
import postgres from "postgres";

export type Sql = postgres.Sql;

export interface ConnectOptions {
  /** Pool size; each API pod holds at most this many server connections. */
  max?: number;
  /** Shows up in pg_stat_activity, so a DBA can tell the apps apart. */
  applicationName?: string;
  /** NOTICEs are silenced unless a caller wants them (e.g. a test asserting on one). */
  onNotice?: (notice: postgres.Notice) => void;
}

export function connect(url: string, opts: ConnectOptions = {}): Sql {
  return postgres(url, {
    max: opts.max ?? 10,
    // Close idle connections so a quiet pod does not pin server slots for ever.
    idle_timeout: 30,
    // Fail fast when Postgres is down: callers answer 503 instead of hanging the request.
    connect_timeout: 5,
    // The driver waits this long before a connection tries again, and queued queries wait with
    // it. Its default grows to 20 s (3^n/100), which made 503s slow during an outage and kept
    // the service away for seconds after Postgres was back; half a second at most.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
    // Recycle connections now and then so pgbouncer/failover changes are picked up.
    max_lifetime: 60 * 30,
    onnotice: opts.onNotice ?? (() => undefined),
    // A missing optional field becomes SQL NULL instead of a driver error.
    transform: { undefined: null },
    connection: { application_name: opts.applicationName ?? "trainyard" },
    // int8 stays the driver's default (string): seq and counts fit in a number only up to 2^53.
  });
}

export interface PgErrorClass {
  /** SQLSTATE for server errors, the driver's or Node's code for connection errors. */
  code: string | undefined;
  /** Running the same work again (in a new transaction) may well succeed. */
  retryable: boolean;
  /** The database cannot serve us right now: answer 503 / back off, it is not our bug. */
  unavailable: boolean;
}

// Conflicts between concurrent transactions: the server is fine, the transaction lost a race.
const RETRYABLE_SQLSTATES = new Set(["40001", "40P01", "55P03"]);

// The server is shutting down, starting up or crashed (57P0x), or refuses writes: a read-only
// server (25006: default_transaction_read_only set for maintenance, or a standby not yet
// promoted after a failover), out of disk or memory (class 53: 53100 disk_full, 53200, 53300
// too_many_connections), or failing its disks (58030 io_error). We never open read-only
// transactions ourselves, so 25006 is always the server's state, not our bug.
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "25006", "58030"]);

// Errors that never reached a server or lost it: from Node's sockets/DNS or from postgres.js.
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

function codeOf(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") return code;
  // Node reports a failed happy-eyeballs connect (localhost -> ::1 and 127.0.0.1) as an
  // AggregateError whose members carry the codes.
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const innerCode = codeOf(inner);
      if (innerCode) return innerCode;
    }
  }
  return undefined;
}

export function classifyPgError(err: unknown): PgErrorClass {
  const code = codeOf(err);
  if (code === undefined) return { code, retryable: false, unavailable: false };
  // Class 08 = connection exception, as reported by the server itself; 53 = out of resources.
  const unavailable =
    CONNECTION_CODES.has(code) ||
    UNAVAILABLE_SQLSTATES.has(code) ||
    /^(08|53)[0-9A-Z]{3}$/.test(code);
  return { code, unavailable, retryable: unavailable || RETRYABLE_SQLSTATES.has(code) };
}

export function isRetryable(err: unknown): boolean {
  return classifyPgError(err).retryable;
}
