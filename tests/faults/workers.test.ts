// Workers that misbehave end in a clear failed status, never a stuck one: a run that hangs is
// stopped at its time limit, a run fed garbage says what was wrong with it.
import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startApp, type AppProcess } from "../support/app-process.js";
import { freshDatabase } from "../support/database.js";
import { call, isAlive, waitForStatus, type TaskBody } from "../support/http.js";

describe("misbehaving workers", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let polling: AppProcess;
  const started: AppProcess[] = [];

  before(async () => {
    db = await freshDatabase();
    polling = await startApp("polling", { databaseUrl: db.url });
  });
  after(async () => {
    await Promise.all([polling?.stop(), ...started.map((p) => p.stop())]);
    await db?.drop();
  });

  test("a run that hangs past its time limit is killed and fails with DeadlineExceeded", async () => {
    const controller = await startApp("controller", { databaseUrl: db.url });
    started.push(controller);
    try {
      const res = await call<TaskBody>("POST", `${polling.url("polling")}/train`, {
        duration_seconds: 600,
        timeout_seconds: 4,
      });
      assert.equal(res.status, 202);
      // The limit counts from the launch, as a Job's does from its start: on a loaded machine
      // the run may not even reach running first, so its pid is taken only if it does.
      const seen = await waitForStatus(polling.url("polling"), res.body.id, ["running", "failed"]);
      const [row] = await db.sql<{ runner_ref: string | null }[]>`
        SELECT runner_ref FROM tasks WHERE id = ${res.body.id}`;
      const pid = Number(/^pid:(\d+)@/.exec(row?.runner_ref ?? "")?.[1] ?? 0);
      if (seen.status === "running") assert.ok(pid > 0 && isAlive(pid), "the worker runs");

      const failed = await waitForStatus(polling.url("polling"), res.body.id, [
        "failed",
        "completed",
      ]);
      assert.equal(failed.status, "failed");
      const deadline = Date.now() + 10_000;
      let error = failed.error;
      while (error?.code !== "DeadlineExceeded" && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        error = (
          await call<TaskBody>("GET", `${polling.url("polling")}/train/${res.body.id}/status`)
        ).body.error;
      }
      assert.equal(error?.code, "DeadlineExceeded", JSON.stringify(error));
      if (pid > 0) assert.equal(isAlive(pid), false, "the hung worker is gone");
    } finally {
      await controller.stop();
    }
  });

  test("a run fed garbage fails with a message that names what is wrong", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trainyard-garbage-"));
    const garbage = join(dir, "penguins.csv");
    writeFileSync(
      garbage,
      "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n" +
        "Adelie,Torgersen,abc,\u0000\u0001,zz,NaN,male,2007\n\u00ff\u00fe no commas here\n",
    );
    const controller = await startApp("controller", {
      databaseUrl: db.url,
      env: { TRAINYARD_DATASET_PATH: garbage },
    });
    started.push(controller);
    try {
      const res = await call<TaskBody>("POST", `${polling.url("polling")}/train`, {
        duration_seconds: 0,
      });
      const failed = await waitForStatus(polling.url("polling"), res.body.id, [
        "failed",
        "completed",
      ]);
      assert.equal(failed.status, "failed");
      assert.equal(failed.error?.code, "training_failed");
      assert.match(failed.error?.message ?? "", /line 2: bill_length_mm "abc" is not a number/);
      const result = await call("GET", `${polling.url("polling")}/train/${res.body.id}/result`);
      assert.equal(result.status, 409);
    } finally {
      await controller.stop();
    }
  });
});
