// Diagnostic only: the worker branch of src/main.ts with nothing else imported. main.ts loads
// every app, fastify, swagger and the Kubernetes client before it looks at its argument; this
// entrypoint shows what a worker costs without them (the e2e scenario runs it beside main.js).
//   node dist/bench/lean-worker.js <task-id>
import { loadConfig } from "../src/config.js";
import { connect } from "../src/db/connect.js";
import { createLogger } from "../src/log.js";
import { runWorker } from "../src/worker.js";

const taskId = process.argv[2];
const config = loadConfig();
if (!taskId || !config.databaseUrl) {
  process.stderr.write("usage: DATABASE_URL=... node dist/bench/lean-worker.js <task-id>\n");
  process.exit(2);
}
const log = createLogger(config.logLevel, "worker");
const sql = connect(config.databaseUrl, { max: 2, applicationName: "trainyard-worker" });
const code = await runWorker(sql, taskId, { datasetPath: config.datasetPath }, log).finally(() =>
  sql.end({ timeout: 5 }),
);
process.exit(code);
