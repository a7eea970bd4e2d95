// What a request is in API server terms (k8s.io/apiserver/pkg/endpoints/request): the verb,
// the resource and subresource, the namespace and name, parsed from the method and the URL.
import type { IncomingMessage } from "node:http";
import { badRequest, unsupportedMediaType } from "./status.js";
import { PATCH_TYPES, type PatchType } from "./patch.js";
import { findResource, type ResourceType } from "./resources.js";

export interface RequestInfo {
  method: string;
  path: string;
  query: URLSearchParams;
  /** get, list, watch, create, update, patch, delete, deletecollection; "" for non-resource. */
  verb: string;
  /** jobs, pods, pods/log...; "" for discovery and unknown paths. */
  resource: string;
  type?: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** A path with no resource: discovery, health, version. */
  nonResource: boolean;
}

const isTrue = (v: string | null): boolean => v === "true" || v === "1";

export function parseRequest(method: string, url: URL): RequestInfo {
  const path = url.pathname.replace(/\/+$/, "") || "/";
  const parts = path.split("/").filter((p) => p !== "");
  const base: RequestInfo = {
    method,
    path,
    query: url.searchParams,
    verb: "",
    resource: "",
    nonResource: true,
  };
  let group: string;
  let rest: string[];
  if (parts[0] === "api" && parts[1] === "v1") {
    group = "";
    rest = parts.slice(2);
  } else if (parts[0] === "apis" && parts.length >= 3) {
    group = parts[1] ?? "";
    if (parts[2] !== "v1") return base;
    rest = parts.slice(3);
  } else return base;
  if (rest.length === 0) return base;
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resourceName = "", name, subresource, ...extra] = rest;
  const type = findResource(group, resourceName);
  const info: RequestInfo = {
    ...base,
    nonResource: false,
    resource: subresource ? `${resourceName}/${subresource}` : resourceName,
    ...(type ? { type } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(subresource !== undefined ? { subresource } : {}),
  };
  if (extra.length > 0) return { ...info, type: undefined };
  info.verb = verbOf(method, name !== undefined, isTrue(url.searchParams.get("watch")));
  return info;
}

function verbOf(method: string, named: boolean, watch: boolean): string {
  switch (method) {
    case "GET":
    case "HEAD":
      return named ? "get" : watch ? "watch" : "list";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return named ? "delete" : "deletecollection";
    default:
      return method.toLowerCase();
  }
}

/** The API server's request body limit (3 MiB). */
const MAX_BODY = 3 * 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY) throw badRequest("Request entity too large: limit is 3145728");
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function mediaType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}

/** A create/update body: JSON only (YAML and protobuf are real-server formats we do not take). */
export async function readObjectBody(req: IncomingMessage): Promise<unknown> {
  const type = mediaType(req);
  if (type !== "" && type !== "application/json") {
    throw unsupportedMediaType(type, [
      "application/json",
      "application/yaml",
      "application/vnd.kubernetes.protobuf",
    ]);
  }
  return parseJson(await readBody(req));
}

/** A DELETE body is optional DeleteOptions. */
export async function readOptionalBody(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  return text.trim() ? parseJson(text) : undefined;
}

export async function readPatchBody(
  req: IncomingMessage,
): Promise<{ patchType: PatchType; body: unknown }> {
  const type = mediaType(req);
  if (!(PATCH_TYPES as readonly string[]).includes(type)) {
    // Server-side apply (application/apply-patch+yaml) is a real patch type the stand-in lacks.
    throw unsupportedMediaType(type, [...PATCH_TYPES]);
  }
  return { patchType: type as PatchType, body: parseJson(await readBody(req)) };
}
