// The model matrix of lm(body_mass_g ~ species + island + bill_length_mm + bill_depth_mm +
// flipper_length_mm + sex): an intercept, one 0/1 column per non-reference level (treatment
// coding, reference = first level of FACTORS), and the numeric columns as they are.
import { FACTORS, type Penguin } from "./dataset.js";

export const FORMULA =
  "body_mass_g ~ species + island + bill_length_mm + bill_depth_mm + flipper_length_mm + sex";

type Features = Omit<Penguin, "body_mass_g">;
type FactorName = keyof typeof FACTORS;
type NumericName = "bill_length_mm" | "bill_depth_mm" | "flipper_length_mm";

// Terms in formula order, which is the order R gives the columns (and the coefficients).
type Term = { kind: "factor"; name: FactorName } | { kind: "numeric"; name: NumericName };
const TERMS: readonly Term[] = [
  { kind: "factor", name: "species" },
  { kind: "factor", name: "island" },
  { kind: "numeric", name: "bill_length_mm" },
  { kind: "numeric", name: "bill_depth_mm" },
  { kind: "numeric", name: "flipper_length_mm" },
  { kind: "factor", name: "sex" },
];

const INTERCEPT = "(Intercept)";

/** R's names: "(Intercept)", then factor name + level ("speciesChinstrap"), numerics bare. */
export const COLUMN_NAMES: readonly string[] = [
  INTERCEPT,
  ...TERMS.flatMap((term) =>
    term.kind === "numeric" ? [term.name] : FACTORS[term.name].slice(1).map((l) => term.name + l),
  ),
];

/**
 * One row of the model matrix. An unknown level throws: coding it as all zeros would silently
 * predict for the reference level instead.
 */
export function designRow(row: Features): number[] {
  const out = [1];
  for (const term of TERMS) {
    if (term.kind === "numeric") {
      out.push(row[term.name]);
      continue;
    }
    const levels: readonly string[] = FACTORS[term.name];
    const value = row[term.name];
    if (!levels.includes(value)) {
      throw new Error(`${term.name} "${value}" is not one of ${levels.join(", ")}`);
    }
    for (const level of levels.slice(1)) out.push(value === level ? 1 : 0);
  }
  return out;
}

export function designMatrix(rows: readonly Features[]): number[][] {
  return rows.map(designRow);
}
