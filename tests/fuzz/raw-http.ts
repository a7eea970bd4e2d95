// HTTP/1.1 over a bare TCP socket: the fuzzer sends bytes no HTTP client would (broken request
// lines, control characters, conflicting framing, pipelined requests) and reads back every
// response on the connection, parsed just enough to judge them.
import { connect } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** No length was given: the body ran to the close (so it may not be complete yet). */
  delimitedByClose: boolean;
}

export interface Exchange {
  responses: RawResponse[];
  /** Bytes after the last complete response (a truncated or unparseable answer). */
  trailing: Buffer;
  /** A socket error (e.g. ECONNRESET), if the connection ended with one. */
  error?: string;
  timedOut: boolean;
}

export interface SendOptions {
  port: number;
  bytes: Buffer;
  /** Methods of the requests in `bytes`, in order: a HEAD answer has no body. */
  methods: readonly string[];
  /** Close our sending side once written, so a truncated request cannot wait for more. */
  halfClose?: boolean;
  timeoutMs: number;
}

/** Sends `bytes` on a fresh connection and collects what comes back until the server closes. */
export function exchange(opts: SendOptions): Promise<Exchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let timedOut = false;
    let settled = false;
    const socket = connect({ port: opts.port, host: "127.0.0.1", allowHalfOpen: true });
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const { responses, trailing } = parseResponses(Buffer.concat(chunks), opts.methods);
      resolve({ responses, trailing, timedOut, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      finish();
    }, opts.timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      // Every request answered and the last answer complete: no need to wait for the close.
      const { responses, trailing } = parseResponses(Buffer.concat(chunks), opts.methods);
      const last = responses[responses.length - 1];
      if (
        responses.length >= opts.methods.length &&
        trailing.length === 0 &&
        !last?.delimitedByClose
      )
        finish();
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
      finish();
    });
    socket.on("end", finish);
    socket.on("close", finish);
    socket.once("connect", () => {
      // The server may answer (and close) before it has read everything, e.g. a 413 or 431:
      // a write error then is expected and reported only if no answer came.
      socket.write(opts.bytes, () => {
        if (opts.halfClose) socket.end();
      });
    });
  });
}

const HEADER_END = Buffer.from("\r\n\r\n");

/** Splits a byte stream into the HTTP responses it holds; the rest is `trailing`. */
export function parseResponses(
  data: Buffer,
  methods: readonly string[],
): { responses: RawResponse[]; trailing: Buffer } {
  const responses: RawResponse[] = [];
  let offset = 0;
  for (;;) {
    const end = data.indexOf(HEADER_END, offset);
    if (end < 0) break;
    const head = data.subarray(offset, end).toString("latin1").split("\r\n");
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? "");
    if (!match) break;
    const status = Number(match[1]);
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
      }
    }
    let cursor = end + HEADER_END.length;
    // 1xx answers (100 Continue) are interim: the real answer follows.
    if (status >= 100 && status < 200) {
      offset = cursor;
      continue;
    }
    const method = methods[responses.length] ?? "GET";
    let body: Buffer = Buffer.alloc(0);
    let delimitedByClose = false;
    // A HEAD answer has no body, unless the server refused the request before it could know it
    // was a HEAD (a parse error): then the bytes that follow are not another answer.
    const rest = data.subarray(cursor);
    const headless =
      method === "HEAD" && (rest.length === 0 || rest.subarray(0, 5).toString() === "HTTP/");
    if (!headless && status !== 204 && status !== 304) {
      if (headers["transfer-encoding"]?.toLowerCase().includes("chunked")) {
        const decoded = decodeChunked(data, cursor);
        if (!decoded) break;
        body = decoded.body;
        cursor = decoded.next;
      } else if (headers["content-length"] !== undefined) {
        const length = Number(headers["content-length"]);
        if (!Number.isSafeInteger(length) || cursor + length > data.length) break;
        body = data.subarray(cursor, cursor + length);
        cursor += length;
      } else {
        // Delimited by the close: everything that is left.
        body = data.subarray(cursor);
        cursor = data.length;
        delimitedByClose = true;
      }
    }
    responses.push({ status, headers, body, delimitedByClose });
    offset = cursor;
  }
  return { responses, trailing: data.subarray(offset) };
}

function decodeChunked(data: Buffer, start: number): { body: Buffer; next: number } | undefined {
  const parts: Buffer[] = [];
  let cursor = start;
  for (;;) {
    const lineEnd = data.indexOf("\r\n", cursor);
    if (lineEnd < 0) return undefined;
    const size = parseInt(data.subarray(cursor, lineEnd).toString("latin1"), 16);
    if (!Number.isSafeInteger(size) || size < 0) return undefined;
    cursor = lineEnd + 2;
    if (size === 0) {
      const trailerEnd = data.indexOf("\r\n", cursor);
      if (trailerEnd < 0) return undefined;
      return { body: Buffer.concat(parts), next: trailerEnd + 2 };
    }
    if (cursor + size + 2 > data.length) return undefined;
    parts.push(data.subarray(cursor, cursor + size));
    cursor += size + 2;
  }
}

export interface RequestParts {
  method: string;
  /** The request target exactly as it goes on the wire (no encoding applied). */
  target: string;
  /** In order, duplicates allowed; values are written byte for byte (latin1). */
  headers?: [string, string][];
  body?: Buffer | string;
  version?: string;
  /** Leave out the Host header that is otherwise added. */
  noHost?: boolean;
  /** Leave out the Content-Length that is otherwise computed for a body. */
  noLength?: boolean;
  /** Keep the connection open after the answer (pipelining). */
  keepAlive?: boolean;
}

/** One request as bytes. Host, Connection: close and Content-Length are added unless told. */
export function encodeRequest(parts: RequestParts): Buffer {
  const body = typeof parts.body === "string" ? Buffer.from(parts.body, "utf8") : parts.body;
  const headers: [string, string][] = [];
  const has = (name: string): boolean =>
    (parts.headers ?? []).some(([n]) => n.toLowerCase() === name);
  if (!parts.noHost && !has("host")) headers.push(["Host", "127.0.0.1"]);
  if (!has("connection")) headers.push(["Connection", parts.keepAlive ? "keep-alive" : "close"]);
  headers.push(...(parts.headers ?? []));
  if (body && !parts.noLength && !has("content-length") && !has("transfer-encoding")) {
    headers.push(["Content-Length", String(body.length)]);
  }
  const head =
    `${parts.method} ${parts.target} ${parts.version ?? "HTTP/1.1"}\r\n` +
    headers.map(([n, v]) => `${n}: ${v}\r\n`).join("") +
    "\r\n";
  return Buffer.concat([Buffer.from(head, "latin1"), body ?? Buffer.alloc(0)]);
}

/** A body in chunked transfer coding, cut into pieces of at most `size` bytes. */
export function chunked(body: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const piece = body.subarray(i, i + size);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n"));
  }
  parts.push(Buffer.from("0\r\n\r\n"));
  return Buffer.concat(parts);
}
