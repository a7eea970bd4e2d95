// Size and time limits, and HTTP that never reaches a route, over raw sockets: headers past
// TRAINYARD_MAX_HEADER_BYTES are a 431, bodies past TRAINYARD_BODY_LIMIT_BYTES a 413, a request
// dribbled slower than TRAINYARD_REQUEST_TIMEOUT_SECONDS a 408; every one problem+json, and the
// process lives on. A long answer (the naive wait) is not cut by the request timeout.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startApp, type AppProcess } from "../support/app-process.js";
import { freshDatabase, type TestDatabase } from "../support/database.js";
import { call } from "../support/http.js";
import { chunked, encodeRequest, exchange, type RawResponse } from "../fuzz/raw-http.js";

const MAX_HEADER_BYTES = 4096;
const BODY_LIMIT_BYTES = 2048;

function assertProblem(res: RawResponse | undefined, status: number, code: string): void {
  assert.ok(res, "no answer");
  assert.equal(res.status, status, res.body.toString());
  assert.match(res.headers["content-type"] ?? "", /^application\/problem\+json/);
  const body = JSON.parse(res.body.toString()) as { code: string; status: number };
  assert.equal(body.code, code);
  assert.equal(body.status, status);
}

describe("HTTP limits", () => {
  let db: TestDatabase;
  let polling: AppProcess;
  let naive: AppProcess;

  const send = async (
    bytes: Buffer | string,
    timeoutMs = 5000,
  ): Promise<RawResponse | undefined> => {
    const ex = await exchange({
      port: polling.ports.polling,
      bytes: Buffer.from(bytes),
      methods: ["GET"],
      timeoutMs,
    });
    return ex.responses[0];
  };

  before(async () => {
    db = await freshDatabase();
    const env = {
      TRAINYARD_MAX_HEADER_BYTES: String(MAX_HEADER_BYTES),
      TRAINYARD_BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
      TRAINYARD_REQUEST_TIMEOUT_SECONDS: "1",
      TRAINYARD_NAIVE_WAIT_SECONDS: "3",
    };
    polling = await startApp("polling", { databaseUrl: db.url, env });
    naive = await startApp("naive", { databaseUrl: db.url, env });
  });
  after(async () => {
    await Promise.all([polling?.stop(), naive?.stop()]);
    await db?.drop();
  });

  test("headers: under the limit they pass, over it 431", async () => {
    const withHeader = (size: number): Buffer =>
      encodeRequest({ method: "GET", target: "/livez", headers: [["X-Pad", "p".repeat(size)]] });
    assert.equal((await send(withHeader(MAX_HEADER_BYTES - 200)))?.status, 200);
    assertProblem(await send(withHeader(MAX_HEADER_BYTES + 1)), 431, "headers_too_large");
    const many = Array.from({ length: 1000 }, (_, i): [string, string] => [`X-H${i}`, "v"]);
    assertProblem(
      await send(encodeRequest({ method: "GET", target: "/livez", headers: many })),
      431,
      "headers_too_large",
    );
  });

  test("bodies: at the limit they are read, past it 413, declared or streamed", async () => {
    const json = (size: number): string => `{"pad":"${"x".repeat(size - 10)}"}`;
    const post = (body: Buffer | string, headers: [string, string][] = []): Buffer =>
      encodeRequest({
        method: "POST",
        target: "/predict",
        headers: [["Content-Type", "application/json"], ...headers],
        body,
      });
    // Read and judged: the field is wrong, the size is fine.
    assertProblem(await send(post(json(BODY_LIMIT_BYTES))), 400, "validation_failed");
    assertProblem(await send(post(json(BODY_LIMIT_BYTES + 1))), 413, "payload_too_large");
    assertProblem(
      await send(
        post(chunked(Buffer.from(json(10 * BODY_LIMIT_BYTES)), 512), [
          ["Transfer-Encoding", "chunked"],
        ]),
      ),
      413,
      "payload_too_large",
    );
  });

  test("a request dribbled slower than the request timeout gets 408", async () => {
    const started = Date.now();
    // The body never comes.
    assertProblem(
      await send(
        "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
          "Content-Length: 100\r\n\r\n{",
      ),
      408,
      "request_timeout",
    );
    // Nor does the end of the headers.
    assertProblem(await send("GET /livez HTTP/1.1\r\nHost: x\r\n"), 408, "request_timeout");
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });

  test("an answer that takes longer than the request timeout is not cut short", async () => {
    const started = Date.now();
    // No controller runs here: the naive app waits its 3 s, then answers 202.
    const res = await call("POST", `${naive.url("naive")}/train`, {});
    assert.equal(res.status, 202, res.text);
    assert.ok(Date.now() - started >= 2900);
  });

  test("HTTP that reaches no route: no Host, unknown Expect, CONNECT, garbage", async () => {
    const noHost = await send("GET /livez HTTP/1.1\r\nConnection: close\r\n\r\n");
    assertProblem(noHost, 400, "malformed_request");
    // HTTP/1.0 has no Host requirement.
    assert.equal((await send("GET /livez HTTP/1.0\r\n\r\n"))?.status, 200);
    assertProblem(
      await send("GET /livez HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n"),
      417,
      "expectation_failed",
    );
    assertProblem(
      await send("CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n"),
      405,
      "method_not_allowed",
    );
    assertProblem(
      await send("GET /livez HTTP/1.1\r\nHost: x\r\nX: a\u0001b\r\n\r\n"),
      400,
      "malformed_request",
    );
    assertProblem(await send("\u0016\u0003\u0001\u0000\u00a5\u0001"), 400, "malformed_request");
  });

  test("after all that, the apps are alive and ready", async () => {
    for (const [proc, name] of [
      [polling, "polling"],
      [naive, "naive"],
    ] as const) {
      assert.equal(proc.child.exitCode, null);
      assert.equal((await call("GET", `${proc.url(name)}/readyz`)).status, 200);
    }
  });
});
