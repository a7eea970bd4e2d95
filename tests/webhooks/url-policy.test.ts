// The callback URL policy: what is always refused, what the private-range switch refuses,
// and what the allowlist lets through.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  addressRefusal,
  callbackUrlRefusal,
  guardedLookup,
  RefusedAddressError,
} from "../../src/webhooks/url-policy.js";

const OPEN = { blockPrivate: false, allowedHosts: [] };
const CLOSED = { blockPrivate: true, allowedHosts: ["webhook-client-api", "localhost"] };

const ALWAYS_REFUSED = [
  "http://169.254.169.254/latest/meta-data/",
  "http://169.254.1.1:8080/cb",
  "http://[fe80::1]/cb",
  "http://[fd00:ec2::254]/",
  "http://0.0.0.0:8006/callback",
  "http://[::]:8006/callback",
  "http://[::ffff:169.254.169.254]/",
  "http://100.100.100.200/",
  "ftp://example.com/cb",
  "file:///etc/passwd",
  "/callback",
  "not a url",
  "http://user:pass@example.com/cb",
  `http://example.com/${"a".repeat(2100)}`,
];

test("link-local, metadata, unspecified and malformed URLs are refused under any policy", async () => {
  for (const url of ALWAYS_REFUSED) {
    for (const policy of [OPEN, CLOSED]) {
      assert.ok(await callbackUrlRefusal(url, policy), `${url} should be refused`);
    }
  }
});

test("loopback and private addresses: allowed by default, refused when blockPrivate is set", async () => {
  for (const url of [
    "http://127.0.0.1:8006/callback",
    "http://10.1.2.3/cb",
    "http://172.20.0.5/cb",
    "http://192.168.1.10/cb",
    "http://[::1]:8006/cb",
    "http://[fd12:3456::1]/cb",
  ]) {
    assert.equal(await callbackUrlRefusal(url, OPEN), undefined, url);
    assert.match((await callbackUrlRefusal(url, CLOSED)) ?? "", /private|loopback/, url);
  }
});

test("allowlisted hosts stay allowed when private ranges are blocked, but never metadata", () => {
  assert.equal(addressRefusal("127.0.0.1", "localhost", CLOSED), undefined);
  assert.equal(addressRefusal("10.96.0.12", "webhook-client-api", CLOSED), undefined);
  assert.ok(addressRefusal("10.96.0.12", "other-service", CLOSED));
  assert.ok(addressRefusal("169.254.169.254", "webhook-client-api", CLOSED));
});

test("names are judged by what they resolve to", async () => {
  assert.equal(await callbackUrlRefusal("http://localhost:8006/callback", OPEN), undefined);
  assert.equal(await callbackUrlRefusal("http://localhost:8006/callback", CLOSED), undefined);
  const strict = { blockPrivate: true, allowedHosts: [] };
  assert.match(
    (await callbackUrlRefusal("http://localhost:8006/callback", strict)) ?? "",
    /resolves to .*loopback/,
  );
  assert.match(
    (await callbackUrlRefusal("http://no-such-host.invalid/cb", OPEN)) ?? "",
    /does not resolve/,
  );
});

test("public addresses are allowed", () => {
  assert.equal(addressRefusal("93.184.216.34", "example.com", CLOSED), undefined);
  assert.equal(addressRefusal("2606:2800:220:1::1", "example.com", CLOSED), undefined);
});

test("at send time the resolved address is judged again (DNS rebinding)", async () => {
  const lookup = (policy: typeof OPEN, host: string): Promise<unknown> =>
    new Promise((resolve) => {
      guardedLookup(policy)(host, { all: true }, (err, addresses) => resolve(err ?? addresses));
    });
  const strict = { blockPrivate: true, allowedHosts: [] };
  assert.ok((await lookup(strict, "localhost")) instanceof RefusedAddressError);
  const allowed = await lookup(OPEN, "localhost");
  assert.ok(Array.isArray(allowed) && allowed.length > 0, "resolved when allowed");
});
