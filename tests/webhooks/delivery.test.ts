// Webhook deliveries end to end: real controller (the dispatcher runs there), real webhook app,
// real Postgres, and a scripted receiver on loopback.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { startApp, type AppProcess } from "../support/app-process.js";
import { freshDatabase } from "../support/database.js";
import { call, waitForStatus, type TaskBody } from "../support/http.js";
import { Receiver } from "../support/receiver.js";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const ENV = {
  TRAINYARD_WEBHOOK_SIGNING_SECRETS: SECRET,
  TRAINYARD_WEBHOOK_MAX_ATTEMPTS: "3",
  TRAINYARD_WEBHOOK_BACKOFF: "fixed",
  TRAINYARD_WEBHOOK_BACKOFF_SECONDS: "1",
  TRAINYARD_WEBHOOK_TIMEOUT_SECONDS: "6",
};

interface DeliveryView {
  id: string;
  state: string;
  attempts: number;
  attempt_log: { attempt: number; status_code: number | null; error: string | null }[];
}

describe("webhook deliveries", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let controller: AppProcess;
  let webhook: AppProcess;
  const receiver = new Receiver();
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  before(async () => {
    db = await freshDatabase();
    await receiver.start();
    controller = await startApp("controller", { databaseUrl: db.url, env: ENV });
    webhook = await startApp("webhook", { databaseUrl: db.url, env: ENV });
  });
  after(async () => {
    await Promise.all([webhook?.stop(), controller?.stop()]);
    await receiver.close();
    await db?.drop();
  });

  async function submit(path: string, durationSeconds = 0): Promise<TaskBody> {
    const res = await call<TaskBody>("POST", `${webhook.url("webhook")}/train`, {
      callback_url: receiver.url(path),
      duration_seconds: durationSeconds,
    });
    assert.equal(res.status, 202, res.text);
    assert.equal(res.headers.get("location"), `/train/${res.body.id}/status`);
    return res.body;
  }

  async function deliveries(taskId: string): Promise<DeliveryView[]> {
    const res = await call<{ items: DeliveryView[] }>(
      "GET",
      `${webhook.url("webhook")}/train/${taskId}/deliveries`,
    );
    assert.equal(res.status, 200, res.text);
    return res.body.items;
  }

  async function waitForDelivery(taskId: string, state: string): Promise<DeliveryView> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const [delivery] = await deliveries(taskId);
      if (delivery?.state === state) return delivery;
      if (Date.now() > deadline)
        throw new Error(`delivery never ${state}: ${JSON.stringify(delivery)}`);
      await sleep(100);
    }
  }

  test("500 twice then 200: exactly 3 signed attempts, spaced as configured, recorded", async () => {
    receiver.script("/flaky", [{ status: 500 }, { status: 500 }, { status: 200 }]);
    const task = await submit("/flaky");
    const arrivals = await receiver.waitFor("/flaky", 3);
    await sleep(1500); // a 4th attempt would be due by now
    assert.equal(receiver.at("/flaky").length, 3);

    const [a1, a2, a3] = arrivals;
    assert.ok(a1 && a2 && a3);
    for (const [earlier, later] of [
      [a1, a2],
      [a2, a3],
    ] as const) {
      const gap = later.at - earlier.at;
      assert.ok(gap >= 950 && gap < 3000, `attempts 1 s apart, got ${gap} ms`);
    }
    const ids = new Set(arrivals.map((a) => a.headers["webhook-id"]));
    assert.equal(ids.size, 1, "one event id across retries");

    // Verified exactly as a receiver would, with the reference library.
    for (const arrival of arrivals) {
      const payload = new Webhook(SECRET).verify(arrival.body, arrival.headers as never) as {
        id: string;
        status: string;
        result: { n: number };
        created_at: string;
        finished_at: string;
      };
      assert.equal(payload.id, task.id);
      assert.equal(payload.status, "completed");
      assert.equal(payload.result.n, 333);
      assert.ok(payload.created_at && payload.finished_at);
    }

    const delivery = await waitForDelivery(task.id, "succeeded");
    assert.equal(delivery.attempts, 3);
    assert.equal(delivery.id, [...ids][0]);
    assert.deepEqual(
      delivery.attempt_log.map((a) => a.status_code),
      [500, 500, 200],
    );
    const again = await call(
      "POST",
      `${webhook.url("webhook")}/train/${task.id}/deliveries/redeliver`,
    );
    assert.equal(again.status, 409);
    assert.equal(again.body.code, "delivery_not_failed");
  });

  test("a receiver that never answers 2xx: failed, visible, and redeliverable", async () => {
    receiver.script("/down", [{ status: 500 }]);
    const task = await submit("/down");
    await receiver.waitFor("/down", 3);
    const failed = await waitForDelivery(task.id, "failed");
    assert.equal(failed.attempts, 3);
    assert.equal(failed.attempt_log.length, 3);
    assert.ok(failed.attempt_log.every((a) => a.status_code === 500));

    receiver.script("/down", [{ status: 204 }]);
    const res = await call<DeliveryView>(
      "POST",
      `${webhook.url("webhook")}/train/${task.id}/deliveries/redeliver`,
    );
    assert.equal(res.status, 202, res.text);
    assert.equal(res.body.id, failed.id);
    const arrivals = await receiver.waitFor("/down", 4);
    assert.equal(arrivals[3]?.headers["webhook-id"], failed.id, "same event id on redelivery");
    const done = await waitForDelivery(task.id, "succeeded");
    assert.equal(done.attempts, 4);
  });

  test("a receiver answering garbage: retried per policy, then a 200 with a huge body succeeds", async () => {
    // Not HTTP at all, then a connection cut mid-answer, then a valid 200 whose 5 MB body
    // must not be read (the dispatcher reads 4 KiB at most).
    let connections = 0;
    let requests = 0;
    const raw = createServer((socket) => {
      connections++;
      socket.on("error", () => undefined);
      socket.once("data", () => {
        requests++;
        if (requests === 1) socket.end("NOT HTTP \u0000\u00ff garbage\r\n\r\n");
        else if (requests === 2) socket.end("HTTP/1.1 200 OK\r\nContent-Length: 9");
        else {
          socket.write(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5242880\r\n\r\n",
          );
          socket.end(Buffer.alloc(5 * 1024 * 1024, 0x41));
        }
      });
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    try {
      const { port } = raw.address() as AddressInfo;
      const res = await call<TaskBody>("POST", `${webhook.url("webhook")}/train`, {
        callback_url: `http://127.0.0.1:${port}/garbage`,
        duration_seconds: 0,
      });
      assert.equal(res.status, 202, res.text);
      const delivery = await waitForDelivery(res.body.id, "succeeded");
      assert.equal(delivery.attempts, 3);
      assert.equal(
        requests,
        3,
        `one request per attempt, none after the success (${connections} connections)`,
      );
      const [first, second, third] = delivery.attempt_log;
      assert.equal(first?.status_code, null);
      assert.ok(first?.error, "the garbage is recorded as an error");
      assert.equal(second?.status_code, null);
      assert.ok(second?.error, "the cut answer too");
      assert.equal(third?.status_code, 200);
    } finally {
      raw.close();
    }
  });

  test("410 Gone stops the retries at once", async () => {
    receiver.script("/gone", [{ status: 410 }]);
    const task = await submit("/gone");
    await receiver.waitFor("/gone", 1);
    const delivery = await waitForDelivery(task.id, "gone");
    await sleep(1500);
    assert.equal(receiver.at("/gone").length, 1);
    assert.equal(delivery.attempts, 1);
  });

  test("redirects are not followed", async () => {
    receiver.script("/moved", [{ status: 307, headers: { location: receiver.url("/target") } }]);
    const task = await submit("/moved");
    await receiver.waitFor("/moved", 3);
    const failed = await waitForDelivery(task.id, "failed");
    assert.deepEqual(
      failed.attempt_log.map((a) => a.status_code),
      [307, 307, 307],
    );
    assert.equal(receiver.at("/target").length, 0);
  });

  test("Retry-After on 429 is honoured", async () => {
    receiver.script("/busy", [{ status: 429, headers: { "retry-after": "3" } }, { status: 200 }]);
    await submit("/busy");
    const [first, second] = await receiver.waitFor("/busy", 2);
    assert.ok(first && second);
    const gap = second.at - first.at;
    assert.ok(gap >= 2950, `waited ${gap} ms, Retry-After asked 3000`);
  });

  test("a slow receiver does not delay another's delivery", async () => {
    receiver.script("/slow", [{ hang: true }, { status: 200 }]);
    receiver.script("/fast", [{ status: 200 }]);
    const slow = await submit("/slow");
    await receiver.waitFor("/slow", 1);
    await submit("/fast");
    await receiver.waitFor("/fast", 1);
    // The slow receiver's first attempt is still open (it ends only at the 6 s timeout, ample on a loaded machine).
    const [pending] = await deliveries(slow.id);
    assert.equal(pending?.state, "pending");
    assert.equal(pending?.attempt_log.length, 0, "the slow attempt has not ended yet");
    const done = await waitForDelivery(slow.id, "succeeded");
    assert.equal(done.attempt_log[0]?.error, "timed out");
  });

  test("two dispatchers (two controllers) never send the same attempt twice", async () => {
    const second = await startApp("controller", { databaseUrl: db.url, env: ENV });
    try {
      const paths = Array.from({ length: 12 }, (_, i) => `/replicas/${i}`);
      for (const path of paths) receiver.script(path, [{ status: 500 }, { status: 200 }]);
      await Promise.all(paths.map((path) => submit(path)));
      for (const path of paths) await receiver.waitFor(path, 2);
      await sleep(1500); // time for any duplicate to show up
      for (const path of paths) {
        const arrivals = receiver.at(path);
        assert.equal(arrivals.length, 2, `${path}: one failed attempt and one success`);
        assert.equal(new Set(arrivals.map((a) => a.headers["webhook-id"])).size, 1);
      }
    } finally {
      await second.stop();
    }
  });

  test("refused callback URLs are answered 400 at submission, naming the field", async () => {
    for (const callback_url of [
      "http://169.254.169.254/latest/meta-data/",
      "http://[fe80::1]:8006/callback",
      "http://0.0.0.0:8006/callback",
      "ftp://example.com/callback",
      "/callback",
      `http://example.com/${"x".repeat(2100)}`,
      42,
    ]) {
      const res = await call("POST", `${webhook.url("webhook")}/train`, { callback_url });
      assert.equal(res.status, 400, `${String(callback_url).slice(0, 40)}: ${res.text}`);
      assert.equal(res.body.field, "callback_url");
      assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/);
    }
    const missing = await call("POST", `${webhook.url("webhook")}/train`, {});
    assert.equal(missing.status, 400);
    assert.equal(missing.body.field, "callback_url");
  });

  test("the controller killed between the terminal status and the delivery still delivers", async () => {
    receiver.script("/late", [{ status: 200 }]);
    const task = await submit("/late", 2);
    await waitForStatus(webhook.url("webhook"), task.id, ["running"]);
    await controller.stop("SIGKILL");
    // The worker finishes on its own; with no dispatcher alive nothing can be sent yet.
    await waitForStatus(webhook.url("webhook"), task.id, ["completed"]);
    await sleep(300);
    assert.equal(receiver.at("/late").length, 0);
    assert.equal((await deliveries(task.id))[0]?.state, "pending");

    controller = await startApp("controller", { databaseUrl: db.url, env: ENV });
    const [arrival] = await receiver.waitFor("/late", 1);
    const payload = JSON.parse(arrival?.body ?? "{}") as { id: string; status: string };
    assert.deepEqual([payload.id, payload.status], [task.id, "completed"]);
    await waitForDelivery(task.id, "succeeded");
  });
});

