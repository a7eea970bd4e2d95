// `npm test`: provides a Postgres (DATABASE_URL's server, or an embedded one in a temp dir that
// is always removed), migrates a template database once, then runs node's test runner over the
// compiled test files. Suites clone the template (tests/support/database.ts).
import { spawn } from "node:child_process";
import { chmod, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { connect } from "../src/db/connect.js";
import { startEmbeddedPostgres } from "../src/db/embedded.js";
import { migrate } from "../src/db/migrate.js";
import { databaseUrl, TEMPLATE_DATABASE } from "./support/database.js";
import { freePort } from "./support/ports.js";

const CONCURRENCY = 2;
// stdout belongs to the spec reporter; our own lines go to stderr.
const log = pino({ level: process.env.TRAINYARD_TEST_LOG_LEVEL ?? "info" }, pino.destination(2));

// Node 20's --test does not expand globs, so find the files ourselves.
async function testFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await testFiles(path)));
    else if (entry.name.endsWith(".test.js")) out.push(path);
  }
  return out.sort();
}

interface Server {
  adminUrl: string;
  stop(): Promise<void>;
}

async function server(): Promise<Server> {
  const external = process.env.DATABASE_URL;
  if (external) return { adminUrl: external, stop: () => Promise.resolve() };
  const dataDir = await mkdtemp(join(tmpdir(), "trainyard-test-pg-"));
  await chmod(dataDir, 0o755); // the server runs as the postgres user, not as us
  const pg = await startEmbeddedPostgres({
    dataDir,
    port: await freePort(),
    log: log.child({ component: "embedded-postgres" }),
    // Throwaway cluster: durability buys nothing, speed (CREATE DATABASE per suite) does.
    settings: {
      fsync: "off",
      synchronous_commit: "off",
      full_page_writes: "off",
      max_connections: "300",
    },
  });
  return {
    adminUrl: databaseUrl(pg.url, "postgres"),
    async stop() {
      await pg.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function prepareTemplate(adminUrl: string): Promise<void> {
  const admin = connect(adminUrl, { max: 1 });
  try {
    // Rebuilt every run so the template always has the current migrations.
    await admin.unsafe(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const sql = connect(databaseUrl(adminUrl, TEMPLATE_DATABASE), { max: 1 });
  try {
    await migrate(sql);
  } finally {
    // Closed before any clone: CREATE DATABASE ... TEMPLATE needs it to have no sessions.
    await sql.end({ timeout: 5 });
  }
}

async function main(): Promise<number> {
  const here = dirname(fileURLToPath(import.meta.url));
  const args = process.argv.slice(2);
  const files = args.length > 0 ? args : await testFiles(here);
  const started = Date.now();
  const db = await server();
  let stopped: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (stopped ??= db.stop());

  let child: ReturnType<typeof spawn> | undefined;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log.warn({ signal }, "interrupted; stopping tests and Postgres");
      child?.kill(signal);
      void cleanup().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    });
  }

  try {
    await prepareTemplate(db.adminUrl);
    log.info({ ms: Date.now() - started, files: files.length }, "database ready, running tests");
    const nodeArgs = ["--test", `--test-concurrency=${CONCURRENCY}`, "--test-reporter=spec"];
    child = spawn(process.execPath, [...nodeArgs, ...files], {
      stdio: "inherit",
      env: { ...process.env, TRAINYARD_TEST_ADMIN_URL: db.adminUrl },
    });
    const running = child;
    return await new Promise<number>((resolve) => {
      running.once("exit", (code) => resolve(code ?? 1));
    });
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log.error({ err }, "test run failed");
    process.exit(1);
  },
);
