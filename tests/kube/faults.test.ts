// Fault injection: failures answered as configured (500, 429 with Retry-After, after the
// commit, a reset connection), delays, a restart that keeps state but compacts history, and
// the request log tests use to count what a client did.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Watch } from "@kubernetes/client-node";
import { jobManifest, raw, startStandIn, statusOf, waitFor, type Harness } from "./support.js";

describe("stand-in fault injection", () => {
  let h: Harness;
  before(async () => {
    h = await startStandIn();
  });
  after(() => h?.close());

  const body = (name: string) => jobManifest(name, { spec: { suspend: true } });
  const create = (name: string) =>
    h.batch.createNamespacedJob({ namespace: h.namespace, body: body(name) });

  test("the next N matching requests fail with 500 InternalError; others are untouched", async () => {
    h.server.failNext(2, { verb: "create", resource: "jobs" });
    await h.batch.listNamespacedJob({ namespace: h.namespace }); // not a create: unaffected
    for (let i = 0; i < 2; i++) {
      const { code, status } = await statusOf(create("flaky"));
      assert.equal(code, 500);
      assert.equal(status.reason, "InternalError");
      assert.equal(status.message, "Internal error occurred: injected by the stand-in API server");
    }
    const job = await create("flaky");
    assert.equal(job.metadata?.name, "flaky");
    const creates = h.server.requests({ verb: "create", resource: "jobs" });
    assert.deepEqual(
      creates.map((r) => [r.status, r.fault]),
      [
        [500, "injected"],
        [500, "injected"],
        [201, undefined],
      ],
    );
  });

  test("429 carries Retry-After and details.retryAfterSeconds; or plain text, as APF sends it", async () => {
    h.server.failNext(1, { status: 429, retryAfterSeconds: 3, method: "GET", path: /\/jobs$/ });
    const res = await raw(h, "GET", `/apis/batch/v1/namespaces/${h.namespace}/jobs`);
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "3");
    assert.equal(res.body.reason, "TooManyRequests");
    assert.deepEqual(res.body.details, { retryAfterSeconds: 3 });
    h.server.failNext(1, { status: 429, plainText: true });
    const apf = await raw(h, "GET", `/apis/batch/v1/namespaces/${h.namespace}/jobs`);
    assert.equal(apf.status, 429);
    assert.equal(apf.headers.get("retry-after"), "1");
    assert.equal(apf.text, "Too many requests, please try again later.\n");
    assert.equal(
      (await raw(h, "GET", `/apis/batch/v1/namespaces/${h.namespace}/jobs`)).status,
      200,
    );
  });

  test("afterCommit: the create happened though the client was told 500; its retry is 409", async () => {
    h.server.failNext(1, { verb: "create", afterCommit: true });
    assert.equal((await statusOf(create("ambiguous"))).code, 500);
    const job = await h.batch.readNamespacedJob({ name: "ambiguous", namespace: h.namespace });
    assert.ok(job.metadata?.uid);
    assert.equal((await statusOf(create("ambiguous"))).code, 409);
  });

  test("dropConnection resets the socket (after the commit when asked)", async () => {
    h.server.failNext(1, { verb: "delete", dropConnection: true, afterCommit: true });
    await assert.rejects(
      h.batch.deleteNamespacedJob({
        name: "ambiguous",
        namespace: h.namespace,
        propagationPolicy: "Background",
      }),
    );
    assert.equal(
      (await statusOf(h.batch.readNamespacedJob({ name: "ambiguous", namespace: h.namespace })))
        .code,
      404,
    );
    const [record] = h.server.requests({ verb: "delete" });
    assert.equal(record?.status, 0);
  });

  test("delayResponses slows matching requests until lifted", async () => {
    const lift = h.server.delayResponses(800, { verb: "list" });
    let started = Date.now();
    await h.batch.listNamespacedJob({ namespace: h.namespace });
    assert.ok(Date.now() - started >= 790);
    started = Date.now();
    await h.batch.readNamespacedJob({ name: "flaky", namespace: h.namespace });
    assert.ok(Date.now() - started < 700, "a get is not a list");
    lift();
    started = Date.now();
    await h.batch.listNamespacedJob({ namespace: h.namespace });
    assert.ok(Date.now() - started < 700);
  });

  test("restart keeps objects, revision and port; with compaction an old watch gets 410", async () => {
    const before = await h.batch.listNamespacedJob({ namespace: h.namespace });
    const oldRv = before.metadata?.resourceVersion ?? "";
    const url = h.server.url;
    // A watch open across the restart is ended by it.
    let ended = false;
    await new Watch(h.kc).watch(
      `/apis/batch/v1/namespaces/${h.namespace}/jobs`,
      { resourceVersion: oldRv },
      () => undefined,
      () => (ended = true),
    );
    await waitFor("the watch", () => h.server.openWatches === 1);
    await create("during-downtime-neighbour");
    await h.server.restart({ compactHistory: true, downtimeMs: 100 });
    await waitFor("the old watch to end", () => ended);
    assert.equal(h.server.url, url);
    const after = await h.batch.listNamespacedJob({ namespace: h.namespace });
    assert.ok(
      Number(after.metadata?.resourceVersion) >= Number(oldRv) + 1,
      "the revision survived",
    );
    assert.ok(after.items.some((j) => j.metadata?.name === "flaky"));
    const events: { type: string; object: { code?: number; reason?: string } }[] = [];
    let done = false;
    await new Watch(h.kc).watch(
      `/apis/batch/v1/namespaces/${h.namespace}/jobs`,
      { resourceVersion: oldRv },
      (type, object: { code?: number; reason?: string }) => events.push({ type, object }),
      () => (done = true),
    );
    await waitFor("the expired watch to end", () => done);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type, "ERROR");
    assert.equal(events[0]?.object.code, 410);
    assert.equal(events[0]?.object.reason, "Expired");
    // A watch from the list made after the restart is fine.
    let fine = false;
    const ok = await new Watch(h.kc).watch(
      `/apis/batch/v1/namespaces/${h.namespace}/jobs`,
      { resourceVersion: after.metadata?.resourceVersion ?? "" },
      () => undefined,
      () => (fine = true),
    );
    await waitFor("the fresh watch to open", () => h.server.openWatches === 1);
    assert.equal(fine, false);
    ok.abort();
  });

  test("the request log counts what a client did", async () => {
    const creates = h.server.requests({ method: "POST", path: /\/jobs$/ }).length;
    await create("counted");
    await h.batch.deleteNamespacedJob({
      name: "counted",
      namespace: h.namespace,
      propagationPolicy: "Background",
    });
    assert.equal(h.server.requests({ method: "POST", path: /\/jobs$/ }).length, creates + 1);
    const deletes = h.server
      .requests({ verb: "delete", resource: "jobs" })
      .filter((r) => r.name === "counted");
    assert.equal(deletes.length, 1);
    assert.equal(deletes[0]?.status, 200);
    assert.match(deletes[0]?.query ?? "", /propagationPolicy=Background/);
  });
});
