// The malformed requests, generated from a seed. Each generator takes one app and one of its
// routes (from the app's own /openapi.json) or an unknown path, and breaks something: method,
// content type, JSON, numbers, unicode, path, query, headers, framing, size, or HTTP itself.
import { chunked, encodeRequest, type RequestParts } from "./raw-http.js";
import { Prng } from "./prng.js";
import {
  ABSURD_NUMBERS,
  atom,
  jsonValue,
  LITERALS,
  nested,
  NOT_JSON,
  object,
  ODD_KEYS,
  ODD_STRINGS,
  pathSegment,
  queryValue,
  quoted,
  randomUuid,
} from "./values.js";

export interface Route {
  method: string;
  /** OpenAPI path template, e.g. /train/{id}/status. */
  template: string;
  query: string[];
}

export interface Target {
  /** How findings name it: the app, or e.g. "polling+auth" for a second one with other settings. */
  name: string;
  app: string;
  port: number;
  routes: Route[];
  /** Ids of tasks that exist, so some requests reach real rows. */
  knownIds: string[];
  /** Sent as a bearer token on some requests, when the app has auth on. */
  token?: string;
}

export interface FuzzSettings {
  bodyLimitBytes: number;
  maxHeaderBytes: number;
  /** A callback URL the webhook server accepts (the fuzzed webhook client's). */
  callbackUrl: string;
}

export interface FuzzCase {
  index: number;
  /** The target's name. */
  target: string;
  port: number;
  kind: string;
  /** The route it aims at (template), or the unknown path. */
  route: string;
  bytes: Buffer;
  /** The methods of the requests in `bytes`, in order. */
  methods: string[];
  halfClose?: boolean;
  /** The bytes are not a whole request: closing without an answer is fine. */
  mayCloseSilently?: boolean;
}

/** Paths no app serves, and paths that try to climb out of the static files of /docs. */
const UNKNOWN_PATHS = [
  "/",
  "/admin",
  "/.env",
  "/.git/config",
  "/train/x/y/z",
  "/predict/",
  "/train/",
  "/openapi.json/..",
  "/docs/static/../../package.json",
  "/docs/static/%2e%2e/%2e%2e/package.json",
  "/docs/static/..%2f..%2fpackage.json",
  "/docs/static/%2e%2e%2f%2e%2e%2fpackage.json",
  "/docs/static/..%5c..%5cpackage.json",
  "/docs/static//etc/passwd",
  "/docs/static/%2fetc%2fpasswd",
  "/docs/..%2f..%2fetc/passwd",
  "/%2e%2e/%2e%2e/etc/passwd",
  "/..;/train",
  "/train%2F",
  "/train/%2e%2e/livez",
  "/livez/../train",
  "/livez/..%2ftrain",
  "//livez",
  "/./livez",
  "/LIVEZ",
  "/livez;x=1",
  "/livez%20",
  "/livez?",
  "/livez#frag",
  "/docs",
  "/docs/",
  "/docs/json",
  "/docs/yaml",
  "/docs/static/index.html",
  "/docs/static/swagger-ui.css",
  "/docs/static/nope.js",
  "*",
  "train",
  "http://127.0.0.1/livez",
  "http://evil.example/train",
  "/%00",
  "/%",
  "/\u00e9",
  "/\u00ff\u00fe",
];

const METHODS = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
  "TRACE",
  "PROPFIND",
  "M-SEARCH",
  "PURGE",
  "LINK",
  "QUERY",
  "SEARCH",
  "get",
  "Post",
  "FOO",
  "G E T",
  "A".repeat(300),
];

const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "application/json; charset=utf-16",
  "application/json;charset=latin1",
  "APPLICATION/JSON",
  "application/json ; foo=bar",
  'application/json; charset=""',
  "application/json; charset",
  "application/problem+json",
  "application/merge-patch+json",
  "application/jsonx",
  "text/json",
  "text/plain",
  "text/html",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=----x",
  "application/octet-stream",
  "application/xml",
  "*/*",
  "",
  ";",
  "/",
  "application/",
  `application/json; boundary=${"x".repeat(3000)}`,
  "application/json, text/plain",
];

