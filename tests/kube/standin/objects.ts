// Small helpers over plain Kubernetes objects as JSON: the stand-in keeps objects as the wire
// shows them (no typed model), so these are the only shared vocabulary.
import { randomBytes, randomUUID } from "node:crypto";
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";

/** kubernetes-types marks server-set fields readonly; the stand-in is the server. */
export type Writable<T> = { -readonly [K in keyof T]: T[K] };

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: Writable<ObjectMeta>;
  [field: string]: unknown;
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => deepEqual(ra[k], rb[k]));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** RFC 3339 at second precision, as metav1.Time serialises. */
export function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** RFC 3339 with microseconds, as metav1.MicroTime and log timestamps serialise. */
export function nowNano(date = new Date()): string {
  return date.toISOString().replace(/Z$/, "000000Z");
}

export function newUid(): string {
  return randomUUID();
}

// k8s.io/apimachinery/pkg/util/rand: no vowels, no look-alikes, so names never spell words.
const ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789";
const MAX_GENERATED_BASE = 63 - 5;

/** metadata.generateName resolution: the base cut to 58 characters plus 5 random ones. */
export function generateName(base: string): string {
  const bytes = randomBytes(5);
  let suffix = "";
  for (const b of bytes) suffix += ALPHANUMS[b % ALPHANUMS.length] ?? "x";
  return base.slice(0, MAX_GENERATED_BASE) + suffix;
}

export function objectKey(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? ""}/${name ?? ""}`;
}

export function keyOf(obj: KubeObject): string {
  return objectKey(obj.metadata.namespace, obj.metadata.name);
}

/** Reads a nested field: path("spec", "template") of an object, undefined when absent. */
export function dig(obj: unknown, ...path: (string | number)[]): unknown {
  let cur: unknown = obj;
  for (const step of path) {
    if (typeof step === "number") {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[step];
    } else {
      if (!isRecord(cur)) return undefined;
      cur = cur[step];
    }
  }
  return cur;
}
