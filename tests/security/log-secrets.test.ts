// No secret in any log: every app and the controller run as their own processes at trace level,
// with tokens, signing secrets and a database URL with a real password, and are sent requests
// carrying the tokens (good, read-only, refused, malformed), signed callbacks and forged ones.
// Then everything they printed (stdout and stderr of each, and the workers' log files) is
// searched for each secret, raw and in the encodings a log line could hold it in.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { AppProcess } from "../support/app-process.js";
import { freshDatabase, withAdmin, type TestDatabase } from "../support/database.js";
import { call, type TaskBody } from "../support/http.js";
import { encodeRequest, exchange } from "../fuzz/raw-http.js";
import { Processes } from "./processes.js";

type App = "naive" | "polling" | "webhook" | "webhook-client";

const FULL = randomBytes(32).toString("base64url");
const READ = randomBytes(32).toString("base64url");
const CLIENT = randomBytes(32).toString("base64url");
const SIGNING_KEY = randomBytes(32).toString("base64");
const SECRET = `whsec_${SIGNING_KEY}`;
const DB_PASSWORD = `pw-${randomBytes(18).toString("hex")}`;
const ROLE = `trainyard_logs_${randomBytes(4).toString("hex")}`;

/** Each secret as it could show up in a line: raw, URL-encoded, base64, or as a byte list. */
function forms(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  return [
    secret,
    encodeURIComponent(secret),
    bytes.toString("base64"),
    bytes.toString("hex"),
    [...bytes].join(","),
  ];
}

const SECRETS: Record<string, string> = {
  "full-access token": FULL,
  "read-only token": READ,
  "webhook client's token": CLIENT,
  "signing secret": SECRET,
  "signing key": SIGNING_KEY,
  "database password": DB_PASSWORD,
};

