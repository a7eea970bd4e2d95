// The resource verbs: get, list (selectors, limit/continue, resourceVersion semantics),
// create, update, patch, delete and deletecollection. Each returns the reply to send, so the
// server can still swap it for an injected failure after the work is committed.
import type { IncomingMessage } from "node:http";
import {
  badRequest,
  expired,
  methodNotAllowed,
  methodNotSupported,
  pathNotFound,
  resourceVersionTooLarge,
} from "./status.js";
import { keyOf, type KubeObject } from "./objects.js";
import { parseDeleteOptions, type Deleter } from "./deletion.js";
import type { Registry } from "./registry.js";
import {
  readObjectBody,
  readOptionalBody,
  readPatchBody,
  type RequestInfo,
} from "./request-info.js";
import type { ResourceType } from "./resources.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";

export interface Reply {
  status: number;
  body: unknown;
}

interface ContinueToken {
  rv: number;
  start: string;
}

function encodeContinue(rv: number, lastKey: string): string {
  return Buffer.from(
    JSON.stringify({ v: "meta.k8s.io/v1", rv, start: `${lastKey}\u0000` }),
  ).toString("base64url");
}

function decodeContinue(token: string): ContinueToken {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
      rv?: unknown;
      start?: unknown;
    };
    if (typeof parsed.rv !== "number" || typeof parsed.start !== "string")
      throw new Error("bad token");
    return { rv: parsed.rv, start: parsed.start };
  } catch {
    throw badRequest(
      "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
    );
  }
}

/** Items of a list carry no kind/apiVersion: the list's own say what they are. */
function withoutTypeMeta(obj: KubeObject): KubeObject {
  const rest = { ...obj };
  delete rest.apiVersion;
  delete rest.kind;
  return rest;
}

export function gvrString(type: ResourceType): string {
  return `${type.group ? `${type.group}/` : ""}${type.version}, Resource=${type.resource}`;
}

export function selectorsOf(type: ResourceType, query: URLSearchParams) {
  const labelText = query.get("labelSelector");
  return {
    labels: parseLabelSelector(labelText),
    fields: parseFieldSelector(query.get("fieldSelector"), type.fields, {
      gvr: gvrString(type),
      labelSelector: labelText ?? "",
    }),
  };
}

export function list(registry: Registry, type: ResourceType, info: RequestInfo): Reply {
  const { store } = registry;
  const q = info.query;
  const { labels, fields } = selectorsOf(type, q);
  const limitText = q.get("limit");
  const limit = limitText ? Number(limitText) : 0;
  if (!Number.isInteger(limit) || limit < 0)
    throw badRequest(`limit: Invalid value: "${limitText}": must be a non-negative integer`);
  const token = q.get("continue");
  const rvText = q.get("resourceVersion");
  const rvMatch = q.get("resourceVersionMatch");
  let items: KubeObject[];
  let listRv = store.currentRevision;
  let start = "";
  if (token) {
    const decoded = decodeContinue(token);
    if (decoded.rv < store.compactedRevision) {
      throw expired(
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
      );
    }
    listRv = decoded.rv;
    start = decoded.start;
    items = store.snapshotAt(type.resource, listRv, info.namespace);
  } else if (rvText && rvText !== "0") {
    const rv = Number(rvText);
    if (!Number.isInteger(rv) || rv < 0) throw badRequest(`invalid resource version: ${rvText}`);
    if (rv > store.currentRevision) throw resourceVersionTooLarge(rv, store.currentRevision);
    if (rvMatch === "Exact") {
      listRv = rv;
      items = store.snapshotAt(type.resource, rv, info.namespace);
    } else items = store.list(type.resource, info.namespace);
  } else items = store.list(type.resource, info.namespace);
  items = items.filter((o) => labels.matches(o.metadata.labels) && fields.matches(o));
  if (start) items = items.filter((o) => `${keyOf(o)}\u0000` > start);
  const metadata: Record<string, unknown> = { resourceVersion: String(listRv) };
  if (limit > 0 && items.length > limit) {
    const rest = items.length - limit;
    items = items.slice(0, limit);
    const last = items[items.length - 1];
    metadata.continue = encodeContinue(listRv, last ? keyOf(last) : "");
    // The server can only count what is left when nothing filters it.
    if (!q.get("labelSelector") && !q.get("fieldSelector")) metadata.remainingItemCount = rest;
  }
  return {
    status: 200,
    body: {
      kind: type.listKind,
      apiVersion: type.apiVersion,
      metadata,
      items: items.map(withoutTypeMeta),
    },
  };
}

function refuseDryRun(info: RequestInfo): void {
  if (info.query.get("dryRun"))
    throw badRequest("dryRun is only supported on create by the stand-in API server");
}

export async function handleResource(
  registry: Registry,
  deleter: Deleter,
  info: RequestInfo,
  req: IncomingMessage,
): Promise<Reply> {
  const type = info.type;
  if (!type) throw pathNotFound();
  const ns = info.namespace;
  const name = info.name ?? "";
  if (info.subresource && !(info.subresource === "status" && info.verb === "get")) {
    throw info.subresource === "status" ? methodNotSupported(type, info.verb) : pathNotFound();
  }
  // Cluster-wide paths serve reading across namespaces only.
  if (ns === undefined && !["list", "watch"].includes(info.verb)) throw methodNotAllowed();
  const namespace = ns ?? "";
  switch (info.verb) {
    case "get":
      return { status: 200, body: registry.get(type, namespace, name) };
    case "list":
      return list(registry, type, info);
    case "create": {
      if (info.name !== undefined) throw methodNotAllowed();
      const dryRun = info.query.get("dryRun") === "All";
      return {
        status: 201,
        body: registry.create(type, namespace, await readObjectBody(req), { dryRun }),
      };
    }
    case "update":
      refuseDryRun(info);
      return {
        status: 200,
        body: registry.replace(type, namespace, name, await readObjectBody(req)),
      };
    case "patch": {
      refuseDryRun(info);
      const { patchType, body } = await readPatchBody(req);
      return { status: 200, body: registry.patch(type, namespace, name, patchType, body) };
    }
    case "delete": {
      refuseDryRun(info);
      const opts = parseDeleteOptions(await readOptionalBody(req), info.query);
      const result = deleter.delete(type, namespace, name, opts);
      // 202 only when dependents are deleted later at the client's explicit request
      // (orphanDependents=false, the legacy spelling of it).
      const legacy = info.query.get("orphanDependents") === "false";
      return { status: legacy && result.kind !== "Status" ? 202 : 200, body: result };
    }
    case "deletecollection": {
      refuseDryRun(info);
      const opts = parseDeleteOptions(await readOptionalBody(req), info.query);
      const { labels, fields } = selectorsOf(type, info.query);
      const victims = registry.store
        .list(type.resource, namespace)
        .filter((o) => labels.matches(o.metadata.labels) && fields.matches(o));
      const items = victims.map((o) =>
        deleter.delete(type, namespace, o.metadata.name ?? "", opts),
      );
      return {
        status: 200,
        body: {
          kind: type.listKind,
          apiVersion: type.apiVersion,
          metadata: { resourceVersion: String(registry.store.currentRevision) },
          items: items.filter((i): i is KubeObject => i.kind !== "Status").map(withoutTypeMeta),
        },
      };
    }
    default:
      throw methodNotAllowed();
  }
}
