// PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902). A strategic merge patch
// is applied as a merge patch: identical for maps and scalars, which is what a Job client
// patches (spec.suspend, labels, annotations); lists are replaced whole instead of merged by
// their patch keys.
import { ApiError, badRequest } from "./status.js";
import { clone, deepEqual, isRecord } from "./objects.js";

export const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
] as const;

export type PatchType = (typeof PATCH_TYPES)[number];

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  const out: Record<string, unknown> = isRecord(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** The 422 the API server answers when a JSON patch cannot be applied. */
function patchFailed(why: string): ApiError {
  return new ApiError({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: "the server rejected our request due to an error in our request",
    reason: "Invalid",
    details: { causes: [{ message: why }] },
    code: 422,
  });
}

function pointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw patchFailed(`invalid JSON pointer: "${path}"`);
  return path
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function parentOf(doc: unknown, tokens: string[], path: string): { parent: unknown; last: string } {
  let cur = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(token)];
    else if (isRecord(cur)) cur = cur[token];
    else cur = undefined;
    if (cur === undefined) throw patchFailed(`doc is missing path: "${path}": missing value`);
  }
  return { parent: cur, last: tokens[tokens.length - 1] ?? "" };
}

function read(doc: unknown, path: string): unknown {
  const tokens = pointer(path);
  if (tokens.length === 0) return doc;
  const { parent, last } = parentOf(doc, tokens, path);
  const value = Array.isArray(parent)
    ? (parent as unknown[])[Number(last)]
    : isRecord(parent)
      ? parent[last]
      : undefined;
  if (value === undefined) throw patchFailed(`doc is missing path: "${path}": missing value`);
  return value;
}

function remove(doc: unknown, path: string): unknown {
  const tokens = pointer(path);
  const { parent, last } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) {
    const index = Number(last);
    if (!Number.isInteger(index) || index < 0 || index >= parent.length) {
      throw patchFailed(`unable to remove nonexistent key: ${last}: missing value`);
    }
    return parent.splice(index, 1)[0];
  }
  if (!isRecord(parent) || !(last in parent)) {
    throw patchFailed(`unable to remove nonexistent key: ${last}: missing value`);
  }
  const value = parent[last];
  delete parent[last];
  return value;
}

function add(doc: unknown, path: string, value: unknown, replace: boolean): unknown {
  const tokens = pointer(path);
  if (tokens.length === 0) return clone(value);
  const { parent, last } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) {
    const index = last === "-" ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) {
      throw patchFailed(`add operation does not apply: doc is missing path: "${path}"`);
    }
    if (replace) {
      if (index >= parent.length)
        throw patchFailed(`replace operation does not apply: doc is missing key: ${path}`);
      parent[index] = clone(value);
    } else parent.splice(index, 0, clone(value));
  } else if (isRecord(parent)) {
    if (replace && !(last in parent)) {
      throw patchFailed(
        `replace operation does not apply: doc is missing key: ${path}: missing value`,
      );
    }
    parent[last] = clone(value);
  } else throw patchFailed(`doc is missing path: "${path}": missing value`);
  return doc;
}

export function jsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations))
    throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  let doc = clone(target);
  for (const op of operations) {
    if (!isRecord(op) || typeof op.op !== "string" || typeof op.path !== "string") {
      throw badRequest('Unexpected kind: an operation needs "op" and "path"');
    }
    const path = op.path;
    switch (op.op) {
      case "add":
        doc = add(doc, path, op.value, false);
        break;
      case "replace":
        doc = add(doc, path, op.value, true);
        break;
      case "remove":
        remove(doc, path);
        break;
      case "move":
      case "copy": {
        if (typeof op.from !== "string") throw badRequest(`${op.op} operation needs "from"`);
        const value = op.op === "move" ? remove(doc, op.from) : clone(read(doc, op.from));
        doc = add(doc, path, value, false);
        break;
      }
      case "test":
        if (!deepEqual(read(doc, path), op.value)) {
          throw patchFailed(`testing value ${path} failed: test failed`);
        }
        break;
      default:
        throw badRequest(`Unexpected kind: ${op.op}`);
    }
  }
  return doc;
}

export function applyPatch(type: PatchType, target: unknown, body: unknown): unknown {
  return type === "application/json-patch+json"
    ? jsonPatch(target, body)
    : mergePatch(target, body);
}
