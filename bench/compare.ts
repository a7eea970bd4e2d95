// Puts the figures of several result files side by side: the first file's values, and the
// ratio to the baseline of every file, so that a change (or the noise between two runs of the
// same commit) shows at a glance.
//   node dist/bench/compare.js bench/results/A.json [bench/results/B.json ...]
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { markdownTable, type Figure } from "./lib/report.js";
import { round } from "./lib/stats.js";

interface ResultFile {
  meta: { load_average?: { start: number[]; end: number[] }; commit?: string };
  figures: Figure[];
}

const key = (f: Figure): string =>
  `${f.scenario}|${f.name}|${Object.entries(f.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ")}`;

function fmt(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? "" : String(round(v));
}

export function compare(files: string[]): string {
  const results = files.map((f) => JSON.parse(readFileSync(f, "utf8")) as ResultFile);
  const [first] = results;
  if (!first) throw new Error("no result file");
  const header = [
    "scenario",
    "figure",
    "params",
    "value",
    "baseline",
    "CPU µs/req",
    ...files.map((f) => `ratio ${basename(f, ".json").slice(0, 16)}`),
  ];
  const rows = first.figures.map((f) => [
    f.scenario,
    f.name,
    Object.entries(f.params)
      .map(([k, v]) => `${k}=${v}`)
      .join(" "),
    `${fmt(f.app.value)} ${f.unit}`,
    f.baseline ? `${fmt(f.baseline.value)} ${f.unit}` : "",
    f.app.cpuUsPerReq !== undefined
      ? `${fmt(f.app.cpuUsPerReq)} / ${fmt(f.baseline?.cpuUsPerReq)}`
      : "",
    ...results.map((r) => {
      const match = r.figures.find((g) => key(g) === key(f));
      return match?.ratio !== undefined ? `${fmt(match.ratio)}x` : "";
    }),
  ]);
  const loads = results
    .map(
      (r, i) => `${basename(files[i] ?? "")}: load ${r.meta.load_average?.start.join(" ") ?? "?"}`,
    )
    .join("\n");
  return `${markdownTable(header, rows)}\n\n${loads}\n`;
}

if (process.argv[1]?.endsWith("compare.js")) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write("usage: node dist/bench/compare.js <result.json> [more.json ...]\n");
    process.exit(2);
  }
  process.stdout.write(compare(files));
}
