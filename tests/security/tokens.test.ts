// The pieces of src/api/auth.ts on their own: the token table, the Authorization header parser
// and the route policy (see auth.test.ts for the same against running apps).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { accessOf, bearerToken, TokenTable } from "../../src/api/auth.js";

const full = randomBytes(32).toString("base64url");
const full2 = randomBytes(32).toString("base64url");
const read = randomBytes(32).toString("base64url");

test("a token names its principal; a near miss, a prefix or nothing names none", () => {
  const table = new TokenTable([full, full2], [read]);
  assert.equal(table.enabled, true);
  assert.deepEqual(table.lookup(full), { id: "token-1", grant: "full" });
  assert.deepEqual(table.lookup(full2), { id: "token-2", grant: "full" });
  assert.deepEqual(table.lookup(read), { id: "read-token-1", grant: "read" });
  for (const wrong of ["", full.slice(0, -1), `${full}x`, full.toUpperCase(), ` ${full}`]) {
    assert.equal(table.lookup(wrong), undefined, JSON.stringify(wrong));
  }
  assert.equal(new TokenTable([], []).enabled, false);
});

test("Authorization: Bearer is parsed strictly", () => {
  assert.equal(bearerToken(undefined), undefined);
  assert.equal(bearerToken(`Bearer ${full}`), full);
  assert.equal(bearerToken(`bearer  ${full} `), full);
  assert.equal(bearerToken("Bearer abc=="), "abc==");
  for (const bad of [
    "",
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "Bearer a b",
    "Bearer é",
    "Token x",
  ]) {
    assert.equal(bearerToken(bad), null, bad);
  }
});

test("the policy: probes and docs public, reads read, the rest (and anything new) write", () => {
  const cases: [string, string, string][] = [
    ["GET", "/livez", "public"],
    ["GET", "/readyz", "public"],
    ["GET", "/openapi.json", "public"],
    ["GET", "/docs", "public"],
    ["GET", "/docs/static/index.html", "public"],
    ["GET", "/train/:id/status", "read"],
    ["HEAD", "/train/:id/status", "read"],
    ["GET", "/train/:id/result", "read"],
    ["GET", "/train", "read"],
    ["GET", "/train/:id/deliveries", "read"],
    ["GET", "/callbacks", "read"],
    ["POST", "/predict", "read"],
    ["POST", "/train", "write"],
    ["DELETE", "/train/:id", "write"],
    ["POST", "/train/:id/deliveries/redeliver", "write"],
    ["POST", "/callback", "callback"],
    ["POST", "/admin/reset", "write"],
    ["GET", "/some/new/route", "write"],
  ];
  for (const [method, url, access] of cases) {
    assert.equal(accessOf(method, url), access, `${method} ${url}`);
  }
});
