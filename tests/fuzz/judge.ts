// What the fuzzer holds every answer to: never a 5xx, every 4xx a problem+json with a code and
// its own status, nothing from the file system, and an answer to every whole request.
import type { FuzzCase } from "./cases.js";
import type { Exchange, RawResponse } from "./raw-http.js";

/** Markers of files that must never be served: package.json, /etc/passwd, the source. */
const LEAKS = [/"name":\s*"trainyard"/, /root:x:0:0/, /DATABASE_URL/];

export function preview(data: Buffer | string, max = 160): string {
  const text = typeof data === "string" ? data : data.toString("latin1");
  const shown = JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
  return text.length > max ? `${shown} (${text.length} bytes)` : shown;
}

function judgeResponse(res: RawResponse, method: string): string[] {
  const problems: string[] = [];
  const type = res.headers["content-type"] ?? "";
  if (res.status >= 500) problems.push(`answered ${res.status} ${type}: ${preview(res.body)}`);
  if (res.status >= 400) {
    if (!/^application\/problem\+json/.test(type)) {
      problems.push(
        `${res.status} is not problem+json (${type || "no type"}): ${preview(res.body)}`,
      );
    } else if (method !== "HEAD") {
      let body: { code?: unknown; status?: unknown } | undefined;
      try {
        body = JSON.parse(res.body.toString("utf8")) as typeof body;
      } catch {
        problems.push(`${res.status} problem+json that does not parse: ${preview(res.body)}`);
      }
      if (body && (typeof body.code !== "string" || body.status !== res.status)) {
        problems.push(`${res.status} problem without its code or status: ${preview(res.body)}`);
      }
    }
  }
  for (const leak of LEAKS) {
    if (leak.test(res.body.toString("latin1"))) {
      problems.push(`body matches ${leak}: ${preview(res.body)}`);
    }
  }
  return problems;
}

/** Everything wrong with how the service answered `c`; empty when all is well. */
export function judge(c: FuzzCase, ex: Exchange): string[] {
  const problems: string[] = [];
  if (ex.timedOut) {
    problems.push(`no complete answer in time (${ex.responses.length} answers so far)`);
  } else if (ex.responses.length === 0 && !c.mayCloseSilently) {
    problems.push(`closed without an answer${ex.error ? ` (${ex.error})` : ""}`);
  }
  ex.responses.forEach((res, i) => problems.push(...judgeResponse(res, c.methods[i] ?? "GET")));
  if (ex.trailing.length > 0 && !ex.error && !ex.timedOut) {
    problems.push(`bytes that are no HTTP answer: ${preview(ex.trailing)}`);
  }
  return problems;
}
