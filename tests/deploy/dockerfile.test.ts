// The Dockerfile, checked without a Docker engine: parsed into stages and instructions, then
// held to what the cluster relies on (the final stage's base, user, layout and entrypoint) and
// to what it must not carry (sources, tests, dev dependencies, a whole-context copy).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { APP_NAMES } from "../../src/config.js";
import { CHART, ROOT } from "./helpers.js";

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  base: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Comment lines dropped, continuation lines joined, as Docker reads them. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("#")) continue;
    if (line === "" && pending === "") continue;
    const continued = line.endsWith("\\");
    pending += (pending ? " " : "") + (continued ? line.slice(0, -1).trim() : line);
    if (continued) continue;
    const match = /^(\S+)\s*(.*)$/.exec(pending);
    if (match) out.push({ keyword: (match[1] ?? "").toUpperCase(), args: match[2] ?? "" });
    pending = "";
  }
  return out;
}

function stages(text: string): Stage[] {
  const globalArgs = new Map<string, string>();
  const result: Stage[] = [];
  for (const instruction of instructions(text)) {
    if (instruction.keyword === "FROM") {
      const [image = "", as, name] = instruction.args.split(/\s+/);
      const base = image.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a?: string, b?: string) => {
        return globalArgs.get(a ?? b ?? "") ?? "";
      });
      result.push({ base, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else if (result.length === 0 && instruction.keyword === "ARG") {
      const [key = "", value = ""] = instruction.args.split("=");
      globalArgs.set(key, value);
    } else {
      result.at(-1)?.instructions.push(instruction);
    }
  }
  return result;
}

function jsonArray(args: string): string[] {
  const value: unknown = JSON.parse(args);
  assert.ok(Array.isArray(value), `not the exec form: ${args}`);
  return value as string[];
}

const DOCKERFILE = readFileSync(join(ROOT, "Dockerfile"), "utf8");
const STAGES = stages(DOCKERFILE);
const FINAL = STAGES.at(-1) as Stage;

function all(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

function last(stage: Stage, keyword: string): string {
  const found = all(stage, keyword).at(-1);
  assert.ok(found !== undefined, `no ${keyword} in the final stage`);
  return found;
}

describe("Dockerfile", () => {
  test("is multi-stage; the final stage runs on the official Node 20 slim image", () => {
    assert.ok(STAGES.length >= 2, "a build stage and a runtime stage");
    assert.match(FINAL.base, /^node:20(\.\d+)*-[a-z]+-slim$/);
    for (const stage of STAGES) assert.match(stage.base, /^node:20/);
  });

  test("runs as a numeric non-root user, the chart's runAsUser", () => {
    const user = last(FINAL, "USER");
    const match = /^(\d+)(?::(\d+))?$/.exec(user);
    assert.ok(match, `USER ${user} is not numeric`);
    const uid = Number(match[1]);
    assert.notEqual(uid, 0);
    if (match[2] !== undefined) assert.notEqual(Number(match[2]), 0);
    const values = parse(readFileSync(join(CHART, "values.yaml"), "utf8")) as { runAsUser: number };
    assert.equal(values.runAsUser, uid);
  });

  test("WORKDIR /app and the entrypoint the Kubernetes runner relies on", () => {
    assert.equal(last(FINAL, "WORKDIR"), "/app");
    const entrypoint = jsonArray(last(FINAL, "ENTRYPOINT"));
    assert.deepEqual(entrypoint, ["node", "dist/src/main.js"]);
    const cmd = jsonArray(last(FINAL, "CMD"));
    assert.equal(cmd.length, 1);
    assert.ok((APP_NAMES as readonly string[]).includes(cmd[0] ?? ""), `CMD ${cmd[0]}`);
    assert.notEqual(cmd[0], "worker", "the worker needs a task id");
    assert.match(last(FINAL, "ENV"), /\bNODE_ENV=production\b/);
    // What the Jobs run resolves against WORKDIR, and the compiled entrypoint exists there.
    assert.ok(existsSync(join(ROOT, "src", "main.ts")));
  });

  test("the runtime stage holds only dist/src, data, node_modules and package.json", () => {
    const copies = all(FINAL, "COPY").map((args) => args.split(/\s+/));
    const destinations = copies.map((parts) => parts.at(-1)).sort();
    assert.deepEqual(destinations, [
      "./data/penguins.csv",
      "./dist/src",
      "./node_modules",
      "./package.json",
    ]);
    for (const parts of copies) {
      const sources = parts.filter((p) => !p.startsWith("--")).slice(0, -1);
      assert.ok(!sources.includes("."), `COPY of the whole context: COPY ${parts.join(" ")}`);
      const fromBuild = parts.some((p) => p.startsWith("--from="));
      for (const source of sources) {
        if (fromBuild) assert.match(source, /^\/app\/(package\.json|node_modules|dist\/src)$/);
        else assert.equal(source, "data/penguins.csv");
      }
    }
    assert.deepEqual(all(FINAL, "RUN"), [], "nothing is installed or built at runtime");
    assert.deepEqual(all(FINAL, "ADD"), []);
  });

  test("the build stage installs with the patches, builds and prunes dev dependencies", () => {
    const build = STAGES[0] as Stage;
    const order = build.instructions.map((i) => `${i.keyword} ${i.args}`);
    const patches = order.findIndex((i) => /^COPY patches\b/.test(i));
    const install = order.findIndex((i) => /^RUN npm ci\b/.test(i));
    assert.ok(patches >= 0 && install > patches, "patches/ is there before npm ci (postinstall)");
    assert.ok(order.some((i) => /^RUN .*npm run build\b/.test(i)));
    assert.ok(order.some((i) => /npm prune --omit=dev|npm ci --omit=dev/.test(i)));
    for (const copy of all(build, "COPY")) assert.doesNotMatch(copy, /^\.\s/);
  });

  test(".dockerignore keeps local state, tests and builds out; the copied files stay in", () => {
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    for (const entry of ["node_modules", ".git", "tests", ".trainyard", "dist"]) {
      assert.ok(ignored.includes(entry), `.dockerignore lacks ${entry}`);
    }
    const sources = STAGES.flatMap((stage) =>
      all(stage, "COPY")
        .filter((args) => !args.includes("--from="))
        .flatMap((args) => args.split(/\s+/).slice(0, -1)),
    );
    assert.ok(sources.length > 0);
    for (const source of sources) {
      assert.ok(existsSync(join(ROOT, source)), `COPY ${source}: no such file`);
      const top = source.split("/")[0] ?? source;
      assert.ok(!ignored.includes(top) && !ignored.includes(source), `${source} is ignored`);
    }
  });
});
