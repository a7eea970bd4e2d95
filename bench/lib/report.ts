// Figures, each beside the baseline measured in the same run, and the printed table.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadResult } from "./load.js";
import { median, round } from "./stats.js";

export interface Side {
  /** What was measured, in words. */
  label: string;
  /** Median of the runs. */
  value: number;
  runs: number[];
  /** Latency of the requests (median over runs of each run's p50 and p99), when known. */
  p50Ms?: number;
  p99Ms?: number;
  /** CPU µs per request of the process doing the work (see LoadResult.cpuUsPerReq). */
  cpuUsPerReq?: number;
}

export interface Figure {
  scenario: string;
  name: string;
  params: Record<string, string | number>;
  unit: string;
  better: "higher" | "lower";
  app: Side;
  baseline?: Side;
  /** app / baseline: for a rate, the share of the baseline reached; for a time, how many times slower. */
  ratio?: number;
  notes?: Record<string, unknown>;
}

export function side(label: string, results: readonly LoadResult[]): Side {
  const p50 = results.map((r) => r.latencyMs.p50);
  const p99 = results.map((r) => r.latencyMs.p99);
  const cpu = results.flatMap((r) => (r.cpuUsPerReq !== undefined ? [r.cpuUsPerReq] : []));
  return {
    label,
    value: round(median(results.map((r) => r.rate))),
    runs: results.map((r) => round(r.rate)),
    p50Ms: round(median(p50)),
    p99Ms: round(median(p99)),
    ...(cpu.length > 0 ? { cpuUsPerReq: round(median(cpu)) } : {}),
  };
}

export function valueSide(label: string, runs: readonly number[]): Side {
  return { label, value: round(median(runs)), runs: runs.map(round) };
}

export class Report {
  readonly figures: Figure[] = [];
  readonly startedAt = new Date();

  add(figure: Omit<Figure, "ratio">): Figure {
    const ratio =
      figure.baseline && figure.baseline.value !== 0
        ? round(figure.app.value / figure.baseline.value)
        : undefined;
    const full: Figure = { ...figure, ...(ratio !== undefined ? { ratio } : {}) };
    this.figures.push(full);
    process.stdout.write(`${line(full)}\n`);
    return full;
  }

  table(): string {
    const header = [
      "scenario",
      "figure",
      "params",
      "value",
      "baseline",
      "ratio",
      "p50/p99 ms",
      "base p50/p99 ms",
      "CPU µs/req",
    ];
    const rows = this.figures.map((f) => [
      f.scenario,
      f.name,
      params(f.params),
      `${fmt(f.app.value)} ${f.unit}`,
      f.baseline ? `${fmt(f.baseline.value)} ${f.unit}` : "",
      f.ratio !== undefined ? `${fmt(f.ratio)}x` : "",
      latency(f.app),
      f.baseline ? latency(f.baseline) : "",
      cpu(f),
    ]);
    return markdownTable(header, rows);
  }

  /** Writes the JSON result, formatted as prettier would (the repo's lint checks it). */
  async write(dir: string, meta: Record<string, unknown>): Promise<string> {
    mkdirSync(dir, { recursive: true });
    const stamp = this.startedAt.toISOString().replace(/[:.]/g, "-");
    const file = join(dir, `${stamp}.json`);
    const text = JSON.stringify({ meta, figures: this.figures }, null, 2);
    let formatted = `${text}\n`;
    try {
      const prettier = await import("prettier");
      formatted = await prettier.format(text, { parser: "json", printWidth: 100 });
    } catch {
      // prettier is a devDependency; without it the file is still valid JSON
    }
    writeFileSync(file, formatted);
    return file;
  }
}

function fmt(value: number): string {
  return Number.isFinite(value) ? String(round(value)) : "n/a";
}

function params(p: Record<string, string | number>): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}

function latency(s: Side): string {
  return s.p50Ms !== undefined && s.p99Ms !== undefined ? `${fmt(s.p50Ms)} / ${fmt(s.p99Ms)}` : "";
}

function cpu(f: Figure): string {
  if (f.app.cpuUsPerReq === undefined) return "";
  const base = f.baseline?.cpuUsPerReq;
  return `${fmt(f.app.cpuUsPerReq)}${base !== undefined ? ` / ${fmt(base)}` : ""}`;
}

function line(f: Figure): string {
  const base = f.baseline
    ? ` | baseline ${fmt(f.baseline.value)} ${f.unit} (${f.baseline.label})`
    : "";
  const ratio = f.ratio !== undefined ? ` | ratio ${fmt(f.ratio)}x` : "";
  const lat = f.app.p50Ms !== undefined ? ` | p50/p99 ${latency(f.app)} ms` : "";
  const blat = f.baseline?.p50Ms !== undefined ? ` vs ${latency(f.baseline)} ms` : "";
  const c = cpu(f) ? ` | CPU µs/req ${cpu(f)}` : "";
  return `[${f.scenario}] ${f.name} ${params(f.params)}: ${fmt(f.app.value)} ${f.unit}${base}${ratio}${lat}${blat}${c}`;
}

export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmtRow = (cells: string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  const sep = `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`;
  return [fmtRow(header), sep, ...rows.map(fmtRow)].join("\n");
}
