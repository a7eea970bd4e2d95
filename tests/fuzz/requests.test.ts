// Thousands of malformed requests, from a printed seed, at every route of every app (and at paths
// no app has), over raw sockets. The service must answer each with a 4xx problem+json (or a
// success), never a 5xx, never crash, and must still work afterwards. Replay a run with
// TRAINYARD_FUZZ_SEED=<seed>; TRAINYARD_FUZZ_COUNT changes how many requests are sent.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { AppProcess } from "../support/app-process.js";
import { freshDatabase, type TestDatabase } from "../support/database.js";
import { call, waitForStatus, type TaskBody } from "../support/http.js";
import {
  generateCases,
  type FuzzCase,
  type FuzzSettings,
  type Route,
  type Target,
} from "./cases.js";
import { judge, preview } from "./judge.js";
import { fuzzSeed } from "./prng.js";
import { exchange } from "./raw-http.js";
import { Processes } from "../security/processes.js";

const COUNT = Number(process.env.TRAINYARD_FUZZ_COUNT ?? 6000);
const CONCURRENCY = 24;
const TIMEOUT_MS = 15_000;
const BODY_LIMIT_BYTES = 65536;
const MAX_HEADER_BYTES = 16384;

const PENGUIN = {
  species: "Chinstrap",
  island: "Dream",
  bill_length_mm: 49.5,
  bill_depth_mm: 19,
  flipper_length_mm: 200,
  sex: "male",
};

const ENV = {
  // Two info lines per request would be most of the apps' work; errors (50) are still logged.
  LOG_LEVEL: "warn",
  TRAINYARD_BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
  TRAINYARD_MAX_HEADER_BYTES: String(MAX_HEADER_BYTES),
  // A valid naive submission waits for an end that (without a controller) never comes.
  TRAINYARD_NAIVE_WAIT_SECONDS: "2",
  TRAINYARD_WEBHOOK_MAX_ATTEMPTS: "1",
  TRAINYARD_WEBHOOK_TIMEOUT_SECONDS: "2",
  // Low, so that 429s are fuzzed too and few valid naive submissions sit out their wait.
  TRAINYARD_SUBMIT_RATE_PER_MINUTE: "60",
  TRAINYARD_SUBMIT_BURST: "10",
};

type AppName = "naive" | "polling" | "webhook" | "webhook-client";
const APPS: AppName[] = ["naive", "polling", "webhook", "webhook-client"];

/** Routes the OpenAPI document hides, which every app serves too. */
const HIDDEN_ROUTES: Route[] = [
  { method: "GET", template: "/livez", query: [] },
  { method: "GET", template: "/readyz", query: [] },
  { method: "GET", template: "/openapi.json", query: [] },
  { method: "GET", template: "/docs", query: [] },
];

interface OpenApi {
  paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>>;
}

