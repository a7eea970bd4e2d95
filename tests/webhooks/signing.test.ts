// Our signatures must verify with the reference Standard Webhooks library, as a receiver
// would check them, and our own verifier must refuse what that library refuses.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { Webhook } from "standardwebhooks";
import { verifyWebhook, webhookHeaders } from "../../src/webhooks/signing.js";

const secret = (): string => `whsec_${randomBytes(24).toString("base64")}`;
const now = (): number => Math.floor(Date.now() / 1000);
const BODY = JSON.stringify({ id: "t1", status: "completed", result: { n: 333 } });

test("the standardwebhooks package verifies what we sign", () => {
  const key = secret();
  const headers = webhookHeaders([key], "msg_1", now(), BODY);
  const verified = new Webhook(key).verify(BODY, { ...headers });
  assert.deepEqual(verified, JSON.parse(BODY));
});

test("with two secrets (rotation) a receiver holding either one verifies", () => {
  const [oldKey, newKey] = [secret(), secret()];
  const headers = webhookHeaders([newKey, oldKey], "msg_2", now(), BODY);
  assert.equal(headers["webhook-signature"]?.split(" ").length, 2);
  for (const key of [oldKey, newKey]) {
    assert.doesNotThrow(() => new Webhook(key).verify(BODY, { ...headers }));
  }
  assert.throws(() => new Webhook(secret()).verify(BODY, { ...headers }));
});

test("the reference library refuses a tampered body, and so do we", () => {
  const key = secret();
  const headers = webhookHeaders([key], "msg_3", now(), BODY);
  const tampered = BODY.replace("333", "334");
  assert.throws(() => new Webhook(key).verify(tampered, { ...headers }));
  assert.deepEqual(verifyWebhook([key], { ...headers }, tampered), {
    ok: false,
    reason: "bad_signature",
  });
  assert.deepEqual(verifyWebhook([key], { ...headers }, BODY), { ok: true });
});

test("a signature made by the reference library verifies with ours", () => {
  const key = secret();
  const ts = new Date();
  const signature = new Webhook(key).sign("msg_4", ts, BODY);
  const headers = {
    "webhook-id": "msg_4",
    "webhook-timestamp": String(Math.floor(ts.getTime() / 1000)),
    "webhook-signature": signature,
  };
  assert.deepEqual(verifyWebhook([secret(), key], headers, BODY), { ok: true });
});

test("timestamps outside the window and missing headers are refused", () => {
  const key = secret();
  const old = webhookHeaders([key], "msg_5", now() - 3600, BODY);
  assert.deepEqual(verifyWebhook([key], { ...old }, BODY), {
    ok: false,
    reason: "timestamp_out_of_range",
  });
  assert.throws(() => new Webhook(key).verify(BODY, { ...old }), /timestamp/i);
  assert.deepEqual(verifyWebhook([key], { "webhook-id": "x" }, BODY), {
    ok: false,
    reason: "missing_headers",
  });
});

test("without secrets the headers carry id and timestamp but no signature", () => {
  const headers = webhookHeaders([], "msg_6", 1700000000, BODY);
  assert.deepEqual(headers, { "webhook-id": "msg_6", "webhook-timestamp": "1700000000" });
});
