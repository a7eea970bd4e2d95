// Bearer tokens against running apps: every route of every app (from its /openapi.json) is
// checked without a token, with an unknown one, a read-only one and a full one; public routes
// stay public; the webhook client forwards its own token to the server; signed callbacks need
// no bearer token, unsigned ones are refused.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startApp, type AppProcess } from "../support/app-process.js";
import { freshDatabase, type TestDatabase } from "../support/database.js";
import { call, type Answer, type TaskBody } from "../support/http.js";

const FULL = randomBytes(32).toString("base64url");
const READ = randomBytes(32).toString("base64url");
/** The webhook client's own token for the webhook server. */
const CLIENT = randomBytes(32).toString("base64url");
const SECRET = `whsec_${randomBytes(32).toString("base64")}`;

const ENV = {
  TRAINYARD_API_TOKENS: `${FULL},${CLIENT}`,
  TRAINYARD_API_READ_TOKENS: READ,
  TRAINYARD_WEBHOOK_SIGNING_SECRETS: SECRET,
  TRAINYARD_WEBHOOK_SERVER_TOKEN: CLIENT,
};

type App = "naive" | "polling" | "webhook" | "webhook-client";
const APPS: App[] = ["naive", "polling", "webhook", "webhook-client"];

/** What each route needs. A route missing here fails the test: decide, then add it. */
const EXPECTED: Record<string, "read" | "write" | "signature"> = {
  "GET /train": "read",
  "GET /train/{id}/status": "read",
  "GET /train/{id}/result": "read",
  "GET /train/{id}/deliveries": "read",
  "GET /train/{id}/wait": "read",
  "GET /train/{id}/events": "read",
  "GET /train/{id}/logs": "read",
  "GET /metrics": "read",
  "GET /callbacks": "read",
  "POST /predict": "read",
  "POST /train": "write",
  "DELETE /train/{id}": "write",
  "POST /train/{id}/deliveries/redeliver": "write",
  "POST /callback": "signature",
};

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

function assertProblem(res: Answer, status: number, code: string): void {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
  assert.equal(res.body.code, code, res.text);
}