async function routesOf(base: string): Promise<Route[]> {
  const doc = await call<OpenApi>("GET", `${base}/openapi.json`);
  assert.equal(doc.status, 200);
  const routes: Route[] = [];
  for (const [template, operations] of Object.entries(doc.body.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const query = (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
      routes.push({ method: method.toUpperCase(), template, query });
    }
  }
  return [...routes, ...HIDDEN_ROUTES];
}

async function runAll(cases: FuzzCase[]): Promise<{
  findings: Map<FuzzCase, string[]>;
  slowest: [number, FuzzCase][];
  statuses: Map<number | string, number>;
}> {
  const findings = new Map<FuzzCase, string[]>();
  const statuses = new Map<number | string, number>();
  const timings: [number, FuzzCase][] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < cases.length) {
      const c = cases[next++] as FuzzCase;
      const started = Date.now();
      const ex = await exchange({ ...c, timeoutMs: TIMEOUT_MS });
      timings.push([Date.now() - started, c]);
      for (const status of ex.responses.length > 0 ? ex.responses.map((r) => r.status) : ["none"]) {
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      const problems = judge(c, ex);
      if (problems.length > 0) findings.set(c, problems);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return { findings, slowest: timings.sort((a, b) => b[0] - a[0]).slice(0, 5), statuses };
}

/** The findings grouped by what went wrong, with one example request of each group. */
function report(seed: number, findings: Map<FuzzCase, string[]>): string {
  const groups = new Map<string, { count: number; example: FuzzCase; problem: string }>();
  for (const [c, problems] of findings) {
    for (const problem of problems) {
      // "500 is not problem+json (text/html): <body>" -> grouped by the part before the body.
      const key = `${c.target} ${problem.split(": ")[0]}`;
      const group = groups.get(key);
      if (group) group.count++;
      else groups.set(key, { count: 1, example: c, problem });
    }
  }
  const lines = [...groups].map(
    ([key, { count, example, problem }]) =>
      `${key} (x${count}), e.g. #${example.index} ${example.kind} ${example.route}\n` +
      `  sent: ${preview(example.bytes, 300)}\n  ${problem}`,
  );
  return (
    `${findings.size} of the fuzzed requests were answered wrongly ` +
    `(replay: TRAINYARD_FUZZ_SEED=${seed}):\n${lines.join("\n")}`
  );
}

describe("fuzzing every app", () => {
  const seed = fuzzSeed();
  let db: TestDatabase;
  const apps = new Map<AppName, AppProcess>();
  /** A second polling app with bearer tokens on, so that the fuzzing meets the auth checks. */
  let authed: AppProcess;
  const token = randomBytes(32).toString("base64url");
  const procs = new Processes();
  const url = (name: AppName): string => (apps.get(name) as AppProcess).url(name);

  before(async () => {
    process.stderr.write(`[fuzz] seed ${seed} (replay with TRAINYARD_FUZZ_SEED=${seed})\n`);
    db = await freshDatabase();
    for (const name of ["naive", "polling", "webhook"] as const) {
      apps.set(name, await procs.start(name, { databaseUrl: db.url, env: ENV }));
    }
    apps.set(
      "webhook-client",
      await procs.start("webhook-client", {
        databaseUrl: db.url,
        env: (ports) => ({
          ...ENV,
          TRAINYARD_WEBHOOK_SERVER_URL: url("webhook"),
          TRAINYARD_WEBHOOK_CLIENT_PUBLIC_URL: `http://127.0.0.1:${ports["webhook-client"]}`,
        }),
      }),
    );
    authed = await procs.start("polling", {
      databaseUrl: db.url,
      env: { ...ENV, TRAINYARD_API_TOKENS: token },
    });
  });
  after(async () => {
    await procs.stop();
    await db?.drop();
  });

  test(`${COUNT} malformed requests: no 5xx, every 4xx a problem with a code`, async (t) => {
    t.diagnostic(`seed ${seed}`);
    const callbackUrl = `${url("webhook-client")}/callback`;
    const polled = await call<TaskBody>("POST", `${url("polling")}/train`, {});
    const hooked = await call<TaskBody>("POST", `${url("webhook")}/train`, {
      callback_url: callbackUrl,
    });
    assert.equal(polled.status, 202, polled.text);
    assert.equal(hooked.status, 202, hooked.text);
    // Known ids must belong to finished tasks: on a queued one, GET /events streams and GET
    // /wait holds until the task ends, which is their contract, not a hang.
    for (const id of [polled.body.id, hooked.body.id]) {
      const cancelled = await call<TaskBody>("DELETE", `${url("polling")}/train/${id}`);
      assert.equal(cancelled.body.status, "cancelled", cancelled.text);
    }
    const targets: Target[] = [];
    for (const app of APPS) {
      const proc = apps.get(app) as AppProcess;
      targets.push({
        name: app,
        app,
        port: proc.ports[app],
        routes: await routesOf(url(app)),
        knownIds: [polled.body.id, hooked.body.id],
      });
    }
    targets.push({
      name: "polling+auth",
      app: "polling",
      port: authed.ports.polling,
      routes: await routesOf(authed.url("polling")),
      knownIds: [polled.body.id, hooked.body.id],
      token,
    });
    const settings: FuzzSettings = {
      bodyLimitBytes: BODY_LIMIT_BYTES,
      maxHeaderBytes: MAX_HEADER_BYTES,
      callbackUrl,
    };
    const cases = generateCases(seed, COUNT, targets, settings);

    // Every route of every app is reached, not only the easy ones.
    for (const target of targets) {
      for (const route of target.routes) {
        const n = cases.filter((c) => c.target === target.name && c.route === route.template);
        assert.ok(n.length >= 10, `${target.name} ${route.method} ${route.template}: ${n.length}`);
      }
    }

    const started = Date.now();
    const { findings, slowest, statuses } = await runAll(cases);
    t.diagnostic(`${cases.length} requests in ${Date.now() - started} ms`);
    const answers = [...statuses].sort(([a], [b]) => String(a).localeCompare(String(b)));
    t.diagnostic(`answers: ${answers.map(([status, n]) => `${status}x${n}`).join(" ")}`);
    for (const [ms, c] of slowest)
      t.diagnostic(`slowest: ${ms} ms #${c.index} ${c.target} ${c.kind} ${c.route}`);
    // The apps' own error lines say why a 5xx happened.
    const errors = [...apps.values(), authed].flatMap((a) =>
      a.logs.filter((l) => l.includes('"level":50')).map((l) => l.slice(0, 600)),
    );
    assert.equal(
      findings.size,
      0,
      `${report(seed, findings)}\nerrors logged:\n${errors.slice(0, 10).join("\n")}`,
    );
  });

  test("every app process is still alive and ready", async () => {
    for (const [app, proc] of [...apps, ["polling", authed] as const]) {
      assert.equal(proc.child.exitCode, null, `${app} exited`);
      assert.equal(proc.child.signalCode, null, `${app} was killed`);
      const ready = await call("GET", `${proc.url(app)}/readyz`);
      assert.equal(ready.status, 200, `${app}: ${ready.text}`);
    }
  });

  test("and still correct: submit, complete, result, predict on every app; a callback", async (t) => {
    let mark = Date.now();
    const lap = (what: string): void => {
      t.diagnostic(`${what}: ${Date.now() - mark} ms`);
      mark = Date.now();
    };
    // What the fuzzer queued would hold the cap's slots first: cancel it, then run a controller.
    for (;;) {
      const queued = await call<{ items: TaskBody[] }>(
        "GET",
        `${url("polling")}/train?status=queued&limit=100`,
      );
      assert.equal(queued.status, 200, queued.text);
      if (queued.body.items.length === 0) break;
      for (const task of queued.body.items) {
        const res = await call("DELETE", `${url("polling")}/train/${task.id}`);
        assert.equal(res.status, 200, res.text);
      }
    }
    lap("cancelled what the fuzzer queued");
    // At info: startApp waits for its "trainyard started" line.
    await procs.start("controller", {
      databaseUrl: db.url,
      env: { ...ENV, LOG_LEVEL: "info" },
    });
    lap("controller started");

    const submitted = await call<TaskBody>("POST", `${url("polling")}/train`, {
      duration_seconds: 0,
    });
    assert.equal(submitted.status, 202, submitted.text);
    const done = await waitForStatus(url("polling"), submitted.body.id, ["completed", "failed"]);
    assert.equal(done.status, "completed", JSON.stringify(done));
    const result = await call<{ result: { n: number } }>(
      "GET",
      `${url("polling")}/train/${done.id}/result`,
    );
    assert.equal(result.status, 200, result.text);
    assert.equal(result.body.result.n, 333);
    for (const app of APPS) {
      const predicted = await call<{ model_id: string; predictions: { body_mass_g: number }[] }>(
        "POST",
        `${url(app)}/predict`,
        { data: PENGUIN },
      );
      assert.equal(predicted.status, 200, `${app}: ${predicted.text}`);
      assert.equal(predicted.body.model_id, done.id);
      const mass = predicted.body.predictions[0]?.body_mass_g ?? 0;
      assert.ok(mass > 3000 && mass < 5000, `${app}: ${mass}`);
    }

    lap("polling flow and predictions");
    // The naive app answers with the result, or 202 when the run outlasts its wait.
    const naive = await call<TaskBody>("POST", `${url("naive")}/train`, { duration_seconds: 0 });
    assert.ok(naive.status === 200 || naive.status === 202, naive.text);
    const naiveDone = await waitForStatus(url("naive"), naive.body.id, ["completed", "failed"]);
    assert.equal(naiveDone.status, "completed");

    lap("naive flow");
    // The webhook client asks the server to train and receives the callback.
    const asked = await call<TaskBody>("POST", `${url("webhook-client")}/train`, {
      duration_seconds: 0,
    });
    assert.equal(asked.status, 202, asked.text);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const list = await call<{ items: { body: { id?: string; status?: string } }[] }>(
        "GET",
        `${url("webhook-client")}/callbacks?limit=500`,
      );
      assert.equal(list.status, 200, list.text);
      const arrived = list.body.items.find((i) => i.body.id === asked.body.id);
      if (arrived) {
        assert.equal(arrived.body.status, "completed");
        lap("webhook flow");
        break;
      }
      assert.ok(Date.now() < deadline, "the callback never arrived");
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