const PENGUIN: [string, string][] = [
  ['"species"', '"Adelie"'],
  ['"island"', '"Dream"'],
  ['"bill_length_mm"', "39"],
  ['"bill_depth_mm"', "18"],
  ['"flipper_length_mm"', "190"],
  ['"sex"', '"male"'],
];

/** Callback URLs: acceptable, refused by policy, malformed, with NULs and controls. */
function callbackUrl(rng: Prng, settings: FuzzSettings): string {
  const good = settings.callbackUrl;
  return rng.pick([
    good,
    good.replace("127.0.0.1", "localhost"),
    `${good}#frag`,
    `${good}?a=1`,
    `${good}\u0000`,
    `${good}\u0001x`,
    `${good}\n`,
    ` ${good}`,
    `${good}/\ud800`,
    `${good}/\u00e9\u202e`,
    good.replace("http", "HTTP"),
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://[::ffff:169.254.169.254]/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://017700000001/",
    "http://100.100.100.200/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:70/",
    "javascript:alert(1)",
    "http://user:pass@127.0.0.1/",
    "http:///x",
    "//127.0.0.1/x",
    "http://x.invalid/",
    "http://a\u0000b.invalid/",
    "http://\u00f1.invalid/",
    "http://xn--nxasmq6b.invalid/",
    "http://127.0.0.1:99999/",
    "http://127.0.0.1:0/",
    `http://${"a".repeat(2100)}.invalid/`,
    `http://x.invalid/${"p".repeat(2040)}`,
    "",
  ]);
}

type Pairs = [string, string][];

/** A value for a field: mostly an odd atom, sometimes a structure, sometimes a very deep one. */
function fieldValue(rng: Prng, settings: FuzzSettings): string {
  return rng.weighted<() => string>([
    [16, () => atom(rng)],
    [3, () => jsonValue(rng)],
    [1, () => nested(rng, rng.pick([100, 2000, settings.bodyLimitBytes * 0.9]))],
  ])();
}

/** Breaks an object given as key/value pairs: a field set to an odd value, dropped, doubled. */
function mutatePairs(
  rng: Prng,
  settings: FuzzSettings,
  pairs: Pairs,
  fields: readonly string[],
): Pairs {
  const out = pairs.map((p): [string, string] => [p[0], p[1]]);
  const times = rng.weighted([
    [1, 0],
    [5, 1],
    [3, 2],
    [1, 3],
  ] as const);
  for (let i = 0; i < times; i++) {
    rng.weighted<() => void>([
      [
        6,
        () => {
          const key = quoted(rng.pick(fields));
          const value = fieldValue(rng, settings);
          const at = out.findIndex(([k]) => k === key);
          if (at >= 0) out[at] = [key, value];
          else out.push([key, value]);
        },
      ],
      [2, () => out.length > 0 && out.splice(rng.int(0, out.length - 1), 1)],
      [2, () => out.push([rng.pick(ODD_KEYS), jsonValue(rng)])],
      [
        1,
        () => {
          const pair = out[rng.int(0, Math.max(0, out.length - 1))];
          if (pair) out.push([pair[0], atom(rng)]);
        },
      ],
    ])();
  }
  return out;
}