/** Which secrets appear in which lines. */
function leaks(lines: readonly string[]): string[] {
  const found: string[] = [];
  for (const [name, secret] of Object.entries(SECRETS)) {
    for (const form of forms(secret)) {
      const line = lines.find((l) => l.includes(form));
      if (line) {
        found.push(`${name} in: ${line.slice(0, 300)}`);
        break;
      }
    }
  }
  return found;
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

describe("secrets never reach the logs", () => {
  let db: TestDatabase;
  let databaseUrl: string;
  const procs = new Processes();
  const apps: Partial<Record<"controller" | App, AppProcess>> = {};
  const url = (name: App): string => (apps[name] as AppProcess).url(name);

  before(async () => {
    db = await freshDatabase();
    // A role that logs in with a password (the test cluster checks it: scram-sha-256).
    await withAdmin((admin) =>
      admin.unsafe(`CREATE ROLE ${ROLE} LOGIN SUPERUSER PASSWORD '${DB_PASSWORD}'`),
    );
    const u = new URL(db.url);
    u.username = ROLE;
    u.password = DB_PASSWORD;
    databaseUrl = u.toString();
    const env = {
      LOG_LEVEL: "trace",
      TRAINYARD_API_TOKENS: `${FULL},${CLIENT}`,
      TRAINYARD_API_READ_TOKENS: READ,
      TRAINYARD_WEBHOOK_SIGNING_SECRETS: SECRET,
      TRAINYARD_WEBHOOK_SERVER_TOKEN: CLIENT,
    };
    apps.controller = await procs.start("controller", { databaseUrl, env });
    for (const name of ["naive", "polling", "webhook"] as const) {
      apps[name] = await procs.start(name, { databaseUrl, env });
    }
    apps["webhook-client"] = await procs.start("webhook-client", {
      databaseUrl,
      env: (ports) => ({
        ...env,
        TRAINYARD_WEBHOOK_SERVER_URL: url("webhook"),
        TRAINYARD_WEBHOOK_CLIENT_PUBLIC_URL: `http://127.0.0.1:${ports["webhook-client"]}`,
      }),
    });
  });
  after(async () => {
    await procs.stop();
    await db?.drop();
    await withAdmin((admin) => admin.unsafe(`DROP ROLE IF EXISTS ${ROLE}`));
  });

  test("the search finds a secret where there is one", () => {
    assert.equal(leaks([`{"msg":"x","auth":"Bearer ${FULL}"}`]).length, 1);
    assert.equal(leaks([JSON.stringify({ data: [...Buffer.from(DB_PASSWORD)] })]).length, 1);
    assert.deepEqual(leaks(["nothing here"]), []);
  });

  test("traffic with tokens and signed webhooks, then no secret in any output", async () => {
    // Work done with tokens: train and read on polling, wait on naive, a webhook round trip.
    const submitted = await call<TaskBody>("POST", `${url("polling")}/train`, {}, bearer(FULL));
    assert.equal(submitted.status, 202, submitted.text);
    const naive = await call<TaskBody>("POST", `${url("naive")}/train`, {}, bearer(FULL));
    assert.ok([200, 202].includes(naive.status), naive.text);
    const asked = await call<TaskBody>("POST", `${url("webhook-client")}/train`, {}, bearer(FULL));
    assert.equal(asked.status, 202, asked.text);
    for (;;) {
      const res = await call<TaskBody>(
        "GET",
        `${url("polling")}/train/${submitted.body.id}/status`,
        undefined,
        bearer(READ),
      );
      if (res.body.status === "completed") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const path of [`/train/${submitted.body.id}/result`, "/train?limit=5"]) {
      const res = await call("GET", `${url("polling")}${path}`, undefined, bearer(READ));
      assert.equal(res.status, 200, res.text);
    }
    const deadline = Date.now() + 20_000;
    for (;;) {
      const list = await call<{ items: { verified: boolean; body: { id: string } }[] }>(
        "GET",
        `${url("webhook-client")}/callbacks`,
        undefined,
        bearer(READ),
      );
      if (list.body.items.some((i) => i.body.id === asked.body.id && i.verified)) break;
      assert.ok(Date.now() < deadline, "the signed callback never arrived");
      await new Promise((r) => setTimeout(r, 100));
    }

    // Refusals and errors, each with a secret in a header.
    const signature = {
      "webhook-id": "m",
      "webhook-timestamp": "1",
      "webhook-signature": `v1,${SIGNING_KEY}`,
    };
    const refused: [string, string, unknown, Record<string, string>][] = [
      ["DELETE", `${url("polling")}/train/${submitted.body.id}`, undefined, bearer(READ)],
      ["POST", `${url("polling")}/train`, {}, bearer(`${FULL}x`)],
      ["POST", `${url("polling")}/train`, { duration_seconds: -1 }, bearer(FULL)],
      ["GET", `${url("polling")}/train/${randomUUID()}/status`, undefined, bearer(FULL)],
      ["POST", `${url("polling")}/predict`, { data: { species: "Dodo" } }, bearer(READ)],
      ["POST", `${url("webhook-client")}/callback`, { id: "forged" }, signature],
      [
        "POST",
        `${url("polling")}/train`,
        "{",
        { ...bearer(FULL), "content-type": "application/json" },
      ],
    ];
    for (const [method, target, body, headers] of refused) {
      const res = await call(method, target, body, headers);
      assert.ok(res.status >= 400 && res.status < 500, `${method} ${target}: ${res.status}`);
    }
    // HTTP the parser refuses, and headers past the limit, with the token inside.
    for (const bytes of [
      `GET /livez HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${FULL}\r\nX: a\u0001b\r\n\r\n`,
      encodeRequest({
        method: "GET",
        target: "/train",
        headers: [
          ["Authorization", `Bearer ${READ}`],
          ["X-Pad", "p".repeat(20_000)],
        ],
      }),
    ]) {
      const ex = await exchange({
        port: (apps.polling as AppProcess).ports.polling,
        bytes: Buffer.from(bytes),
        methods: ["GET"],
        timeoutMs: 5000,
      });
      assert.ok(ex.responses[0] && ex.responses[0].status >= 400, JSON.stringify(ex.responses));
    }

    // Stopped, so that shutdown lines are in too.
    await procs.stop();
    const lines = procs.all.flatMap((p) => p.logs);
    const logDir = join((apps.controller as AppProcess).dataDir, "logs");
    const workerLines = readdirSync(logDir).flatMap((f) =>
      readFileSync(join(logDir, f), "utf8").split("\n"),
    );
    assert.ok(
      workerLines.some((l) => l.includes("training completed")),
      "worker logs were read",
    );
    // The search covered real logging at trace level, the requests above included.
    assert.ok(
      lines.some((l) => /"level":(10|20)\b/.test(l)),
      "no debug or trace line captured",
    );
    assert.ok(lines.some((l) => l.includes('"principal":"read-token-1"')));
    assert.ok(lines.some((l) => l.includes("callback received")));
    assert.ok(lines.some((l) => l.includes("callback refused")));
    assert.deepEqual(leaks([...lines, ...workerLines]), []);
  });
});
