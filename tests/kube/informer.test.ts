// client-node's informer (makeInformer: list, then watch from the list's resourceVersion)
// against the stand-in: it sees adds, updates and deletes, rides out dropped watches without
// listing again, and lists again only when its revision is gone (410 after a compaction).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ADD,
  DELETE,
  ERROR,
  UPDATE,
  makeInformer,
  type Informer,
  type ObjectCache,
  type V1Job,
} from "@kubernetes/client-node";
import { jobManifest, startStandIn, waitFor, type Harness } from "./support.js";

describe("client-node informer against the stand-in", () => {
  let h: Harness;
  let informer: Informer<V1Job> & ObjectCache<V1Job>;
  const events: [string, string][] = [];
  const errors: unknown[] = [];
  let closing = false;

  before(async () => {
    h = await startStandIn();
    const path = `/apis/batch/v1/namespaces/${h.namespace}/jobs`;
    informer = makeInformer(h.kc, path, () =>
      h.batch.listNamespacedJob({ namespace: h.namespace }),
    );
    for (const verb of [ADD, UPDATE, DELETE] as const) {
      informer.on(verb, (job) => events.push([verb, job.metadata?.name ?? ""]));
    }
    // client-node stops on any watch error; restarting is the caller's job (as the runner's).
    // Not once closing: start() clears the stopped flag, and it would retry forever.
    informer.on(ERROR, (err) => {
      errors.push(err);
      setTimeout(() => {
        if (!closing) void informer.start();
      }, 100);
    });
    await informer.start();
  });
  after(async () => {
    closing = true;
    await informer?.stop();
    await h?.close();
  });

  const lists = () => h.server.requests({ resource: "jobs", verb: "list" }).length;
  const watches = () => h.server.requests({ resource: "jobs", verb: "watch" }).length;
  const cached = (name: string) => informer.get(name, h.namespace);
  const suspended = (name: string) => jobManifest(name, { spec: { suspend: true } });

  test("lists once, then watches: add, update, delete", async () => {
    assert.equal(lists(), 1);
    await h.batch.createNamespacedJob({ namespace: h.namespace, body: suspended("inf-a") });
    await waitFor("the add", () => events.some(([v, n]) => v === ADD && n === "inf-a"));
    await h.batch.patchNamespacedJob({
      name: "inf-a",
      namespace: h.namespace,
      body: [{ op: "add", path: "/metadata/labels/touched", value: "yes" }],
    });
    await waitFor(
      "the label in the cache",
      () => cached("inf-a")?.metadata?.labels?.touched === "yes",
    );
    assert.ok(events.some(([v, n]) => v === UPDATE && n === "inf-a"));
    await h.batch.deleteNamespacedJob({
      name: "inf-a",
      namespace: h.namespace,
      propagationPolicy: "Background",
    });
    await waitFor("the delete", () => events.some(([v, n]) => v === DELETE && n === "inf-a"));
    assert.equal(cached("inf-a"), undefined);
    assert.equal(lists(), 1, "no list since the first");
  });

  test("a watch the server ends cleanly is resumed from the last revision, without a list", async () => {
    const before = watches();
    assert.equal(h.server.dropWatches(), 1);
    await h.batch.createNamespacedJob({ namespace: h.namespace, body: suspended("inf-b") });
    await waitFor("inf-b in the cache", () => cached("inf-b"));
    assert.ok(watches() > before);
    assert.equal(lists(), 1);
  });

  test("a reset connection stops client-node's informer; restarted, it resumes without a list", async () => {
    const errorsBefore = errors.length;
    h.server.dropWatches({ abrupt: true });
    await h.batch.createNamespacedJob({ namespace: h.namespace, body: suspended("inf-c") });
    await waitFor("inf-c in the cache", () => cached("inf-c"));
    assert.equal(errors.length, errorsBefore + 1);
    assert.equal(lists(), 1);
  });

  test("no polling: an idle informer makes no requests", async () => {
    const count = h.server.requests().length;
    await sleep(1500);
    assert.equal(h.server.requests().length, count);
  });

  test("after a restart that compacted history, 410 makes it list again and catch up", async () => {
    // The informer's next watch is held back while Jobs change, then the server restarts with
    // its history compacted: the revision the informer resumes from no longer exists.
    const watchesBefore = watches();
    const release = h.server.delayResponses(60_000, { verb: "watch" });
    h.server.dropWatches();
    await waitFor("the held re-watch", () => watches() > watchesBefore);
    await h.batch.deleteNamespacedJob({
      name: "inf-b",
      namespace: h.namespace,
      propagationPolicy: "Background",
    });
    await h.batch.createNamespacedJob({ namespace: h.namespace, body: suspended("inf-d") });
    release();
    await h.server.restart({ compactHistory: true, downtimeMs: 200 });
    // Only a 410 makes client-node's ListWatch list again (errors keep its revision).
    await waitFor("a second list", () => lists() >= 2);
    await waitFor("the cache to match the server", () => cached("inf-d") && !cached("inf-b"));
    const names = informer
      .list(h.namespace)
      .map((j) => j.metadata?.name)
      .sort();
    const server = (await h.batch.listNamespacedJob({ namespace: h.namespace })).items
      .map((j) => j.metadata?.name)
      .sort();
    assert.deepEqual(names, server);
    assert.ok(
      events.some(([v, n]) => v === DELETE && n === "inf-b"),
      "the relist reported the delete",
    );
  });
});