/** A body for `template` that is almost right, or a JSON value of any kind instead. */
function bodyFor(rng: Prng, settings: FuzzSettings, target: Target, template: string): string {
  const limit = settings.bodyLimitBytes;
  const whole = rng.weighted<() => string | undefined>([
    [14, () => undefined],
    [2, () => jsonValue(rng, 4)],
    [1, () => rng.pick(NOT_JSON)],
    [1, () => rng.pick(LITERALS)],
    [1, () => nested(rng, rng.pick([200, 4000, limit * 0.9, limit * 2]))],
  ])();
  if (whole !== undefined) return whole;
  if (template === "/train") {
    const pairs: Pairs = [];
    if (rng.chance(0.6)) pairs.push(['"duration_seconds"', rng.pick(["0", "1"])]);
    if (rng.chance(0.3)) pairs.push(['"timeout_seconds"', "60"]);
    if (target.app === "webhook" || rng.chance(0.1)) {
      pairs.push(['"callback_url"', quoted(callbackUrl(rng, settings))]);
    }
    const fields = ["duration_seconds", "timeout_seconds", "callback_url"];
    return object(mutatePairs(rng, settings, pairs, fields));
  }
  if (template === "/predict") {
    const fields = PENGUIN.map(([k]) => JSON.parse(k) as string);
    const row = (): string =>
      object(rng.chance(0.7) ? mutatePairs(rng, settings, PENGUIN, fields) : PENGUIN);
    const data = rng.weighted<() => string>([
      [5, row],
      [3, () => `[${Array.from({ length: rng.int(1, 4) }, row).join(",")}]`],
      [1, () => `[${Array.from({ length: rng.pick([1000, 1001, 5000]) }, () => "{}").join(",")}]`],
      [1, () => `[${Array.from({ length: 1001 }, () => object(PENGUIN)).join(",")}]`],
      [2, () => atom(rng)],
    ])();
    const pairs = mutatePairs(rng, settings, [['"data"', data]], ["data"]);
    return object(rng.chance(0.8) ? [['"data"', data]] : pairs);
  }
  if (template === "/callback") {
    const pairs: Pairs = [
      ['"id"', quoted(randomUuid(rng))],
      ['"status"', rng.pick(['"completed"', '"failed"', '"cancelled"', atom(rng)])],
      ['"finished_at"', quoted(new Date(0).toISOString())],
    ];
    if (rng.chance(0.5)) pairs.push(['"result"', jsonValue(rng, 5)]);
    if (rng.chance(0.2)) pairs.push(['"result"', rng.pick(ODD_STRINGS)]);
    return object(
      mutatePairs(rng, settings, pairs, ["id", "status", "result", "error", "created_at"]),
    );
  }
  return jsonValue(rng, 3);
}

function fill(rng: Prng, target: Target, template: string): string {
  return template.replace(/\{[^}]+\}/g, () =>
    target.knownIds.length > 0 && rng.chance(0.25)
      ? rng.pick(target.knownIds)
      : rng.chance(0.15)
        ? randomUuid(rng)
        : pathSegment(rng),
  );
}

function withQuery(rng: Prng, path: string, route: Route | undefined): string {
  const names = [...(route?.query ?? []), "limit", "status", "cursor", "x", "__proto__", ""];
  const parts = Array.from({ length: rng.int(1, 5) }, () =>
    rng.weighted<() => string>([
      [6, () => `${rng.pick(names)}=${queryValue(rng)}`],
      [1, () => `${rng.pick(names)}`],
      [1, () => `${rng.pick(names)}[${rng.pick(["", "0", "a", "__proto__"])}]=${queryValue(rng)}`],
      [1, () => rng.pick(["&", "=", "==", "%", "?", "#", ";"])],
    ])(),
  );
  return `${path}?${parts.join(rng.pick(["&", "&", "&&", ";"]))}`;
}

function auth(rng: Prng, target: Target): [string, string][] {
  if (!rng.chance(0.3) && !target.token) return [];
  return rng.weighted<() => [string, string][]>([
    [target.token ? 6 : 0, () => [["Authorization", `Bearer ${target.token}`]]],
    [2, () => []],
    [
      3,
      () => [
        [
          "Authorization",
          rng.pick([
            "Bearer",
            "Bearer ",
            "bearer x",
            "Basic dXNlcjpwYXNz",
            `Bearer ${"t".repeat(4000)}`,
            "Bearer a b",
            "Bearer \u00e9\u00e8",
            "Bearer =====",
            "Token abc",
            `Bearer ${target.token ?? "x"}x`,
          ]),
        ],
      ],
    ],
  ])();
}

type Generator = (
  rng: Prng,
  settings: FuzzSettings,
  target: Target,
) => Omit<FuzzCase, "index" | "target" | "port">;

function plain(
  route: string,
  kind: string,
  parts: RequestParts,
  extra: Partial<FuzzCase> = {},
): Omit<FuzzCase, "index" | "target" | "port"> {
  return { kind, route, bytes: encodeRequest(parts), methods: [parts.method], ...extra };
}

const json = (rng: Prng): [string, string] => [
  "Content-Type",
  rng.chance(0.9) ? "application/json" : rng.pick(CONTENT_TYPES),
];

