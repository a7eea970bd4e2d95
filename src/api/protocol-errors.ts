// Answers for requests that never reach a route: bytes Node's HTTP parser refuses (400), headers
// past TRAINYARD_MAX_HEADER_BYTES (431), a request that is too slow to arrive (408), a path
// fastify cannot decode (400) or with a segment past its limit (414), Expect other than
// 100-continue (417), CONNECT (405), HTTP/1.1 without Host (400). Node and fastify answer these
// themselves with bare or application/json bodies, or by closing; every answer of ours is the
// catalogue's problem+json, found by the fuzzer (tests/fuzz).
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { sendProblem } from "./error-handler.js";
import { problem, PROBLEM_CONTENT_TYPE, type ErrorCode } from "./errors.js";

/** A whole HTTP/1.1 answer as bytes, for sockets that no ServerResponse owns. */
export function rawProblem(code: ErrorCode, detail?: string): string {
  const body = JSON.stringify(problem(code, detail));
  const { status } = problem(code);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n` +
    `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    "Connection: close\r\n\r\n" +
    body
  );
}

function clientErrorCode(err: NodeJS.ErrnoException): [ErrorCode, string] {
  switch (err.code) {
    case "HPE_HEADER_OVERFLOW":
      return ["headers_too_large", "The request line and headers exceed the limit"];
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return ["request_timeout", "The request did not arrive in time"];
    default:
      return ["malformed_request", `The request could not be parsed (${err.code ?? "error"})`];
  }
}

/** fastify's clientErrorHandler: the parser refused the bytes, or the request timed out. */
export function clientErrorHandler(
  this: FastifyInstance,
  err: NodeJS.ErrnoException,
  socket: Duplex,
): void {
  // A reset connection has nobody left to answer.
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [code, detail] = clientErrorCode(err);
  this.log.debug({ err: { code: err.code, message: err.message } }, "client error");
  // As Node does: answer only if no answer of an earlier request on this connection has begun,
  // so that the peer never sees two answers interleaved.
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) socket.write(rawProblem(code, detail));
  socket.destroy();
}

/** fastify's frameworkErrors: the router could not decode the URL, or a segment is too long. */
export function frameworkErrors(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  if (error.code === "FST_ERR_MAX_PARAM_LENGTH") {
    void sendProblem(reply, request, "uri_too_long", "A path segment is longer than allowed", {
      field: "url",
    });
    return;
  }
  void sendProblem(reply, request, "malformed_request", "The URL cannot be decoded", {
    field: "url",
  });
}

function endWith(res: ServerResponse, code: ErrorCode, detail: string): void {
  const body = JSON.stringify(problem(code, detail));
  res.writeHead(problem(code).status, {
    "content-type": PROBLEM_CONTENT_TYPE,
    "content-length": Buffer.byteLength(body),
    connection: "close",
  });
  res.end(body);
}

/** The answers Node's HTTP server would give bare, and the Host check it was doing for us. */
export function installProtocolGuards(app: FastifyInstance): void {
  // With a listener, Node stops answering 417 itself for an Expect it does not know.
  app.server.on("checkExpectation", (_req: IncomingMessage, res: ServerResponse) =>
    endWith(res, "expectation_failed", "Only Expect: 100-continue is supported"),
  );
  // Without a listener, Node closes the connection of a CONNECT without a word.
  app.server.on("connect", (_req: IncomingMessage, socket: Duplex) => {
    socket.end(rawProblem("method_not_allowed", "CONNECT is not served: this is no proxy"));
  });
  // Node's own check (requireHostHeader, turned off in server.ts) answers a bare 400.
  app.addHook("onRequest", async (request, reply) => {
    if (request.raw.httpVersion === "1.1" && request.headers.host === undefined) {
      return sendProblem(
        reply,
        request,
        "malformed_request",
        "An HTTP/1.1 request must carry a Host header",
        { field: "host" },
      );
    }
  });
}
