import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_DATA_PATH, loadPenguins } from "../../src/training/dataset.js";
import { fitModel } from "../../src/training/fit.js";
import { parsePredictInput, predict, type FeatureRow } from "../../src/training/predict.js";

const rows = await loadPenguins(DEFAULT_DATA_PATH);
const model = fitModel(rows);
// What the API serves from: the summary after a trip through JSON (the models table).
const stored = JSON.parse(JSON.stringify(model)) as typeof model;

const valid: FeatureRow = {
  species: "Gentoo",
  island: "Biscoe",
  bill_length_mm: 47.5,
  bill_depth_mm: 15,
  flipper_length_mm: 218,
  sex: "female",
};

void test("round trip: a training row through parsePredictInput and a JSON-stored model", () => {
  const first = rows[0];
  assert.ok(first);
  const features: Record<string, unknown> = { ...first };
  delete features["body_mass_g"];
  const input = parsePredictInput(JSON.parse(JSON.stringify(features)));
  assert.ok(input.ok);
  assert.deepEqual(input.rows, [features]);
  const [predicted] = predict(stored, input.rows);

  // Adelie / Torgersen / male: intercept + islandTorgersen + sexmale + the slopes, by hand.
  const b = model.coefficients;
  const expected =
    (b["(Intercept)"] ?? NaN) +
    (b["islandTorgersen"] ?? NaN) +
    (b["sexmale"] ?? NaN) +
    (b["bill_length_mm"] ?? NaN) * 39.1 +
    (b["bill_depth_mm"] ?? NaN) * 18.7 +
    (b["flipper_length_mm"] ?? NaN) * 181;
  assert.ok(Math.abs((predicted ?? NaN) - expected) < 1e-9, `${predicted} vs ${expected}`);
});

void test("over the training rows, predictions average to the observed mean (OLS with intercept)", () => {
  const predicted = predict(stored, rows);
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  const observed = rows.map((r) => r.body_mass_g);
  assert.ok(Math.abs(mean(predicted) - mean(observed)) < 1e-8);
  const rss = observed.reduce((s, y, i) => s + (y - (predicted[i] ?? NaN)) ** 2, 0);
  assert.ok(Math.abs(Math.sqrt(rss / rows.length) - model.rmse) < 1e-8);
});

void test("predict looks coefficients up by name, not by position", () => {
  const reversed = Object.fromEntries(Object.entries(stored.coefficients).reverse());
  assert.deepEqual(predict({ coefficients: reversed }, [valid]), predict(stored, [valid]));
});

void test("predict refuses a model that does not match the formula", () => {
  const missing = { ...stored.coefficients };
  delete missing["sexmale"];
  assert.throws(() => predict({ coefficients: missing }, [valid]), /no finite coefficient sexmale/);
  const extra = { ...stored.coefficients, year: 1 };
  assert.throws(() => predict({ coefficients: extra }, [valid]), /unknown coefficients: year/);
});

void test("parsePredictInput accepts one object or an array, and drops unknown fields", () => {
  assert.deepEqual(parsePredictInput(valid), { ok: true, rows: [valid] });
  assert.deepEqual(parsePredictInput([valid, { ...valid, note: "x", year: 2009 }]), {
    ok: true,
    rows: [valid, valid],
  });
  assert.equal(parsePredictInput(Array.from({ length: 1000 }, () => valid)).ok, true);
});

void test("parsePredictInput names the offending field", () => {
  const without = (field: keyof FeatureRow): Record<string, unknown> => {
    const copy: Record<string, unknown> = { ...valid };
    delete copy[field];
    return copy;
  };
  const cases: [string, unknown, string, RegExp][] = [
    ["unknown species", { ...valid, species: "Emperor" }, "data.species", /Adelie, Chinstrap/],
    ["level case matters", { ...valid, sex: "Male" }, "data.sex", /one of: female, male/],
    ["island not a string", { ...valid, island: 1 }, "data.island", /one of: Biscoe/],
    ["missing field", without("flipper_length_mm"), "data.flipper_length_mm", /is required/],
    ["string number", { ...valid, bill_depth_mm: "15" }, "data.bill_depth_mm", /must be a number/],
    ["null number", { ...valid, bill_length_mm: null }, "data.bill_length_mm", /a number/],
    ["NaN", { ...valid, bill_length_mm: NaN }, "data.bill_length_mm", /finite/],
    ["Infinity", { ...valid, bill_depth_mm: Infinity }, "data.bill_depth_mm", /finite/],
    [
      "bad row in array",
      [valid, valid, valid, { ...valid, bill_depth_mm: "x" }],
      "data[3].bill_depth_mm",
      /must be a number/,
    ],
    ["missing in array", [valid, without("sex")], "data[1].sex", /is required/],
    ["non-object row", [valid, 42], "data[1]", /must be an object/],
    ["null row", [null], "data[0]", /must be an object/],
    ["nested array row", [[valid]], "data[0]", /must be an object/],
    ["empty array", [], "data", /empty/],
    ["too many rows", Array.from({ length: 1001 }, () => valid), "data", /at most 1000/],
    ["a string", "Adelie", "data", /object or a non-empty array/],
    ["a number", 3, "data", /object or a non-empty array/],
    ["null", null, "data", /object or a non-empty array/],
    ["undefined", undefined, "data", /object or a non-empty array/],
    [
      "inherited field",
      Object.assign(Object.create({ sex: "male" }) as object, without("sex")),
      "data.sex",
      /is required/,
    ],
  ];
  for (const [what, data, field, message] of cases) {
    const result = parsePredictInput(data);
    assert.equal(result.ok, false, what);
    if (result.ok) continue;
    assert.equal(result.field, field, what);
    assert.match(result.message, message, what);
    assert.ok(result.message.startsWith(field), `${what}: message names the field`);
  }
});