/** Almost-valid JSON bodies with odd numbers, strings, keys, nesting: the body validators. */
const badJson: Generator = (rng, settings, target) => {
  const withBody = target.routes.filter((r) => r.method === "POST");
  const route = rng.pick(withBody.length > 0 ? withBody : target.routes);
  const body = bodyFor(rng, settings, target, route.template);
  const headers: [string, string][] = [json(rng), ...auth(rng, target)];
  if (route.template === "/train" && rng.chance(0.3)) {
    headers.push(["Idempotency-Key", rng.pick(["k1", "k2", rng.string(8, "abc"), "\u00e9"])]);
  }
  if (route.template === "/callback") headers.push(...webhookHeaders(rng));
  return plain(route.template, "json-body", {
    method: route.method,
    target: fill(rng, target, route.template),
    headers,
    body,
  });
};

function webhookHeaders(rng: Prng): [string, string][] {
  const out: [string, string][] = [];
  if (rng.chance(0.7)) out.push(["webhook-id", rng.pick(["msg_1", "", "x".repeat(300), "\u00e9"])]);
  if (rng.chance(0.6)) {
    out.push([
      "webhook-timestamp",
      rng.pick([String(Math.floor(Date.now() / 1000)), "0", "-1", "1e309", "x", "9".repeat(30)]),
    ]);
  }
  if (rng.chance(0.5)) {
    out.push([
      "webhook-signature",
      rng.pick(["v1,", "v1,AAAA", "v2,x", `v1,${"A".repeat(5000)}`, "v1,=== v1,!!", ""]),
    ]);
  }
  return out;
}

/** The same routes with every kind of content type, including none. */
const contentTypes: Generator = (rng, settings, target) => {
  const route = rng.pick(target.routes);
  const body = rng.weighted<() => Buffer | string>([
    [3, () => bodyFor(rng, settings, target, route.template)],
    [1, () => "a=1&b=2"],
    [1, () => "------x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n------x--\r\n"],
    [1, () => rng.bytes(rng.int(0, 300))],
    [1, () => Buffer.from('{"duration_seconds":1}', "utf16le")],
    [1, () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("{}")])],
    [1, () => Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
  ])();
  const headers: [string, string][] = rng.chance(0.85)
    ? [["Content-Type", rng.pick(CONTENT_TYPES)]]
    : [];
  return plain(route.template, "content-type", {
    method: rng.chance(0.8) ? route.method : rng.pick(["POST", "PUT", "PATCH", "DELETE"]),
    target: fill(rng, target, route.template),
    headers: [...headers, ...auth(rng, target)],
    body,
  });
};

/** Methods a route does not serve, and methods HTTP does not have. */
const wrongMethod: Generator = (rng, settings, target) => {
  const route = rng.pick(target.routes);
  const method = rng.pick(METHODS);
  const withBody = rng.chance(0.4);
  return plain(route.template, "method", {
    method,
    target: fill(rng, target, route.template),
    headers: withBody ? [json(rng), ...auth(rng, target)] : auth(rng, target),
    ...(withBody ? { body: bodyFor(rng, settings, target, route.template) } : {}),
  });
};

/** Ids of every wrong shape, traversal, encoded slashes, unknown and overlong paths. */
const pathTricks: Generator = (rng, _settings, target) => {
  if (rng.chance(0.35)) {
    const path = rng.pick(UNKNOWN_PATHS);
    return plain(path, "unknown-path", {
      method: rng.pick(["GET", "GET", "POST", "DELETE", "HEAD"]),
      target: path,
      headers: auth(rng, target),
    });
  }
  const route = rng.pick(target.routes);
  let path = fill(rng, target, route.template);
  path = rng.weighted<() => string>([
    [5, () => path],
    [1, () => `${path}/`],
    [1, () => `/${path}`],
    [1, () => path.replace(/\/([^/]*)$/, "/./$1")],
    [1, () => path.replace(/\/([^/]*)$/, "/../$1")],
    [1, () => path.replace(/\/([^/]*)$/, "%2F$1")],
    [1, () => path.toUpperCase()],
    [1, () => `${path};x=1`],
    [1, () => path.replace("/t", "/%74")],
    [1, () => `${path}#frag`],
    [1, () => `${path}/${"z".repeat(rng.pick([10, 300, 3000]))}`],
  ])();
  return plain(route.template, "path", {
    method: route.method,
    target: path,
    headers: [...auth(rng, target), ...(route.method === "POST" ? [json(rng)] : [])],
    ...(route.method === "POST" ? { body: "{}" } : {}),
  });
};

