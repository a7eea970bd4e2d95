// A table of bad requests: each gets its 4xx, as problem+json, with a stable code and the
// field at fault. None may answer 5xx.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startApp, type AppProcess } from "../support/app-process.js";
import { freshDatabase } from "../support/database.js";
import { call } from "../support/http.js";

const PENGUIN = {
  species: "Adelie",
  island: "Dream",
  bill_length_mm: 39,
  bill_depth_mm: 18,
  flipper_length_mm: 190,
  sex: "male",
};

interface Case {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  code: string;
  field?: string;
}

const unknownId = randomUUID();
const CASES: Case[] = [
  {
    name: "negative duration",
    method: "POST",
    path: "/train",
    body: { duration_seconds: -1 },
    status: 400,
    code: "validation_failed",
    field: "duration_seconds",
  },
  {
    name: "duration over the bound",
    method: "POST",
    path: "/train",
    body: { duration_seconds: 3601 },
    status: 400,
    code: "validation_failed",
    field: "duration_seconds",
  },
  {
    name: "duration as a string",
    method: "POST",
    path: "/train",
    body: { duration_seconds: "5" },
    status: 400,
    code: "validation_failed",
    field: "duration_seconds",
  },
  {
    name: "fractional duration",
    method: "POST",
    path: "/train",
    body: { duration_seconds: 1.5 },
    status: 400,
    code: "validation_failed",
    field: "duration_seconds",
  },
  {
    name: "no attempt at all",
    method: "POST",
    path: "/train",
    body: { max_attempts: 0 },
    status: 400,
    code: "validation_failed",
    field: "max_attempts",
  },
  {
    name: "more attempts than the service allows",
    method: "POST",
    path: "/train",
    body: { max_attempts: 11 },
    status: 400,
    code: "validation_failed",
    field: "max_attempts",
  },
  {
    name: "attempts as a string",
    method: "POST",
    path: "/train",
    body: { max_attempts: "3" },
    status: 400,
    code: "validation_failed",
    field: "max_attempts",
  },
  {
    name: "negative retry backoff",
    method: "POST",
    path: "/train",
    body: { max_attempts: 2, retry_backoff_seconds: -1 },
    status: 400,
    code: "validation_failed",
    field: "retry_backoff_seconds",
  },
  {
    name: "retry backoff over an hour",
    method: "POST",
    path: "/train",
    body: { max_attempts: 2, retry_backoff_seconds: 3601 },
    status: 400,
    code: "validation_failed",
    field: "retry_backoff_seconds",
  },
  {
    name: "retry_on_timeout not a boolean",
    method: "POST",
    path: "/train",
    body: { max_attempts: 2, retry_on_timeout: "yes" },
    status: 400,
    code: "validation_failed",
    field: "retry_on_timeout",
  },
  {
    name: "unknown field",
    method: "POST",
    path: "/train",
    body: { epochs: 3 },
    status: 400,
    code: "validation_failed",
    field: "epochs",
  },
  {
    name: "body not an object",
    method: "POST",
    path: "/train",
    body: "[1,2]",
    status: 400,
    code: "validation_failed",
    field: "body",
  },
  {
    name: "broken JSON",
    method: "POST",
    path: "/train",
    body: "{",
    status: 400,
    code: "invalid_body",
    field: "body",
  },
  {
    name: "empty JSON body",
    method: "POST",
    path: "/train",
    body: "",
    headers: { "content-type": "application/json" },
    status: 400,
    code: "invalid_body",
    field: "body",
  },
  {
    name: "text body",
    method: "POST",
    path: "/train",
    body: "hello",
    headers: { "content-type": "text/plain" },
    status: 415,
    code: "unsupported_media_type",
  },
  {
    name: "huge body",
    method: "POST",
    path: "/train",
    body: JSON.stringify({ pad: "x".repeat(70_000) }),
    status: 413,
    code: "payload_too_large",
  },
  {
    name: "idempotency key too long",
    method: "POST",
    path: "/train",
    body: {},
    headers: { "idempotency-key": "k".repeat(300) },
    status: 400,
    code: "validation_failed",
    field: "idempotency-key",
  },
  {
    name: "malformed id (status)",
    method: "GET",
    path: "/train/not-a-uuid/status",
    status: 400,
    code: "validation_failed",
    field: "id",
  },
  {
    name: "malformed id (cancel)",
    method: "DELETE",
    path: "/train/1234",
    status: 400,
    code: "validation_failed",
    field: "id",
  },
  {
    name: "unknown id (status)",
    method: "GET",
    path: `/train/${unknownId}/status`,
    status: 404,
    code: "task_not_found",
    field: "id",
  },
  {
    name: "unknown id (result)",
    method: "GET",
    path: `/train/${unknownId}/result`,
    status: 404,
    code: "task_not_found",
    field: "id",
  },
  {
    name: "unknown id (cancel)",
    method: "DELETE",
    path: `/train/${unknownId}`,
    status: 404,
    code: "task_not_found",
    field: "id",
  },
  {
    name: "unknown status filter",
    method: "GET",
    path: "/train?status=done",
    status: 400,
    code: "validation_failed",
    field: "status",
  },
  {
    name: "limit zero",
    method: "GET",
    path: "/train?limit=0",
    status: 400,
    code: "validation_failed",
    field: "limit",
  },
  {
    name: "limit too large",
    method: "GET",
    path: "/train?limit=1000",
    status: 400,
    code: "validation_failed",
    field: "limit",
  },
  {
    name: "cursor of the wrong alphabet",
    method: "GET",
    path: "/train?cursor=%21%21",
    status: 400,
    code: "validation_failed",
    field: "cursor",
  },
  {
    name: "cursor this API never gave",
    method: "GET",
    path: "/train?cursor=aGVsbG8",
    status: 400,
    code: "validation_failed",
    field: "cursor",
  },
  {
    name: "predict without data",
    method: "POST",
    path: "/predict",
    body: {},
    status: 400,
    code: "validation_failed",
    field: "data",
  },
  {
    name: "predict with a number",
    method: "POST",
    path: "/predict",
    body: { data: 5 },
    status: 400,
    code: "validation_failed",
    field: "data",
  },
  {
    name: "predict with no rows",
    method: "POST",
    path: "/predict",
    body: { data: [] },
    status: 400,
    code: "validation_failed",
    field: "data",
  },
  {
    name: "predict unknown species",
    method: "POST",
    path: "/predict",
    body: { data: { ...PENGUIN, species: "Emperor" } },
    status: 400,
    code: "validation_failed",
    field: "data.species",
  },
  {
    name: "predict unknown island",
    method: "POST",
    path: "/predict",
    body: { data: [PENGUIN, { ...PENGUIN, island: "Atlantis" }] },
    status: 400,
    code: "validation_failed",
    field: "data[1].island",
  },
  {
    name: "predict unknown sex",
    method: "POST",
    path: "/predict",
    body: { data: { ...PENGUIN, sex: "x" } },
    status: 400,
    code: "validation_failed",
    field: "data.sex",
  },
  {
    name: "predict missing field",
    method: "POST",
    path: "/predict",
    body: { data: { ...PENGUIN, bill_length_mm: undefined } },
    status: 400,
    code: "validation_failed",
    field: "data.bill_length_mm",
  },
  {
    name: "predict numeric string",
    method: "POST",
    path: "/predict",
    body: { data: { ...PENGUIN, bill_depth_mm: "18" } },
    status: 400,
    code: "validation_failed",
    field: "data.bill_depth_mm",
  },
  // Found by tests/fuzz: deep bodies broke Postgres and JSON.stringify (500s).
  {
    name: "body nested deeper than 32 levels",
    method: "POST",
    path: "/predict",
    body: `{"data":${"[".repeat(40)}${"]".repeat(40)}}`,
    status: 400,
    code: "invalid_body",
    field: "body",
  },
  {
    name: "body nested 30,000 levels deep",
    method: "POST",
    path: "/train",
    body: `{"x":${"[".repeat(30_000)}${"]".repeat(30_000)}}`,
    status: 400,
    code: "invalid_body",
    field: "body",
  },
  // Found by tests/fuzz: fastify answered these as application/json, not problem+json.
  {
    name: "id past the router's segment limit",
    method: "GET",
    path: `/train/${"a".repeat(300)}/status`,
    status: 414,
    code: "uri_too_long",
    field: "url",
  },
  {
    name: "path that does not percent-decode",
    method: "GET",
    path: "/train/%E0%A4%A/status",
    status: 400,
    code: "malformed_request",
    field: "url",
  },
  { name: "no such route", method: "GET", path: "/nope", status: 404, code: "not_found" },
  { name: "wrong method", method: "PUT", path: "/train", body: {}, status: 404, code: "not_found" },
];

