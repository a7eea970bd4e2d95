// What the fuzzer puts in bodies, query strings, ids and headers. JSON is built as text, so it
// can hold what JSON.stringify never writes: 1e309, -0, lone surrogates, duplicate keys, NaN.
import type { Prng } from "./prng.js";

/** Numbers at and beyond every edge: bounds, IEEE oddities, more digits than a double holds. */
export const ABSURD_NUMBERS = [
  "0",
  "1",
  "5",
  "-1",
  "-0",
  "0.0",
  "1.5",
  "5.0",
  "0.1e1",
  "1E2",
  "3600",
  "3601",
  "86400",
  "86401",
  "604801",
  "1e309",
  "-1e309",
  "1e-400",
  "4.9e-324",
  "1.7976931348623157e308",
  "2147483648",
  "4294967296",
  "9007199254740993",
  "-9007199254740993",
  "123456789012345678901234567890",
  "1" + "0".repeat(400),
];

/** Strings: numbers in disguise, NUL and other controls, lone surrogates, bidi, injections. */
export const ODD_STRINGS = [
  '""',
  '"5"',
  '"NaN"',
  '"Infinity"',
  '"-0"',
  '"1e309"',
  '"null"',
  '"\\u0000"',
  '"a\\u0000b"',
  '"\\ud800"',
  '"\\udfff"',
  '"x\\udc00\\ud800"',
  '"\\ud83d\\ude00"',
  '"😀"',
  '"\\u202eevil"',
  '"\\t\\r\\n\\b\\f"',
  '"\\u001b[31mred"',
  '"\\u0085\\u2028\\u2029"',
  '"é"',
  '"\\uffff\\ufffe"',
  '"<script>alert(1)</script>"',
  '"\' OR 1=1 --"',
  '"$(id)"',
  '"%00%2e%2e"',
  '"../../etc/passwd"',
  '"\\\\"',
  '"\\/"',
];

export const LITERALS = ["null", "true", "false", "[]", "{}", "[null]", "[[]]", '{"":""}'];

/** Not JSON at all, though close to it. */
export const NOT_JSON = [
  "NaN",
  "Infinity",
  "-Infinity",
  "undefined",
  "01",
  ".5",
  "+1",
  "0x10",
  "1.",
  "-",
  "tru",
  "'single'",
  '"unterminated',
  "[1,]",
  '{"a":1,}',
  "/*c*/1",
  '"raw\u0001control"',
  '{"a" 1}',
  "{a:1}",
];

/** Object keys, as JSON text: prototype names, empty, NUL, near-misses of real fields. */
export const ODD_KEYS = [
  '"__proto__"',
  '"constructor"',
  '"prototype"',
  '""',
  '"\\u0000"',
  '"epochs"',
  '"duration_seconds "',
  '"DURATION_SECONDS"',
  '"$where"',
  `"${"a".repeat(300)}"`,
];

export function atom(rng: Prng): string {
  return rng.weighted<() => string>([
    [4, () => rng.pick(ABSURD_NUMBERS)],
    [4, () => rng.pick(ODD_STRINGS)],
    [2, () => rng.pick(LITERALS)],
    [1, () => `"${rng.string(rng.int(0, 40), "abcxyz019 -_.~")}"`],
  ])();
}

/** Any JSON value, as text, of at most `depth` levels. */
export function jsonValue(rng: Prng, depth = 3): string {
  if (depth <= 0 || rng.chance(0.5)) return atom(rng);
  if (rng.chance(0.5)) {
    const items = Array.from({ length: rng.int(0, 4) }, () => jsonValue(rng, depth - 1));
    return `[${items.join(",")}]`;
  }
  const pairs = Array.from({ length: rng.int(0, 4) }, () => [
    rng.chance(0.3) ? rng.pick(ODD_KEYS) : `"k"`,
    jsonValue(rng, depth - 1),
  ]);
  return `{${pairs.map(([k, v]) => `${k}:${v}`).join(",")}}`;
}

/** Arrays or objects nested as deep as about `bytes` of text allows. */
export function nested(rng: Prng, bytes: number, inner: string = atom(rng)): string {
  if (rng.chance(0.5)) {
    const depth = Math.max(1, Math.floor(bytes / 2));
    return "[".repeat(depth) + inner + "]".repeat(depth);
  }
  const depth = Math.max(1, Math.floor(bytes / 6));
  return '{"a":'.repeat(depth) + inner + "}".repeat(depth);
}

/** A JSON object from ordered key/value pairs (keys raw JSON text; duplicates allowed). */
export function object(pairs: readonly (readonly [string, string])[]): string {
  return `{${pairs.map(([k, v]) => `${k}:${v}`).join(",")}}`;
}

export function quoted(text: string): string {
  return JSON.stringify(text);
}

/** Strings for a path segment: ids of every wrong shape, traversal, bad percent-encoding. */
export function pathSegment(rng: Prng): string {
  return rng.weighted<() => string>([
    [3, () => randomUuid(rng)],
    [1, () => randomUuid(rng).toUpperCase()],
    [1, () => randomUuid(rng).replaceAll("-", "")],
    [1, () => `${randomUuid(rng)}0`],
    [1, () => `${randomUuid(rng)}%00`],
    [
      6,
      () =>
        rng.pick([
          "..",
          ".",
          "%2e%2e",
          "%2E%2E%2F%2E%2E",
          "..%2f..%2fpackage.json",
          "%2F",
          "a%2Fb",
          "%5C..%5C",
          "%00",
          "%",
          "%zz",
          "%E0%A4%A",
          "%C0%AF",
          "%ED%A0%80",
          "%F0%9F%98%80",
          "%20",
          "-1",
          "0",
          "1e309",
          "NaN",
          "null",
          "undefined",
          "__proto__",
          "constructor",
          "'%20OR%201=1--",
          "$(id)",
          "{id}",
          ":id",
          "*",
          "",
        ]),
    ],
    [2, () => "a".repeat(rng.pick([199, 200, 201, 255, 1000, 5000]))],
    [1, () => "%41".repeat(rng.int(60, 400))],
    [1, () => rng.string(rng.int(1, 60), "abcdef0123456789-_.~!$&'()*+,;=:@")],
  ])();
}

export function randomUuid(rng: Prng): string {
  const hex = rng.string(32, "0123456789abcdef");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

/** A query string value: absurd numbers, bad encodings, the wrong alphabet. */
export function queryValue(rng: Prng): string {
  return rng.weighted<() => string>([
    [3, () => rng.pick(ABSURD_NUMBERS)],
    [
      4,
      () =>
        rng.pick([
          "",
          "NaN",
          "Infinity",
          "-Infinity",
          "0x10",
          "%20",
          "%00",
          "%",
          "%zz",
          "%E0%A4%A",
          "%F0%9F%98%80",
          "queued",
          "completed",
          "done",
          "true",
          "null",
          "[]",
          "a,b",
          "%2C",
          "c3M",
          "czE",
          "czEwMDAwMDAwMDAwMDAwMDAwMDA",
          "!!",
          "a".repeat(41),
        ]),
    ],
    [1, () => rng.string(rng.int(1, 50), "abcXYZ019-_=")],
  ])();
}
