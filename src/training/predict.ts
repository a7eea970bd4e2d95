// Input checking and prediction for POST /predict. Validation reports the first offending field
// by path, so a client sending 1000 rows learns which one is wrong.
import { FACTORS, type Penguin } from "./dataset.js";
import { COLUMN_NAMES, designRow } from "./design.js";
import { dot } from "./metrics.js";
import type { ModelSummary } from "./fit.js";

export type FeatureRow = Omit<Penguin, "body_mass_g">;

export type PredictInputResult =
  { ok: true; rows: FeatureRow[] } | { ok: false; field: string; message: string };

// Bounds the work one request can ask for; a batch client can split larger sets.
const MAX_PREDICT_ROWS = 1000;

// Checked in this order; the first failure is the one reported.
const FIELDS: readonly (
  | { name: keyof typeof FACTORS; kind: "factor" }
  | { name: "bill_length_mm" | "bill_depth_mm" | "flipper_length_mm"; kind: "number" }
)[] = [
  { name: "species", kind: "factor" },
  { name: "island", kind: "factor" },
  { name: "bill_length_mm", kind: "number" },
  { name: "bill_depth_mm", kind: "number" },
  { name: "flipper_length_mm", kind: "number" },
  { name: "sex", kind: "factor" },
];

type Failure = Extract<PredictInputResult, { ok: false }>;
const fail = (field: string, message: string): Failure => ({ ok: false, field, message });

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseRow(value: unknown, path: string): FeatureRow | Failure {
  if (!isObject(value)) return fail(path, `${path} must be an object`);
  const row: Record<string, string | number> = {};
  for (const { name, kind } of FIELDS) {
    const field = `${path}.${name}`;
    // Own properties only: a key inherited from a prototype was not sent by the client.
    if (!Object.hasOwn(value, name) || value[name] === undefined) {
      return fail(field, `${field} is required`);
    }
    const v = value[name];
    if (kind === "number") {
      // Numeric strings are refused rather than coerced: "3,5" or "" would coerce badly, and
      // the API promises JSON numbers.
      if (typeof v !== "number") return fail(field, `${field} must be a number`);
      if (!Number.isFinite(v)) return fail(field, `${field} must be a finite number`);
      row[name] = v;
    } else {
      const levels: readonly string[] = FACTORS[name];
      if (typeof v !== "string" || !levels.includes(v)) {
        return fail(field, `${field} must be one of: ${levels.join(", ")}`);
      }
      row[name] = v;
    }
  }
  // Built from the checked fields only, so unknown extra fields never travel further.
  return row as unknown as FeatureRow;
}

/** `data` is the value of the request body's "data" key: one row object or an array of them. */
export function parsePredictInput(data: unknown): PredictInputResult {
  const wrap = (parsed: FeatureRow | Failure): PredictInputResult =>
    "ok" in parsed ? parsed : { ok: true, rows: [parsed] };
  if (isObject(data)) return wrap(parseRow(data, "data"));
  if (!Array.isArray(data)) {
    return fail("data", "data must be an object or a non-empty array of objects");
  }
  if (data.length === 0) return fail("data", "data must not be an empty array");
  if (data.length > MAX_PREDICT_ROWS) {
    return fail("data", `data must have at most ${MAX_PREDICT_ROWS} rows, got ${data.length}`);
  }
  const rows: FeatureRow[] = [];
  for (let i = 0; i < data.length; i++) {
    const parsed = parseRow(data[i], `data[${i}]`);
    if ("ok" in parsed) return parsed;
    rows.push(parsed);
  }
  return { ok: true, rows };
}

/**
 * Predicted body_mass_g per row. Coefficients are looked up by name, so a summary read back
 * from JSON works whatever its key order; a model missing a term, or carrying one this code
 * does not know, is refused rather than partly applied.
 */
export function predict(model: Pick<ModelSummary, "coefficients">, rows: FeatureRow[]): number[] {
  const known = new Set(COLUMN_NAMES);
  const unknown = Object.keys(model.coefficients).filter((name) => !known.has(name));
  if (unknown.length > 0) throw new Error(`model has unknown coefficients: ${unknown.join(", ")}`);
  const beta = COLUMN_NAMES.map((name) => {
    const b = model.coefficients[name];
    if (typeof b !== "number" || !Number.isFinite(b)) {
      throw new Error(`model has no finite coefficient ${name}`);
    }
    return b;
  });
  return rows.map((row) => dot(designRow(row), beta));
}
