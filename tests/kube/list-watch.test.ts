// Lists and watches as the real server serves them: selectors, consistent pages, the list's
// resourceVersion as the start of a watch, 410 for compacted revisions, bookmarks, timeouts.
// Secrets are used where exact event sequences matter: no controller writes to them.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Watch, type V1Secret } from "@kubernetes/client-node";
import { jobManifest, startStandIn, statusOf, waitFor, type Harness } from "./support.js";

interface Seen {
  type: string;
  name: string | undefined;
  rv: string | undefined;
  object: Record<string, unknown>;
}

describe("stand-in lists and watches", () => {
  let h: Harness;
  before(async () => {
    h = await startStandIn({ bookmarkIntervalMs: 100, historyLimit: 50 });
  });
  after(() => h?.close());

  const secret = (name: string, labels: Record<string, string> = {}): V1Secret => ({
    metadata: { name, labels },
    stringData: { value: name },
  });

  /** A watch through client-node's Watch; resolves `ended` when the server ends the stream. */
  async function watch(path: string, query: Record<string, string | number | boolean>) {
    const seen: Seen[] = [];
    let endedWith: unknown = "open";
    const ended = new Promise<void>((resolve) => {
      void new Watch(h.kc)
        .watch(
          path,
          query,
          (type, obj: { metadata?: { name?: string; resourceVersion?: string } }) =>
            seen.push({
              type,
              name: obj.metadata?.name,
              rv: obj.metadata?.resourceVersion,
              object: obj,
            }),
          (err: unknown) => {
            endedWith = err;
            resolve();
          },
        )
        .then((controller) => (abort = () => controller.abort()));
    });
    let abort = (): void => undefined;
    await waitFor("the watch to open", () => h.server.openWatches > 0 || endedWith !== "open");
    return { seen, ended, stop: () => abort(), endedWith: () => endedWith };
  }

  const secretsPath = () => `/api/v1/namespaces/${h.namespace}/secrets`;

  test("label selectors: =, ==, !=, in, notin, exists, !exists; field selector on the name", async () => {
    const ns = h.namespace;
    await h.core.createNamespacedSecret({
      namespace: ns,
      body: secret("sel-a", { tier: "a", team: "x" }),
    });
    await h.core.createNamespacedSecret({ namespace: ns, body: secret("sel-b", { tier: "b" }) });
    await h.core.createNamespacedSecret({ namespace: ns, body: secret("sel-c", {}) });
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await h.core.listNamespacedSecret({ namespace: ns, labelSelector, fieldSelector })).items
        .map((s) => s.metadata?.name)
        .filter((n) => n?.startsWith("sel-"));
    assert.deepEqual(await names("tier=a"), ["sel-a"]);
    assert.deepEqual(await names("tier==b"), ["sel-b"]);
    assert.deepEqual(await names("tier!=a"), ["sel-b", "sel-c"]);
    assert.deepEqual(await names("tier in (a, b)"), ["sel-a", "sel-b"]);
    assert.deepEqual(await names("tier notin (a)"), ["sel-b", "sel-c"]);
    assert.deepEqual(await names("team"), ["sel-a"]);
    assert.deepEqual(await names("!team,tier"), ["sel-b"]);
    assert.deepEqual(await names(undefined, "metadata.name=sel-c"), ["sel-c"]);
    assert.deepEqual(await names("tier", "metadata.name!=sel-a"), ["sel-b"]);
    const bad = await statusOf(
      h.core.listNamespacedSecret({ namespace: ns, fieldSelector: "spec.nope=1" }),
    );
    assert.equal(bad.code, 400);
    assert.match(bad.status.message ?? "", /field label not supported: spec\.nope/);
  });

  test("limit and continue page through one consistent snapshot", async () => {
    const ns = h.namespace;
    for (const n of [1, 2, 3, 4, 5])
      await h.core.createNamespacedSecret({
        namespace: ns,
        body: secret(`page-${n}`, { page: "yes" }),
      });
    const first = await h.core.listNamespacedSecret({
      namespace: ns,
      labelSelector: "page=yes",
      limit: 2,
    });
    assert.deepEqual(
      first.items.map((s) => s.metadata?.name),
      ["page-1", "page-2"],
    );
    assert.ok(first.metadata?._continue);
    // Written between pages: not in this list, whose pages share the first page's revision.
    await h.core.createNamespacedSecret({
      namespace: ns,
      body: secret("page-3a", { page: "yes" }),
    });
    await h.core.deleteNamespacedSecret({ name: "page-4", namespace: ns });
    const second = await h.core.listNamespacedSecret({
      namespace: ns,
      labelSelector: "page=yes",
      limit: 2,
      _continue: first.metadata?._continue,
    });
    assert.deepEqual(
      second.items.map((s) => s.metadata?.name),
      ["page-3", "page-4"],
    );
    assert.equal(second.metadata?.resourceVersion, first.metadata?.resourceVersion);
    const third = await h.core.listNamespacedSecret({
      namespace: ns,
      labelSelector: "page=yes",
      limit: 2,
      _continue: second.metadata?._continue,
    });
    assert.deepEqual(
      third.items.map((s) => s.metadata?.name),
      ["page-5"],
    );
    assert.equal(third.metadata?._continue, undefined);
    const unfiltered = await h.core.listNamespacedSecret({ namespace: ns, limit: 1 });
    assert.ok((unfiltered.metadata?.remainingItemCount ?? 0) > 0);
  });

  test("a watch from a list's resourceVersion sees exactly the later changes, in order", async () => {
    const ns = h.namespace;
    await h.core.createNamespacedSecret({ namespace: ns, body: secret("before-list") });
    const list = await h.core.listNamespacedSecret({ namespace: ns });
    const rv = list.metadata?.resourceVersion ?? "";
    await h.core.createNamespacedSecret({ namespace: ns, body: secret("after-list") });
    await h.core.patchNamespacedSecret({
      name: "after-list",
      namespace: ns,
      body: [{ op: "add", path: "/metadata/labels/x", value: "1" }],
    });
    await h.core.deleteNamespacedSecret({ name: "after-list", namespace: ns });
    const w = await watch(secretsPath(), { resourceVersion: rv });
    try {
      await waitFor("three events", () => w.seen.length >= 3);
      assert.deepEqual(
        w.seen.map((e) => [e.type, e.name]),
        [
          ["ADDED", "after-list"],
          ["MODIFIED", "after-list"],
          ["DELETED", "after-list"],
        ],
      );
      const rvs = w.seen.map((e) => Number(e.rv));
      assert.ok(rvs.every((r, i) => r > Number(rv) && (i === 0 || r > (rvs[i - 1] ?? 0))));
      // Live changes follow the replayed ones.
      await h.core.createNamespacedSecret({ namespace: ns, body: secret("live") });
      await waitFor("the live event", () =>
        w.seen.some((e) => e.name === "live" && e.type === "ADDED"),
      );
    } finally {
      w.stop();
    }
  });

  test("a watch without resourceVersion starts with synthetic ADDED events", async () => {
    const w = await watch(secretsPath(), { fieldSelector: "metadata.name=before-list" });
    try {
      await waitFor("the synthetic ADDED", () => w.seen.length >= 1);
      assert.deepEqual(
        w.seen.map((e) => [e.type, e.name]),
        [["ADDED", "before-list"]],
      );
    } finally {
      w.stop();
    }
  });

  test("selector transitions arrive as DELETED and ADDED", async () => {
    const ns = h.namespace;
    await h.core.createNamespacedSecret({ namespace: ns, body: secret("moving", { lane: "a" }) });
    const w = await watch(secretsPath(), { labelSelector: "lane=a" });
    try {
      const relabel = (lane: string) =>
        h.core.patchNamespacedSecret({
          name: "moving",
          namespace: ns,
          body: [{ op: "replace", path: "/metadata/labels/lane", value: lane }],
        });
      await relabel("b");
      await relabel("a");
      await waitFor("three events", () => w.seen.length >= 3);
      assert.deepEqual(
        w.seen.map((e) => e.type),
        ["ADDED", "DELETED", "ADDED"],
      );
    } finally {
      w.stop();
    }
  });

  test("a watch from a compacted revision gets one ERROR 410 Expired, then the stream ends", async () => {
    const ns = h.namespace;
    const old =
      (await h.core.listNamespacedSecret({ namespace: ns })).metadata?.resourceVersion ?? "";
    await h.core.createNamespacedSecret({ namespace: ns, body: secret("after-old") });
    h.server.compact();
    const w = await watch(secretsPath(), { resourceVersion: old });
    await w.ended;
    assert.equal(w.endedWith(), null, "a clean end, the error is in the stream");
    assert.equal(w.seen.length, 1);
    assert.equal(w.seen[0]?.type, "ERROR");
    const status = w.seen[0]?.object;
    assert.equal(status?.kind, "Status");
    assert.equal(status?.code, 410);
    assert.equal(status?.reason, "Expired");
    assert.match(
      String(status?.message),
      new RegExp(`^too old resource version: ${old} \\(\\d+\\)$`),
    );
  });

  test("the bounded history compacts by itself", async () => {
    const ns = h.namespace;
    const start =
      (await h.core.listNamespacedSecret({ namespace: ns })).metadata?.resourceVersion ?? "";
    for (let i = 0; i < 30; i++) {
      await h.core.patchNamespacedSecret({
        name: "after-old",
        namespace: ns,
        body: [{ op: "add", path: "/metadata/labels/n", value: String(i) }],
      });
    }
    // historyLimit 50: the start is still watchable after 30 changes...
    const ok = await watch(secretsPath(), { resourceVersion: start });
    await waitFor("30 events", () => ok.seen.length >= 30);
    ok.stop();
    for (let i = 0; i < 30; i++) {
      await h.core.patchNamespacedSecret({
        name: "after-old",
        namespace: ns,
        body: [{ op: "add", path: "/metadata/labels/n", value: `b${i}` }],
      });
    }
    // ...but not after 60.
    const gone = await watch(secretsPath(), { resourceVersion: start });
    await gone.ended;
    assert.equal(gone.seen[0]?.type, "ERROR");
  });

  test("bookmarks only when asked: BOOKMARK events carry just the revision", async () => {
    const plain = await watch(secretsPath(), { resourceVersion: String(h.server.revision) });
    const marked = await watch(secretsPath(), {
      resourceVersion: String(h.server.revision),
      allowWatchBookmarks: true,
    });
    try {
      await waitFor(
        "two bookmarks",
        () => marked.seen.filter((e) => e.type === "BOOKMARK").length >= 2,
      );
      const bookmark = marked.seen.find((e) => e.type === "BOOKMARK")?.object;
      assert.deepEqual(bookmark, {
        kind: "Secret",
        apiVersion: "v1",
        metadata: { resourceVersion: String(h.server.revision) },
      });
      assert.equal(plain.seen.length, 0);
    } finally {
      plain.stop();
      marked.stop();
    }
  });

  test("sendInitialEvents: the current objects, then a BOOKMARK marking their end", async () => {
    const w = await watch(secretsPath(), {
      sendInitialEvents: true,
      allowWatchBookmarks: true,
      resourceVersionMatch: "NotOlderThan",
      fieldSelector: "metadata.name=before-list",
    });
    try {
      await waitFor("the initial events", () => w.seen.length >= 2);
      assert.deepEqual(
        w.seen.slice(0, 2).map((e) => e.type),
        ["ADDED", "BOOKMARK"],
      );
      const meta = (w.seen[1]?.object as { metadata: { annotations?: Record<string, string> } })
        .metadata;
      assert.equal(meta.annotations?.["k8s.io/initial-events-end"], "true");
    } finally {
      w.stop();
    }
  });

  test("timeoutSeconds ends the stream cleanly", async () => {
    const started = Date.now();
    const w = await watch(secretsPath(), {
      resourceVersion: String(h.server.revision),
      timeoutSeconds: 1,
    });
    await w.ended;
    assert.equal(w.endedWith(), null);
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 3000, `ended after ${took} ms`);
  });

  test("Jobs list and watch across namespaces at /apis/batch/v1/jobs", async () => {
    h.server.addNamespace("other");
    await h.batch.createNamespacedJob({
      namespace: "other",
      body: jobManifest("elsewhere", { spec: { suspend: true } }),
    });
    await h.batch.createNamespacedJob({
      namespace: h.namespace,
      body: jobManifest("here", { spec: { suspend: true } }),
    });
    const all = await h.batch.listJobForAllNamespaces({});
    assert.deepEqual(all.items.map((j) => `${j.metadata?.namespace}/${j.metadata?.name}`).sort(), [
      "other/elsewhere",
      `${h.namespace}/here`,
    ]);
    const w = await watch("/apis/batch/v1/jobs", {});
    try {
      await waitFor("both jobs", () => new Set(w.seen.map((e) => e.name)).size >= 2);
    } finally {
      w.stop();
    }
  });
});