describe("bearer tokens", () => {
  let db: TestDatabase;
  let app: AppProcess;
  const url = (name: App): string => app.url(name);

  before(async () => {
    db = await freshDatabase();
    app = await startApp("all", {
      databaseUrl: db.url,
      env: (ports) => ({
        ...ENV,
        TRAINYARD_WEBHOOK_SERVER_URL: `http://127.0.0.1:${ports.webhook}`,
        TRAINYARD_WEBHOOK_CLIENT_PUBLIC_URL: `http://127.0.0.1:${ports["webhook-client"]}`,
      }),
    });
  });
  after(async () => {
    await app?.stop();
    await db?.drop();
  });

  test("probes, the API description and its page need no token; neither does a 404", async () => {
    for (const name of APPS) {
      for (const path of ["/livez", "/readyz", "/openapi.json", "/docs/static/index.html"]) {
        const res = await call("GET", `${url(name)}${path}`);
        assert.equal(res.status, 200, `${name} ${path}: ${res.text}`);
      }
      const docs = await call("GET", `${url(name)}/docs`);
      assert.ok(docs.status < 400, `${name} /docs: ${docs.status}`);
      assertProblem(await call("GET", `${url(name)}/no/such/route`), 404, "not_found");
    }
    // The description tells clients how to authenticate, so /docs can send the token.
    const doc = await call<{ components: { securitySchemes: unknown } }>(
      "GET",
      `${url("polling")}/openapi.json`,
    );
    assert.deepEqual(doc.body.components.securitySchemes, {
      bearer: { type: "http", scheme: "bearer" },
    });
  });

  test("every route of every app: 401 without or with an unknown token, 403 read-only writes", async () => {
    const id = randomUUID();
    let checked = 0;
    for (const name of APPS) {
      const doc = await call<{ paths: Record<string, Record<string, unknown>> }>(
        "GET",
        `${url(name)}/openapi.json`,
      );
      for (const [template, operations] of Object.entries(doc.body.paths)) {
        for (const method of Object.keys(operations).map((m) => m.toUpperCase())) {
          const route = `${method} ${template}`;
          const need = EXPECTED[route];
          assert.ok(need, `${name}: ${route} is in no access class; add it to EXPECTED`);
          const target = `${url(name)}${template.replace("{id}", id)}`;
          // An invalid body: whoever gets past authentication meets validation, nothing is stored.
          const body = method === "POST" ? { duration_seconds: "x", data: 1 } : undefined;
          const send = (headers: Record<string, string>): Promise<Answer> =>
            call(method, target, body, headers);

          const anonymous = await send({});
          const forged = await send(bearer(`${FULL.slice(0, -2)}xx`));
          if (need === "signature") {
            // Signing secrets are set: the signature is the credential, not a bearer token.
            assertProblem(anonymous, 401, "bad_signature");
            assertProblem(await send(bearer(FULL)), 401, "bad_signature");
            checked++;
            continue;
          }
          assertProblem(anonymous, 401, "unauthorized");
          assert.equal(anonymous.headers.get("www-authenticate"), 'Bearer realm="trainyard"');
          assertProblem(forged, 401, "unauthorized");
          assert.match(forged.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
          assertProblem(await send({ authorization: "Basic dXNlcjpwYXNz" }), 401, "unauthorized");

          const reader = await send(bearer(READ));
          if (need === "write") {
            assertProblem(reader, 403, "forbidden");
            assert.match(reader.headers.get("www-authenticate") ?? "", /insufficient_scope/);
          } else {
            assert.ok(![401, 403].includes(reader.status), `${name} ${route}: ${reader.text}`);
          }
          const writer = await send(bearer(FULL));
          assert.ok(![401, 403].includes(writer.status), `${name} ${route}: ${writer.text}`);
          checked++;
        }
      }
    }
    assert.ok(checked >= 20, `only ${checked} routes checked`);
    const [rows] = await db.sql`SELECT count(*)::int AS n FROM tasks`;
    assert.equal(rows?.n, 0, "no request above may have stored a task");
  });

  test("with tokens: submit, poll and read with the read token, cancel only with a full one", async () => {
    const base = url("polling");
    const submitted = await call<TaskBody>("POST", `${base}/train`, {}, bearer(FULL));
    assert.equal(submitted.status, 202, submitted.text);
    const id = submitted.body.id;
    assertProblem(await call("GET", `${base}/train/${id}/status`), 401, "unauthorized");
    for (;;) {
      const status = await call<TaskBody>(
        "GET",
        `${base}/train/${id}/status`,
        undefined,
        bearer(READ),
      );
      assert.equal(status.status, 200, status.text);
      if (status.body.status === "completed") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const result = await call("GET", `${base}/train/${id}/result`, undefined, bearer(READ));
    assert.equal(result.status, 200, result.text);
    const predicted = await call(
      "POST",
      `${base}/predict`,
      {
        data: {
          species: "Adelie",
          island: "Dream",
          bill_length_mm: 39,
          bill_depth_mm: 18,
          flipper_length_mm: 190,
          sex: "male",
        },
      },
      bearer(READ),
    );
    assert.equal(predicted.status, 200, predicted.text);
    assertProblem(
      await call("DELETE", `${base}/train/${id}`, undefined, bearer(READ)),
      403,
      "forbidden",
    );
    assertProblem(
      await call("DELETE", `${base}/train/${id}`, undefined, bearer(FULL)),
      409,
      "task_already_finished",
    );
  });

  test("the webhook client forwards its own token; the signed callback needs none", async () => {
    const client = url("webhook-client");
    const asked = await call<TaskBody>("POST", `${client}/train`, {}, bearer(FULL));
    assert.equal(asked.status, 202, asked.text);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const list = await call<{ items: { verified: boolean; body: { id: string } }[] }>(
        "GET",
        `${client}/callbacks`,
        undefined,
        bearer(READ),
      );
      assert.equal(list.status, 200, list.text);
      const arrived = list.body.items.find((i) => i.body.id === asked.body.id);
      if (arrived) {
        assert.equal(arrived.verified, true);
        break;
      }
      assert.ok(Date.now() < deadline, "the signed callback never arrived");
      await new Promise((r) => setTimeout(r, 100));
    }
    // The token that reached the server was the client's own (the request log names it).
    assert.ok(
      app.logs.some((l) => l.includes('"principal":"token-2"') && l.includes("task accepted")),
    );
  });

  test("a webhook client without the server's token answers 502, not the server's 401", async () => {
    const lonely = await startApp("webhook-client", {
      databaseUrl: db.url,
      env: {
        TRAINYARD_API_TOKENS: FULL,
        TRAINYARD_WEBHOOK_SERVER_URL: url("webhook"),
      },
    });
    try {
      const res = await call("POST", `${lonely.url("webhook-client")}/train`, {}, bearer(FULL));
      assertProblem(res, 502, "webhook_server_refused");
      assert.equal(res.headers.get("www-authenticate"), null);
    } finally {
      await lonely.stop();
    }
  });
});

describe("without signing secrets, POST /callback needs a full-access token", () => {
  let db: TestDatabase;
  let client: AppProcess;

  before(async () => {
    db = await freshDatabase();
    client = await startApp("webhook-client", {
      databaseUrl: db.url,
      env: { TRAINYARD_API_TOKENS: FULL, TRAINYARD_API_READ_TOKENS: READ },
    });
  });
  after(async () => {
    await client?.stop();
    await db?.drop();
  });

  test("401 without, 403 read-only, 200 with a full-access token; a warning at start", async () => {
    assert.ok(client.logs.some((l) => l.includes("callbacks will be refused")));
    const target = `${client.url("webhook-client")}/callback`;
    const body = { id: randomUUID(), status: "completed" };
    assertProblem(await call("POST", target, body), 401, "unauthorized");
    assertProblem(await call("POST", target, body, bearer(READ)), 403, "forbidden");
    const ok = await call("POST", target, body, bearer(FULL));
    assert.equal(ok.status, 200, ok.text);
  });
});
