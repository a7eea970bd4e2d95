// The security settings in src/config.ts: off or generous by default (the README's curl examples
// work as they are), validated at start, and a bad token named by its variable, never echoed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../../src/config.js";

const TOKEN_A = "a".repeat(16);
const TOKEN_B = "B0-._~+/".repeat(4) + "==";

test("defaults: no tokens, 60 submissions a minute in bursts of 30, 16 KiB of headers, 30 s", () => {
  const config = loadConfig({});
  assert.deepEqual([config.apiTokens, config.apiReadTokens], [[], []]);
  assert.equal(config.webhooks.serverToken, undefined);
  assert.deepEqual([config.submitRatePerMinute, config.submitBurst], [60, 30]);
  assert.equal(config.maxHeaderBytes, 16384);
  assert.equal(config.requestTimeoutSeconds, 30);
  assert.deepEqual(config.trustProxy, []);
});

test("tokens are comma-separated lists; the webhook client's token is one token", () => {
  const config = loadConfig({
    TRAINYARD_API_TOKENS: ` ${TOKEN_A} , ${TOKEN_B} `,
    TRAINYARD_API_READ_TOKENS: "r".repeat(20),
    TRAINYARD_WEBHOOK_SERVER_TOKEN: TOKEN_B,
    TRAINYARD_SUBMIT_RATE_PER_MINUTE: "0",
    TRAINYARD_TRUST_PROXY: "10.0.0.0/8, 127.0.0.1, fd00::/8",
  });
  assert.deepEqual(config.apiTokens, [TOKEN_A, TOKEN_B]);
  assert.deepEqual(config.apiReadTokens, ["r".repeat(20)]);
  assert.equal(config.webhooks.serverToken, TOKEN_B);
  assert.equal(config.submitRatePerMinute, 0);
  assert.deepEqual(config.trustProxy, ["10.0.0.0/8", "127.0.0.1", "fd00::/8"]);
});

test("a bad security setting stops start-up naming the variable, never echoing a token", () => {
  const secret = "hunter2hunter2";
  const cases: [Record<string, string>, string][] = [
    [{ TRAINYARD_API_TOKENS: secret }, "TRAINYARD_API_TOKENS"], // too short
    [{ TRAINYARD_API_TOKENS: `${secret}${secret} x` }, "TRAINYARD_API_TOKENS"], // a space
    [{ TRAINYARD_API_READ_TOKENS: `${secret}${secret}"` }, "TRAINYARD_API_READ_TOKENS"],
    [
      {
        TRAINYARD_API_TOKENS: `${secret}${secret}`,
        TRAINYARD_API_READ_TOKENS: `${secret}${secret}`,
      },
      "TRAINYARD_API_READ_TOKENS",
    ],
    [{ TRAINYARD_WEBHOOK_SERVER_TOKEN: `${secret}!` }, "TRAINYARD_WEBHOOK_SERVER_TOKEN"],
    [
      { TRAINYARD_WEBHOOK_SERVER_TOKEN: `${TOKEN_A},${secret}${secret}` },
      "TRAINYARD_WEBHOOK_SERVER_TOKEN",
    ],
    [{ TRAINYARD_SUBMIT_RATE_PER_MINUTE: "-1" }, "TRAINYARD_SUBMIT_RATE_PER_MINUTE"],
    [{ TRAINYARD_SUBMIT_BURST: "0" }, "TRAINYARD_SUBMIT_BURST"],
    [{ TRAINYARD_MAX_HEADER_BYTES: "100" }, "TRAINYARD_MAX_HEADER_BYTES"],
    [{ TRAINYARD_REQUEST_TIMEOUT_SECONDS: "0" }, "TRAINYARD_REQUEST_TIMEOUT_SECONDS"],
    [{ TRAINYARD_TRUST_PROXY: "proxy.example" }, "TRAINYARD_TRUST_PROXY"],
    [{ TRAINYARD_TRUST_PROXY: "10.0.0.0/33" }, "TRAINYARD_TRUST_PROXY"],
  ];
  for (const [env, variable] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) =>
        err instanceof ConfigError && err.variable === variable && !err.message.includes(secret),
      `${variable}=${JSON.stringify(env)}`,
    );
  }
});
