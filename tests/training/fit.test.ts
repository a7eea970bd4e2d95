// fitModel against two references that share no code with it: a least-squares solve written
// here (Householder QR on a hand-built X) and numbers printed by R's lm().
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { DEFAULT_DATA_PATH, loadPenguins, type Penguin } from "../../src/training/dataset.js";
import { fitModel } from "../../src/training/fit.js";

const NAMES = [
  "(Intercept)",
  "speciesChinstrap",
  "speciesGentoo",
  "islandDream",
  "islandTorgersen",
  "bill_length_mm",
  "bill_depth_mm",
  "flipper_length_mm",
  "sexmale",
];

interface RReference {
  r_version: string;
  coefficients: Record<string, number>;
  n: number;
  r_squared: number;
  adj_r_squared: number;
  sigma: number;
  rmse: number;
}

// From dist/tests/training/ (where this runs) back to the source copy: tsc does not emit JSON.
const R_REFERENCE_URL = new URL("../../../tests/training/r-reference.json", import.meta.url);

function assertClose(actual: number, expected: number, rel: number, what: string): void {
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), Number.MIN_VALUE);
  assert.ok(err <= rel, `${what}: ${actual} vs ${expected} (relative error ${err})`);
}

// Treatment coding spelled out by hand, deliberately not via src/training/design.ts.
function handRow(p: Penguin): number[] {
  return [
    1,
    p.species === "Chinstrap" ? 1 : 0,
    p.species === "Gentoo" ? 1 : 0,
    p.island === "Dream" ? 1 : 0,
    p.island === "Torgersen" ? 1 : 0,
    p.bill_length_mm,
    p.bill_depth_mm,
    p.flipper_length_mm,
    p.sex === "male" ? 1 : 0,
  ];
}

/**
 * Least squares by Householder QR of [X | y]: after the reflections the top p rows hold R and
 * Q'y, and R b = Q'y is back-substituted. X'X is never formed, so its squared condition
 * number never enters.
 */
function householderLeastSquares(x: number[][], y: number[]): number[] {
  const n = x.length;
  const p = x[0]?.length ?? 0;
  // Column-major copy of the augmented matrix; column p is y.
  const cols = Array.from({ length: p + 1 }, (_, j) =>
    Float64Array.from({ length: n }, (_, i) => (j < p ? (x[i]?.[j] ?? NaN) : (y[i] ?? NaN))),
  );
  const col = (j: number): Float64Array => cols[j] ?? new Float64Array(n).fill(NaN);
  for (let k = 0; k < p; k++) {
    const ck = col(k);
    let norm = 0;
    for (let i = k; i < n; i++) norm += (ck[i] ?? NaN) ** 2;
    norm = Math.sqrt(norm);
    // The sign choice avoids cancellation in v[k].
    const alpha = (ck[k] ?? NaN) > 0 ? -norm : norm;
    const v = ck.slice();
    v[k] = (v[k] ?? NaN) - alpha;
    let vv = 0;
    for (let i = k; i < n; i++) vv += (v[i] ?? NaN) ** 2;
    for (let j = k; j <= p; j++) {
      const cj = col(j);
      let s = 0;
      for (let i = k; i < n; i++) s += (v[i] ?? NaN) * (cj[i] ?? NaN);
      const f = (2 * s) / vv;
      for (let i = k; i < n; i++) cj[i] = (cj[i] ?? NaN) - f * (v[i] ?? NaN);
    }
  }
  const r = (i: number, j: number): number => col(j)[i] ?? NaN;
  const beta = new Array<number>(p).fill(NaN);
  for (let k = p - 1; k >= 0; k--) {
    let s = r(k, p);
    for (let j = k + 1; j < p; j++) s -= r(k, j) * (beta[j] ?? NaN);
    beta[k] = s / r(k, k);
  }
  return beta;
}

const rows = await loadPenguins(DEFAULT_DATA_PATH);
const model = fitModel(rows);

void test("fits on the 333 complete cases, with R's coefficient names in R's order", () => {
  assert.equal(rows.length, 333);
  assert.equal(model.n, 333);
  assert.deepEqual(Object.keys(model.coefficients), NAMES);
  assert.equal(
    model.formula,
    "body_mass_g ~ species + island + bill_length_mm + bill_depth_mm + flipper_length_mm + sex",
  );
});

void test("every coefficient matches an independent Householder QR solve within 1e-8", () => {
  const beta = householderLeastSquares(
    rows.map(handRow),
    rows.map((r) => r.body_mass_g),
  );
  NAMES.forEach((name, j) => {
    assertClose(model.coefficients[name] ?? NaN, beta[j] ?? NaN, 1e-8, name);
  });
});

void test("coefficients and fit statistics match R's lm() within 1e-6", async () => {
  const ref = JSON.parse(await readFile(R_REFERENCE_URL, "utf8")) as RReference;
  assert.match(ref.r_version, /^R version /);
  assert.deepEqual(Object.keys(ref.coefficients), NAMES);
  for (const name of NAMES) {
    assertClose(model.coefficients[name] ?? NaN, ref.coefficients[name] ?? NaN, 1e-6, name);
  }
  assert.equal(model.n, ref.n);
  assertClose(model.r_squared, ref.r_squared, 1e-6, "r_squared");
  assertClose(model.adj_r_squared, ref.adj_r_squared, 1e-6, "adj_r_squared");
  assertClose(model.sigma, ref.sigma, 1e-6, "sigma");
  assertClose(model.rmse, ref.rmse, 1e-6, "rmse");
});

void test("sigma and rmse are the same RSS over n - p and over n", () => {
  const p = NAMES.length;
  assertClose(model.sigma ** 2 * (model.n - p), model.rmse ** 2 * model.n, 1e-12, "RSS");
  assert.ok(model.adj_r_squared < model.r_squared);
});

void test("refuses data that cannot identify every coefficient", () => {
  assert.throws(() => fitModel(rows.slice(0, 9)), /need more than 9 complete rows/);
  // Adelie only: the Chinstrap and Gentoo columns are all zero, which R would report as NA.
  const adelie = rows.filter((r) => r.species === "Adelie");
  assert.throws(() => fitModel(adelie), /speciesChinstrap is all zero/);
});