/** Query strings with absurd numbers, bad encodings, repeated and bracketed names. */
const queryTricks: Generator = (rng, _settings, target) => {
  const gets = target.routes.filter((r) => r.method === "GET");
  const route = rng.pick(gets.length > 0 && rng.chance(0.8) ? gets : target.routes);
  const post = route.method === "POST";
  return plain(route.template, "query", {
    method: route.method,
    target: withQuery(rng, fill(rng, target, route.template), route),
    headers: [...auth(rng, target), ...(post ? [json(rng)] : [])],
    ...(post ? { body: "{}" } : {}),
  });
};

/** Huge, numerous, duplicated, malformed and non-ASCII headers. */
const headerTricks: Generator = (rng, settings, target) => {
  const route = rng.pick(target.routes);
  const headers: [string, string][] = [...auth(rng, target)];
  const huge = settings.maxHeaderBytes;
  let kind = "headers";
  rng.weighted<() => void>([
    [
      2,
      () => {
        kind = "huge-header";
        headers.push(["X-Fuzz", "h".repeat(rng.int(huge + 1, huge * 4))]);
      },
    ],
    [
      1,
      () => {
        kind = "many-headers";
        for (let i = 0; i < rng.pick([100, 1000, 2500]); i++) headers.push([`X-H${i}`, "v"]);
      },
    ],
    [
      3,
      () =>
        headers.push([
          rng.pick(["X-Fuzz", "Accept", "User-Agent", "X-Request-Id", "Idempotency-Key", "Host"]),
          rng.pick([
            "\u00e9\u00e8",
            Buffer.from("😀", "utf8").toString("latin1"),
            "a\u0001b",
            "a\u007fb",
            "a\u0000b",
            "a\rb",
            " leading",
            "trailing ",
            "",
            "x".repeat(8000),
            "../../etc/passwd",
            "%00",
          ]),
        ]),
    ],
    [
      2,
      () =>
        headers.push([
          rng.pick(["bad header", "x:y", "", "x(y)", "\u00e9", "X-\u0001", "X Y", "@"]),
          "v",
        ]),
    ],
    [
      2,
      () =>
        headers.push(
          ["Content-Type", "application/json"],
          ["Content-Type", rng.pick(["text/plain", "application/json"])],
        ),
    ],
    [
      2,
      () =>
        headers.push([
          "Content-Length",
          rng.pick(["-1", "abc", "1e3", " 2", "2, 2", "2,3", "99999999999999999999", "0x2", ""]),
        ]),
    ],
    [1, () => headers.push(["Expect", rng.pick(["100-continue", "foo", "200-ok"])])],
    [
      1,
      () => {
        kind = "upgrade";
        headers.push(
          ["Connection", "Upgrade"],
          ["Upgrade", rng.pick(["websocket", "h2c", "foo/1"])],
        );
      },
    ],
    [
      1,
      () =>
        headers.push(["Host", rng.pick(["", "evil.example", "[::1]", "a b", "h".repeat(3000)])]),
    ],
    [
      1,
      () =>
        headers.push([
          "Idempotency-Key",
          rng.pick(["", " ", "k".repeat(256), "k\u00e9", "a,b", "\u0001"]),
        ]),
    ],
    [1, () => headers.push(...webhookHeaders(rng))],
  ])();
  const body = route.method === "POST" ? bodyFor(rng, settings, target, route.template) : undefined;
  if (body !== undefined && !headers.some(([n]) => n === "Content-Type")) {
    headers.push(["Content-Type", "application/json"]);
  }
  const bodyBytes = body === undefined ? undefined : Buffer.from(body);
  const declaresLength = headers.some(([n]) => n === "Content-Length");
  return plain(
    route.template,
    kind,
    {
      method: route.method,
      target: fill(rng, target, route.template),
      headers,
      ...(bodyBytes ? { body: bodyBytes } : {}),
      noHost: rng.chance(0.05),
    },
    // A made-up Content-Length may promise more than comes: the server then waits for it.
    declaresLength ? { halfClose: true, mayCloseSilently: true } : {},
  );
};

