// Reads Prometheus text exposition (format 0.0.4) as a scraper would: the TYPE of each metric
// family and the value of each series, keyed by name and sorted labels.
import assert from "node:assert/strict";

export interface Scrape {
  contentType: string;
  text: string;
  types: Map<string, string>;
  /** `name{a="x",b="y"}` (labels sorted) -> value. */
  series: Map<string, number>;
}

export function seriesKey(name: string, labels: Record<string, string> = {}): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k] ?? ""}"`);
  return parts.length > 0 ? `${name}{${parts.join(",")}}` : name;
}

function parseLabels(raw: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(raw); m; m = re.exec(raw)) {
    labels[m[1] as string] = (m[2] as string).replace(/\\"/g, '"').replace(/\\\\/g, "\\");
  }
  return labels;
}

export function parseExposition(text: string, contentType = ""): Scrape {
  const types = new Map<string, string>();
  const series = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP")) continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1] as string, type[2] as string);
      continue;
    }
    assert.ok(!line.startsWith("#"), `unexpected comment: ${line}`);
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    assert.ok(sample, `not a sample line: ${line}`);
    const labels = sample[2] ? parseLabels(sample[2]) : {};
    series.set(seriesKey(sample[1] as string, labels), Number(sample[3]));
  }
  return { contentType, text, types, series };
}

export async function scrape(baseUrl: string): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return parseExposition(text, res.headers.get("content-type") ?? "");
}

/** The value of one series; undefined when the scrape does not have it. */
export function valueOf(
  s: Scrape,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return s.series.get(seriesKey(name, labels));
}

/** Sum of every series of `name` whose labels include `labels`. */
export function sumOf(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const [key, value] of s.series) {
    const brace = key.indexOf("{");
    const keyName = brace === -1 ? key : key.slice(0, brace);
    if (keyName !== name) continue;
    const have = brace === -1 ? {} : parseLabels(key.slice(brace));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += value;
  }
  return total;
}
