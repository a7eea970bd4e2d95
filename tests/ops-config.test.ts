// The operations settings (retention, logs): defaults, and bad values named at start-up.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../src/config.js";

test("retention and log defaults: 30 days hourly in batches of 500; 64 KiB of log, at most 1 MiB, no pod logs", () => {
  const config = loadConfig({});
  assert.deepEqual(config.retention, {
    days: 30,
    intervalSeconds: 3600,
    batchSize: 500,
    batchPauseMs: 100,
  });
  assert.deepEqual(config.logs, {
    tailBytes: 64 * 1024,
    maxTailBytes: 1024 * 1024,
    kubernetesPodLogs: false,
  });
  assert.equal(loadConfig({ TRAINYARD_RETENTION_DAYS: "0" }).retention.days, 0, "0 keeps all");
  // A smaller ceiling lowers the default with it.
  assert.deepEqual(loadConfig({ TRAINYARD_LOG_MAX_TAIL_BYTES: "2048" }).logs, {
    tailBytes: 2048,
    maxTailBytes: 2048,
    kubernetesPodLogs: false,
  });
});

test("reading the training pods' logs is opt-in: TRAINYARD_KUBERNETES_POD_LOGS", () => {
  for (const on of ["true", "1", "yes", "on", "TRUE"]) {
    assert.equal(loadConfig({ TRAINYARD_KUBERNETES_POD_LOGS: on }).logs.kubernetesPodLogs, true);
  }
  for (const off of ["false", "0", "no", "off", ""]) {
    assert.equal(loadConfig({ TRAINYARD_KUBERNETES_POD_LOGS: off }).logs.kubernetesPodLogs, false);
  }
});

test("bad retention and log settings stop start-up naming the variable", () => {
  const cases: [Record<string, string>, string][] = [
    [{ TRAINYARD_RETENTION_DAYS: "-1" }, "TRAINYARD_RETENTION_DAYS"],
    [{ TRAINYARD_RETENTION_DAYS: "thirty" }, "TRAINYARD_RETENTION_DAYS"],
    [{ TRAINYARD_RETENTION_INTERVAL_SECONDS: "0" }, "TRAINYARD_RETENTION_INTERVAL_SECONDS"],
    [{ TRAINYARD_RETENTION_BATCH_SIZE: "0" }, "TRAINYARD_RETENTION_BATCH_SIZE"],
    [{ TRAINYARD_RETENTION_BATCH_PAUSE_MS: "1.5" }, "TRAINYARD_RETENTION_BATCH_PAUSE_MS"],
    [{ TRAINYARD_LOG_MAX_TAIL_BYTES: "100" }, "TRAINYARD_LOG_MAX_TAIL_BYTES"],
    [{ TRAINYARD_KUBERNETES_POD_LOGS: "maybe" }, "TRAINYARD_KUBERNETES_POD_LOGS"],
    [
      { TRAINYARD_LOG_MAX_TAIL_BYTES: "2048", TRAINYARD_LOG_TAIL_BYTES: "4096" },
      "TRAINYARD_LOG_TAIL_BYTES",
    ],
  ];
  for (const [env, variable] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => err instanceof ConfigError && err.variable === variable,
      JSON.stringify(env),
    );
  }
});
