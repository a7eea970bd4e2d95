// labelSelector and fieldSelector query parameters, parsed with the grammar of
// k8s.io/apimachinery/pkg/labels and pkg/fields: =, ==, != , in, notin, exists, !exists.
import { badRequest } from "./status.js";
import type { KubeObject } from "./objects.js";

type Requirement =
  { key: string; op: "in" | "notin"; values: string[] } | { key: string; op: "exists" | "!exists" };

export interface LabelSelector {
  matches(labels: Record<string, string> | undefined): boolean;
}

const EVERYTHING: LabelSelector = { matches: () => true };

/** Splits on commas outside parentheses: "a in (x,y),b" -> ["a in (x,y)", "b"]. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim());
}

const KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(key: string, whole: string): string {
  if (!KEY.test(key))
    throw badRequest(`unable to parse requirement: invalid label key "${key}" in "${whole}"`);
  return key;
}

function checkValue(value: string, whole: string): string {
  if (!VALUE.test(value) || value.length > 63) {
    throw badRequest(`unable to parse requirement: invalid label value: "${value}" in "${whole}"`);
  }
  return value;
}

function parseRequirement(part: string, whole: string): Requirement {
  let m = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
  if (m) {
    const values = (m[3] ?? "")
      .split(",")
      .map((v) => v.trim())
      .filter((v) => v !== "");
    return {
      key: checkKey(m[1] ?? "", whole),
      op: m[2] === "in" ? "in" : "notin",
      values: values.map((v) => checkValue(v, whole)),
    };
  }
  m = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(part);
  if (m) {
    const key = checkKey(m[1] ?? "", whole);
    const value = checkValue(m[3] ?? "", whole);
    return { key, op: m[2] === "!=" ? "notin" : "in", values: [value] };
  }
  m = /^(!?)([^\s!=(),]+)$/.exec(part);
  if (m) return { key: checkKey(m[2] ?? "", whole), op: m[1] ? "!exists" : "exists" };
  throw badRequest(
    `unable to parse requirement: found '${part}', expected: in, notin, =, ==, !=, gt, lt`,
  );
}

export function parseLabelSelector(text: string | null): LabelSelector {
  if (!text || !text.trim()) return EVERYTHING;
  const requirements = splitTop(text).map((p) => parseRequirement(p, text));
  return {
    matches(labels) {
      const set = labels ?? {};
      return requirements.every((r) => {
        const has = Object.prototype.hasOwnProperty.call(set, r.key);
        switch (r.op) {
          case "exists":
            return has;
          case "!exists":
            return !has;
          case "in":
            return has && r.values.includes(set[r.key] ?? "");
          case "notin":
            return !has || !r.values.includes(set[r.key] ?? "");
        }
      });
    },
  };
}

/** A metav1.LabelSelector (matchLabels, matchExpressions) as a predicate. */
export function fromLabelSelector(selector: {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}): LabelSelector {
  return {
    matches(labels) {
      const set = labels ?? {};
      for (const [k, v] of Object.entries(selector.matchLabels ?? {}))
        if (set[k] !== v) return false;
      for (const e of selector.matchExpressions ?? []) {
        const has = Object.prototype.hasOwnProperty.call(set, e.key);
        const value = set[e.key] ?? "";
        if (e.operator === "In" && !(has && (e.values ?? []).includes(value))) return false;
        if (e.operator === "NotIn" && has && (e.values ?? []).includes(value)) return false;
        if (e.operator === "Exists" && !has) return false;
        if (e.operator === "DoesNotExist" && has) return false;
      }
      return true;
    },
  };
}

export interface FieldSelector {
  matches(obj: KubeObject): boolean;
}

/** The fields each resource supports selecting on, read from an object. */
export type FieldReaders = Record<string, (obj: KubeObject) => string | undefined>;

export function parseFieldSelector(
  text: string | null,
  readers: FieldReaders,
  describe: { gvr: string; labelSelector: string },
): FieldSelector {
  if (!text || !text.trim()) return { matches: () => true };
  const terms = text.split(",").map((part) => {
    const m = /^\s*([^!=\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(part);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const field = m[1] ?? "";
    const read = readers[field];
    if (!read) {
      throw badRequest(
        `Unable to find "${describe.gvr}" that match label selector "${describe.labelSelector}", ` +
          `field selector "${text}": field label not supported: ${field}`,
      );
    }
    return { read, negate: m[2] === "!=", value: m[3] ?? "" };
  });
  return {
    matches: (obj) => terms.every((t) => ((t.read(obj) ?? "") === t.value) !== t.negate),
  };
}
