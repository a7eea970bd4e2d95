// Submissions per client: the token bucket on its own (a fake clock), then POST /train on every
// app answering 429 problem+json with Retry-After past the burst, keyed by token when
// authentication is on, and never counting submissions that were refused anyway.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { TokenBuckets } from "../../src/api/rate-limit.js";
import type { AppProcess } from "../support/app-process.js";
import { freshDatabase, type TestDatabase } from "../support/database.js";
import { call, type Answer } from "../support/http.js";
import { Processes } from "./processes.js";

test("a bucket: the burst at once, then one per 60/rate seconds", () => {
  let now = 0;
  const buckets = new TokenBuckets(6, 2, 100, () => now);
  assert.deepEqual(buckets.take("a"), { ok: true });
  assert.deepEqual(buckets.take("a"), { ok: true });
  assert.deepEqual(buckets.take("a"), { ok: false, retryAfterSeconds: 10 });
  // Another client has a bucket of its own.
  assert.deepEqual(buckets.take("b"), { ok: true });
  now += 5_000;
  assert.deepEqual(buckets.take("a"), { ok: false, retryAfterSeconds: 5 });
  now += 5_000;
  assert.deepEqual(buckets.take("a"), { ok: true });
  // Refills never beyond the burst.
  now += 3_600_000;
  assert.deepEqual([buckets.take("a"), buckets.take("a")], [{ ok: true }, { ok: true }]);
  assert.equal(buckets.take("a").ok, false);
});

test("a bucket map stays bounded: the least recently seen clients go first", () => {
  const now = 0;
  const buckets = new TokenBuckets(60, 1, 3, () => now);
  for (const client of ["a", "b", "c"]) assert.equal(buckets.take(client).ok, true);
  assert.equal(buckets.take("a").ok, false); // a is now the most recently seen
  assert.equal(buckets.take("d").ok, true); // b is dropped to make room
  assert.equal(buckets.size, 3);
  assert.equal(buckets.take("a").ok, false, "a kept its empty bucket");
  assert.equal(buckets.take("b").ok, true, "b starts again with a full bucket");
});

const LIMITED = { TRAINYARD_SUBMIT_RATE_PER_MINUTE: "6", TRAINYARD_SUBMIT_BURST: "2" };
const TOKEN_A = randomBytes(24).toString("base64url");
const TOKEN_B = randomBytes(24).toString("base64url");
const READ = randomBytes(24).toString("base64url");

function assertLimited(res: Answer): void {
  assert.equal(res.status, 429, res.text);
  assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
  assert.equal(res.body.code, "rate_limited");
  const retryAfter = Number(res.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 10, `Retry-After ${retryAfter}`);
}

describe("POST /train is rate-limited on every app", () => {
  let db: TestDatabase;
  const procs = new Processes();
  const apps = {} as Record<"naive" | "polling" | "webhook" | "webhook-client", AppProcess>;
  let authed: AppProcess;
  let proxied: AppProcess;

  before(async () => {
    db = await freshDatabase();
    // The webhook client's own server has no limit, so that the client's limit is what is seen.
    const server = await procs.start("webhook", {
      databaseUrl: db.url,
      env: { TRAINYARD_SUBMIT_RATE_PER_MINUTE: "0" },
    });
    const env = { ...LIMITED, TRAINYARD_NAIVE_WAIT_SECONDS: "1" };
    for (const name of ["naive", "polling", "webhook"] as const) {
      apps[name] = await procs.start(name, { databaseUrl: db.url, env });
    }
    apps["webhook-client"] = await procs.start("webhook-client", {
      databaseUrl: db.url,
      env: { ...env, TRAINYARD_WEBHOOK_SERVER_URL: server.url("webhook") },
    });
    authed = await procs.start("polling", {
      databaseUrl: db.url,
      env: {
        ...env,
        TRAINYARD_API_TOKENS: `${TOKEN_A},${TOKEN_B}`,
        TRAINYARD_API_READ_TOKENS: READ,
      },
    });
    proxied = await procs.start("polling", {
      databaseUrl: db.url,
      env: { ...env, TRAINYARD_TRUST_PROXY: "127.0.0.1" },
    });
  });
  after(async () => {
    await procs.stop();
    await db?.drop();
  });

  for (const name of ["naive", "polling", "webhook", "webhook-client"] as const) {
    test(`${name}: a burst of 2, then 429 with Retry-After; refused requests do not count`, async () => {
      const base = apps[name].url(name);
      const body = name === "webhook" ? { callback_url: "http://127.0.0.1:9/cb" } : {};
      // Invalid submissions are refused before the limit and cost nothing.
      for (let i = 0; i < 3; i++) {
        const bad = await call("POST", `${base}/train`, { ...body, duration_seconds: -1 });
        assert.equal(bad.status, 400, bad.text);
      }
      const accepted = await Promise.all([1, 2].map(() => call("POST", `${base}/train`, body)));
      for (const res of accepted) assert.ok([200, 202].includes(res.status), res.text);
      assertLimited(await call("POST", `${base}/train`, body));
      // X-Forwarded-For is nobody's word unless TRAINYARD_TRUST_PROXY says so: no way around.
      assertLimited(
        await call("POST", `${base}/train`, body, { "x-forwarded-for": "203.0.113.9" }),
      );
      // Only submissions are limited: another POST goes through to its own answer.
      const predict = await call("POST", `${base}/predict`, { data: {} });
      assert.equal(predict.status, 400, predict.text);
    });
  }

  test("with tokens, each token has its own bucket; a read token is refused before counting", async () => {
    const base = authed.url("polling");
    const as = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
    const read = await call("POST", `${base}/train`, {}, as(READ));
    assert.equal(read.status, 403, read.text);
    for (let i = 0; i < 2; i++) {
      const res = await call("POST", `${base}/train`, {}, as(TOKEN_A));
      assert.equal(res.status, 202, res.text);
    }
    assertLimited(await call("POST", `${base}/train`, {}, as(TOKEN_A)));
    const other = await call("POST", `${base}/train`, {}, as(TOKEN_B));
    assert.equal(other.status, 202, other.text);
    assert.ok(
      authed.logs.some((l) => l.includes("submission rate-limited") && l.includes("token-1")),
    );
  });

  test("behind a trusted proxy, X-Forwarded-For names the client", async () => {
    const base = proxied.url("polling");
    const from = (address: string): Record<string, string> => ({ "x-forwarded-for": address });
    for (let i = 0; i < 2; i++) {
      const res = await call("POST", `${base}/train`, {}, from("203.0.113.1"));
      assert.equal(res.status, 202, res.text);
    }
    assertLimited(await call("POST", `${base}/train`, {}, from("203.0.113.1")));
    const other = await call("POST", `${base}/train`, {}, from("203.0.113.2"));
    assert.equal(other.status, 202, other.text);
  });
});