/** Conflicting and broken message framing: CL with TE, bad chunks, pipelined requests. */
const framing: Generator = (rng, settings, target) => {
  const route = rng.pick(target.routes.filter((r) => r.method === "POST")) ?? target.routes[0];
  if (!route) throw new Error(`${target.app} has no routes`);
  const path = fill(rng, target, route.template);
  const body = Buffer.from(bodyFor(rng, settings, target, route.template));
  const base = (extra: [string, string][]): [string, string][] => [
    ["Content-Type", "application/json"],
    ...auth(rng, target),
    ...extra,
  ];
  return rng.weighted<() => Omit<FuzzCase, "index" | "target" | "port">>([
    [
      2,
      () =>
        plain(route.template, "cl+te", {
          method: "POST",
          target: path,
          headers: base([
            ["Content-Length", String(body.length)],
            ["Transfer-Encoding", "chunked"],
          ]),
          body: chunked(body, 7),
        }),
    ],
    [
      2,
      () =>
        plain(route.template, "chunked", {
          method: "POST",
          target: path,
          headers: base([
            ["Transfer-Encoding", rng.pick(["chunked", "Chunked", "gzip, chunked", " chunked"])],
          ]),
          body: chunked(body, rng.int(1, 64)),
        }),
    ],
    [
      2,
      () =>
        plain(
          route.template,
          "bad-chunks",
          {
            method: "POST",
            target: path,
            headers: base([
              ["Transfer-Encoding", rng.pick(["chunked", "gzip", "chunked, gzip", "xchunked"])],
            ]),
            body: rng.pick([
              "zz\r\nabc\r\n0\r\n\r\n",
              "ffffffffffffffffff\r\nabc\r\n",
              "3\r\nabcdef\r\n0\r\n\r\n",
              `2;${"e".repeat(20000)}\r\n{}\r\n0\r\n\r\n`,
              "2\r\n{}\r\n",
              "2\n{}\n0\n\n",
              "-2\r\n{}\r\n0\r\n\r\n",
            ]),
          },
          { halfClose: true, mayCloseSilently: true },
        ),
    ],
    [
      1,
      () =>
        plain(
          route.template,
          "short-body",
          {
            method: "POST",
            target: path,
            headers: base([["Content-Length", String(body.length + rng.int(1, 100))]]),
            body,
          },
          { halfClose: true, mayCloseSilently: true },
        ),
    ],
    [
      2,
      () => {
        const first = encodeRequest({ method: "GET", target: "/livez", keepAlive: true });
        const second = rng.chance(0.5)
          ? encodeRequest({ method: "POST", target: path, headers: base([]), body })
          : Buffer.from(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{`);
        return {
          kind: "pipelined",
          route: route.template,
          bytes: Buffer.concat([first, second]),
          methods: ["GET", "POST"],
          halfClose: true,
        };
      },
    ],
  ])();
};

/** Bodies past TRAINYARD_BODY_LIMIT_BYTES, declared or streamed. */
const hugeBody: Generator = (rng, settings, target) => {
  const route = rng.pick(target.routes.filter((r) => r.method === "POST")) ?? target.routes[0];
  if (!route) throw new Error(`${target.app} has no routes`);
  const size = rng.pick([1, 2, 4]) * settings.bodyLimitBytes + rng.int(1, 100);
  const filler = `{"pad":"${"x".repeat(size)}"}`;
  const streamed = rng.chance(0.3);
  return plain(route.template, streamed ? "huge-body-chunked" : "huge-body", {
    method: "POST",
    target: fill(rng, target, route.template),
    headers: [
      ["Content-Type", "application/json"],
      ...auth(rng, target),
      ...(streamed ? ([["Transfer-Encoding", "chunked"]] as [string, string][]) : []),
    ],
    body: streamed ? chunked(Buffer.from(filler), 16384) : filler,
  });
};

/** Bytes that are not HTTP/1.1: other versions, broken request lines, TLS, HTTP/2, noise. */
const notHttp: Generator = (rng) => {
  const raw = rng.weighted<() => [Buffer, boolean]>([
    [
      6,
      () => [
        Buffer.from(
          rng.pick([
            "GET /livez\r\n\r\n",
            "GET /livez HTTP/1.1\n\n",
            "GET /livez HTTP/1.1\nHost: x\n\n",
            "GET  /livez  HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET\t/livez HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /livez HTTP/2.0\r\nHost: x\r\n\r\n",
            "GET /livez HTTP/1.2\r\nHost: x\r\n\r\n",
            "GET /livez HTTP/9.9\r\nHost: x\r\n\r\n",
            "GET /livez HTTP/0.9\r\n\r\n",
            "GET /livez HTTP/1.0\r\n\r\n",
            "GET /livez HTTP/1.1 extra\r\nHost: x\r\n\r\n",
            "GET /livez HTTX/1.1\r\nHost: x\r\n\r\n",
            "/livez HTTP/1.1\r\nHost: x\r\n\r\n",
            " GET /livez HTTP/1.1\r\nHost: x\r\n\r\n",
            "\r\nGET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "GET /liv\u0000ez HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /livez HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
            "GET /livez HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n",
            "GET /livez HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
            "GET /livez HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n",
            "GET /livez HTTP/1.1\r\nHost: x\r\nX : space-before-colon\r\n\r\n",
            "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n",
            "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            `GET /${"u".repeat(70000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
            `${"A".repeat(70000)} / HTTP/1.1\r\n\r\n`,
          ]),
          "latin1",
        ),
        false,
      ],
    ],
    [
      1,
      () => [
        Buffer.from("16030100a5010000a10303" + "00".repeat(32) + "000013c02bc02f", "hex"),
        false,
      ],
    ],
    [2, () => [rng.bytes(rng.int(1, 2000)), false]],
    [
      1,
      () => {
        const text = rng.string(rng.int(1, 500), "GETPOST /\r\n:HTP1.");
        // Only line breaks and blanks: HTTP ignores empty lines before a request (RFC 9112
        // 2.2), so nothing has arrived yet and a close without an answer is right.
        return [Buffer.from(text), /^[\r\n ]*$/.test(text)];
      },
    ],
    // Incomplete: a request line or headers cut short; the server may only close.
    [1, () => [Buffer.from("GET /livez HTTP/1.1\r\nHost: x\r\n"), true]],
    [1, () => [Buffer.alloc(0), true]],
  ])();
  const [bytes, incomplete] = raw;
  return {
    kind: "not-http",
    route: "(raw)",
    bytes,
    methods: ["GET"],
    halfClose: true,
    ...(incomplete ? { mayCloseSilently: true } : {}),
  };
};

/** The absurd numbers, in the places a number is expected: body fields, limit, duration. */
const absurdNumbers: Generator = (rng, settings, target) => {
  const submit = target.routes.find((r) => r.method === "POST" && r.template === "/train");
  const list = target.routes.find((r) => r.method === "GET" && r.query.includes("limit"));
  if (list && (rng.chance(0.4) || !submit)) {
    const name = rng.pick(list.query.filter((q) => q === "limit"));
    return plain(list.template, "numbers", {
      method: "GET",
      target: `${list.template}?${name}=${rng.pick(ABSURD_NUMBERS)}`,
      headers: auth(rng, target),
    });
  }
  const route = submit ?? rng.pick(target.routes);
  const field = rng.pick(["duration_seconds", "timeout_seconds"]);
  const pairs: Pairs = [[quoted(field), rng.pick(ABSURD_NUMBERS)]];
  if (target.app === "webhook") pairs.push(['"callback_url"', quoted(settings.callbackUrl)]);
  return plain(route.template, "numbers", {
    method: route.method,
    target: fill(rng, target, route.template),
    headers: [["Content-Type", "application/json"], ...auth(rng, target)],
    body: object(pairs),
  });
};

const GENERATORS: (readonly [number, Generator])[] = [
  [30, badJson],
  [8, contentTypes],
  [7, wrongMethod],
  [14, pathTricks],
  [8, queryTricks],
  [10, headerTricks],
  [6, framing],
  [2, hugeBody],
  [6, notHttp],
  [6, absurdNumbers],
];

/** `count` cases, spread evenly over the targets, the same for the same seed. */
export function generateCases(
  seed: number,
  count: number,
  targets: readonly Target[],
  settings: FuzzSettings,
): FuzzCase[] {
  const rng = new Prng(seed);
  const cases: FuzzCase[] = [];
  for (let index = 0; index < count; index++) {
    const target = targets[index % targets.length] as Target;
    const generate = rng.weighted(GENERATORS);
    cases.push({
      index,
      target: target.name,
      port: target.port,
      ...generate(rng, settings, target),
    });
  }
  return cases;
}