describe("webhook client (8006) and server (8005) together", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let controller: AppProcess;
  let webhook: AppProcess;
  let client: AppProcess;

  before(async () => {
    db = await freshDatabase();
    controller = await startApp("controller", { databaseUrl: db.url, env: ENV });
    webhook = await startApp("webhook", { databaseUrl: db.url, env: ENV });
    client = await startApp("webhook-client", {
      databaseUrl: db.url,
      env: (ports) => ({
        ...ENV,
        TRAINYARD_WEBHOOK_CLIENT_PUBLIC_URL: `http://127.0.0.1:${ports["webhook-client"]}`,
        TRAINYARD_WEBHOOK_SERVER_URL: webhook.url("webhook"),
      }),
    });
  });
  after(async () => {
    await Promise.all([client?.stop(), webhook?.stop(), controller?.stop()]);
    await db?.drop();
  });

  const clientUrl = (): string => client.url("webhook-client");

  test("client -> server -> client: the callback is verified, logged and listed", async () => {
    const res = await call<TaskBody>("POST", `${clientUrl()}/train`);
    assert.equal(res.status, 202, res.text);
    assert.equal(
      res.headers.get("location"),
      `${webhook.url("webhook")}/train/${res.body.id}/status`,
    );
    const deadline = Date.now() + 20_000;
    let items: { webhook_id: string; verified: boolean; body: { id: string; status: string } }[] =
      [];
    while (Date.now() < deadline) {
      items = (await call<{ items: typeof items }>("GET", `${clientUrl()}/callbacks`)).body.items;
      if (items.some((i) => i.body.id === res.body.id)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const received = items.find((i) => i.body.id === res.body.id);
    assert.ok(received, "the callback arrived");
    assert.equal(received.verified, true);
    assert.equal(received.body.status, "completed");
    assert.ok(
      client.logs.some((l) => l.includes('"msg":"callback received"') && l.includes(res.body.id)),
      "logged with its arrival",
    );
  });

  test("forged or stale callbacks get 401; a repeated webhook-id is acknowledged once", async () => {
    const body = JSON.stringify({ id: "forged", status: "completed" });
    const ts = String(Math.floor(Date.now() / 1000));
    const forged = await call("POST", `${clientUrl()}/callback`, body, {
      "webhook-id": "msg_forged",
      "webhook-timestamp": ts,
      "webhook-signature": "v1,AAAA",
    });
    assert.equal(forged.status, 401);
    assert.equal(forged.body.code, "bad_signature");
    const unsigned = await call("POST", `${clientUrl()}/callback`, body);
    assert.equal(unsigned.status, 401);

    const webhookSigner = new Webhook(SECRET);
    const stale = new Date(Date.now() - 3600_000);
    const staleRes = await call("POST", `${clientUrl()}/callback`, body, {
      "webhook-id": "msg_stale",
      "webhook-timestamp": String(Math.floor(stale.getTime() / 1000)),
      "webhook-signature": webhookSigner.sign("msg_stale", stale, body),
    });
    assert.equal(staleRes.status, 401);
    assert.equal(staleRes.body.reason, "timestamp_out_of_range");

    const now = new Date();
    const headers = {
      "webhook-id": "msg_twice",
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": webhookSigner.sign("msg_twice", now, body),
    };
    const first = await call("POST", `${clientUrl()}/callback`, body, headers);
    const second = await call("POST", `${clientUrl()}/callback`, body, headers);
    assert.deepEqual([first.status, first.body.duplicate], [200, false]);
    assert.deepEqual([second.status, second.body.duplicate], [200, true]);
    const list = await call<{ items: { webhook_id: string }[] }>("GET", `${clientUrl()}/callbacks`);
    assert.equal(list.body.items.filter((i) => i.webhook_id === "msg_twice").length, 1);
    assert.equal(list.body.items.filter((i) => i.webhook_id === "msg_forged").length, 0);
  });
});