describe("bad requests", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let app: AppProcess;

  before(async () => {
    db = await freshDatabase();
    app = await startApp("polling", { databaseUrl: db.url });
  });
  after(async () => {
    await app?.stop();
    await db?.drop();
  });

  for (const c of CASES) {
    test(`${c.name}: ${c.status} ${c.code}`, async () => {
      const res = await call(c.method, `${app.url("polling")}${c.path}`, c.body, c.headers);
      assert.equal(res.status, c.status, res.text);
      assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
      assert.equal(res.body.code, c.code, res.text);
      assert.equal(res.body.status, c.status);
      assert.equal(typeof res.body.title, "string");
      if (c.field) assert.equal(res.body.field, c.field, res.text);
    });
  }

  test("nothing was stored by the rejected submissions", async () => {
    const rows = await db.sql`SELECT count(*)::int AS n FROM tasks`;
    assert.equal(rows[0]?.n, 0);
  });
});

// The webhook apps store what clients send (callback_url, callback bodies): each of these once
// reached Postgres and came back as a 500 (found by tests/fuzz).
describe("bad requests to the webhook apps", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let webhook: AppProcess;
  let client: AppProcess;

  before(async () => {
    db = await freshDatabase();
    webhook = await startApp("webhook", { databaseUrl: db.url });
    client = await startApp("webhook-client", { databaseUrl: db.url });
  });
  after(async () => {
    await Promise.all([webhook?.stop(), client?.stop()]);
    await db?.drop();
  });

  for (const [name, suffix] of [
    ["a NUL", "\u0000"],
    ["a newline", "\n"],
    ["a lone surrogate", "\ud800"],
  ]) {
    test(`callback_url with ${name}: 400 naming callback_url, nothing stored`, async () => {
      const url = `${client.url("webhook-client")}/callback${suffix}`;
      const res = await call("POST", `${webhook.url("webhook")}/train`, { callback_url: url });
      assert.equal(res.status, 400, res.text);
      assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
      assert.equal(res.body.code, "validation_failed");
      assert.equal(res.body.field, "callback_url");
    });
  }

  test("a callback nested 10,000 levels deep is refused, and the list still answers", async () => {
    const deep = `{"id":"x","result":${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}}`;
    const res = await call("POST", `${client.url("webhook-client")}/callback`, deep);
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.code, "invalid_body");
    assert.equal(res.body.field, "body");
    const list = await call("GET", `${client.url("webhook-client")}/callbacks`);
    assert.equal(list.status, 200, list.text);
  });

  test("nothing was stored by the rejected requests", async () => {
    const [tasks] = await db.sql`SELECT count(*)::int AS n FROM tasks`;
    const [callbacks] = await db.sql`SELECT count(*)::int AS n FROM webhook_callbacks`;
    assert.equal(tasks?.n, 0);
    assert.equal(callbacks?.n, 0);
  });
});
