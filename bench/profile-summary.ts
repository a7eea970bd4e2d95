// Summarises a V8 CPU profile (node --cpu-prof, or BENCH_CPU_PROF_DIR): self time per package
// (node_modules/<name>, node:internal, the app's own dist/ files) and the hottest functions.
//   node dist/bench/profile-summary.js <file.cpuprofile> [top]
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export function bucketOf(url: string): string {
  if (url === "") return "(native/gc/idle)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm?.[1]) return nm[1];
  if (url.startsWith("node:")) return "node:internal";
  const dist = /\/dist\/(.*)$/.exec(url);
  if (dist?.[1]) return `app:${dist[1].split("/").slice(0, 2).join("/")}`;
  return url;
}

export function summarise(profile: Profile, top = 15): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const totalUs = profile.endTime - profile.startTime;
  const buckets = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const bucket = functionName === "(idle)" ? "(idle)" : bucketOf(url);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + us);
    const fn = `${functionName || "(anonymous)"} ${url.split("/").slice(-2).join("/")}:${lineNumber + 1}`;
    fns.set(fn, (fns.get(fn) ?? 0) + us);
  }
  const ms = (us: number): string => (us / 1000).toFixed(1).padStart(8);
  const lines = [`profile: ${ms(totalUs)} ms wall`, "", "self time by package:"];
  for (const [b, us] of [...buckets].sort((a, c) => c[1] - a[1]).slice(0, top)) {
    lines.push(`${ms(us)} ms  ${b}`);
  }
  lines.push("", "hottest functions (self):");
  for (const [f, us] of [...fns].sort((a, c) => c[1] - a[1]).slice(0, top)) {
    lines.push(`${ms(us)} ms  ${f}`);
  }
  return lines.join("\n");
}

if (process.argv[1]?.endsWith("profile-summary.js")) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: node dist/bench/profile-summary.js <file.cpuprofile> [top]\n");
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  process.stdout.write(`${summarise(profile, Number(process.argv[3] ?? 15))}\n`);
}
