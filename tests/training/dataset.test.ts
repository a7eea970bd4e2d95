import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { isAbsolute } from "node:path";
import {
  DEFAULT_DATA_PATH,
  FACTORS,
  loadPenguins,
  parsePenguinsCsv,
} from "../../src/training/dataset.js";

const HEADER =
  '"species","island","bill_length_mm","bill_depth_mm","flipper_length_mm","body_mass_g","sex","year"';

void test("DEFAULT_DATA_PATH resolves to the project's data file from the compiled location", () => {
  assert.ok(isAbsolute(DEFAULT_DATA_PATH));
  assert.match(DEFAULT_DATA_PATH, /[/\\]data[/\\]penguins\.csv$/);
  assert.ok(existsSync(DEFAULT_DATA_PATH), DEFAULT_DATA_PATH);
});

void test("the shipped file gives 333 complete cases with R's species counts", async () => {
  const rows = await loadPenguins(DEFAULT_DATA_PATH);
  assert.equal(rows.length, 333);
  const count = (s: string): number => rows.filter((r) => r.species === s).length;
  assert.deepEqual(FACTORS.species.map(count), [146, 68, 119]);
  assert.deepEqual(rows[0], {
    species: "Adelie",
    island: "Torgersen",
    bill_length_mm: 39.1,
    bill_depth_mm: 18.7,
    flipper_length_mm: 181,
    sex: "male",
    body_mass_g: 3750,
  });
});

void test("levels are alphabetical, so the first is R's reference level", () => {
  for (const levels of Object.values(FACTORS)) {
    assert.deepEqual([...levels], [...levels].sort());
  }
  assert.deepEqual(
    [FACTORS.species[0], FACTORS.island[0], FACTORS.sex[0]],
    ["Adelie", "Biscoe", "female"],
  );
});

void test("drops rows with an empty or NA model column, keeps those missing only other columns", () => {
  const csv = [
    HEADER,
    '"Adelie","Biscoe",37.8,18.3,174,3400,"female",2007',
    '"Adelie","Biscoe",,18.3,174,3400,"female",2007',
    '"Adelie","Biscoe",37.8,NA,174,3400,"female",2007',
    '"Adelie","Biscoe",37.8,18.3,174,3400,"NA",2007',
    '"Gentoo","Biscoe",46.1,13.2,211,4500,"",2007',
    '"Gentoo","Biscoe",46.1,13.2,211,4500,"female",NA',
    "",
  ].join("\n");
  const rows = parsePenguinsCsv(csv);
  assert.equal(rows.length, 2);
  assert.deepEqual(
    rows.map((r) => r.species),
    ["Adelie", "Gentoo"],
  );
});

void test("parses quoted fields with commas, doubled quotes and line breaks; CRLF; BOM; any column order", () => {
  const csv =
    "\uFEFF" +
    [
      '"note","sex","body_mass_g","flipper_length_mm","bill_depth_mm","bill_length_mm","island","species"',
      '"big, ""round"" bird","male",5000,220,15.5,50.1,"Biscoe","Gentoo"',
      '"two\r\nlines","female",3300,190,17,36.2,Dream,Chinstrap',
    ].join("\r\n") +
    "\r\n";
  assert.deepEqual(parsePenguinsCsv(csv), [
    {
      species: "Gentoo",
      island: "Biscoe",
      bill_length_mm: 50.1,
      bill_depth_mm: 15.5,
      flipper_length_mm: 220,
      sex: "male",
      body_mass_g: 5000,
    },
    {
      species: "Chinstrap",
      island: "Dream",
      bill_length_mm: 36.2,
      bill_depth_mm: 17,
      flipper_length_mm: 190,
      sex: "female",
      body_mass_g: 3300,
    },
  ]);
});

void test("refuses malformed files instead of silently dropping rows", () => {
  const cases: [string, string, RegExp][] = [
    ["not a number", '"Adelie","Biscoe",abc,18,174,3400,"female",2007', /line 2: bill_length_mm/],
    ["unknown level", '"Emperor","Biscoe",37,18,174,3400,"female",2007', /species "Emperor"/],
    ["wrong case", '"Adelie","Biscoe",37,18,174,3400,"Male",2007', /sex "Male"/],
    ["short record", '"Adelie","Biscoe",37,18,174,3400', /expected 8 fields, found 6/],
    ["open quote", '"Adelie,"Biscoe",37,18,174,3400,"female",2007', /inside a quoted field/],
  ];
  for (const [what, line, error] of cases) {
    assert.throws(() => parsePenguinsCsv(`${HEADER}\n${line}\n`), error, what);
  }
  assert.throws(() => parsePenguinsCsv('"species","island"\n"Adelie","Biscoe"\n'), /no "bill_/);
  assert.throws(() => parsePenguinsCsv(""), /empty/);
});
