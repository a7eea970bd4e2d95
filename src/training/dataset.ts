// The Palmer penguins table, reduced to the complete cases of the model's columns: the same
// 333 rows R's lm() keeps with its default na.action (na.omit).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Alphabetical, so the first level of each is the treatment-coding reference, as in R.
export const FACTORS = {
  species: ["Adelie", "Chinstrap", "Gentoo"],
  island: ["Biscoe", "Dream", "Torgersen"],
  sex: ["female", "male"],
} as const satisfies Record<string, readonly string[]>;

export interface Penguin {
  species: string;
  island: string;
  bill_length_mm: number;
  bill_depth_mm: number;
  flipper_length_mm: number;
  sex: string;
  body_mass_g: number;
}

const NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"] as const;
const FACTOR_NAMES = Object.keys(FACTORS) as (keyof typeof FACTORS)[];
// R's read.csv treats both as missing; the shipped file uses empty cells.
const MISSING = new Set(["", "NA"]);

/**
 * Rows whose model columns are all present. Present-but-invalid values (a number that does not
 * parse, an unknown level) throw instead of being dropped: they mean a corrupt or different
 * file, and silently training on fewer rows would hide that.
 */
export function parsePenguinsCsv(text: string): Penguin[] {
  const records = parseCsv(text);
  const header = records.shift();
  if (!header) throw new Error("penguins CSV is empty");
  const index = new Map(header.map((name, i) => [name.trim(), i]));
  const column = (name: string): number => {
    const i = index.get(name);
    if (i === undefined) throw new Error(`penguins CSV has no "${name}" column`);
    return i;
  };
  const numericCols = NUMERIC.map((name) => [name, column(name)] as const);
  const factorCols = FACTOR_NAMES.map((name) => [name, column(name)] as const);

  const rows: Penguin[] = [];
  records.forEach((record, r) => {
    // 1-based and counting the header, to match what an editor shows (exact unless blank
    // lines or multi-line quoted fields come earlier).
    const where = `line ${r + 2}`;
    if (record.length !== header.length) {
      throw new Error(`${where}: expected ${header.length} fields, found ${record.length}`);
    }
    const cell = (i: number): string => (record[i] ?? "").trim();
    if ([...numericCols, ...factorCols].some(([, i]) => MISSING.has(cell(i)))) return;

    const row: Record<string, string | number> = {};
    for (const [name, i] of numericCols) {
      const value = Number(cell(i));
      if (!Number.isFinite(value))
        throw new Error(`${where}: ${name} "${cell(i)}" is not a number`);
      row[name] = value;
    }
    for (const [name, i] of factorCols) {
      const levels: readonly string[] = FACTORS[name];
      if (!levels.includes(cell(i))) {
        throw new Error(`${where}: ${name} "${cell(i)}" is not one of ${levels.join(", ")}`);
      }
      row[name] = cell(i);
    }
    rows.push(row as unknown as Penguin);
  });
  return rows;
}

export async function loadPenguins(path: string): Promise<Penguin[]> {
  return parsePenguinsCsv(await readFile(path, "utf8"));
}

/**
 * RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks. Lines that
 * are entirely empty (a trailing newline) are skipped rather than read as one empty field.
 */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a BOM from spreadsheet exports
  const endRecord = (): void => {
    record.push(field);
    if (record.length > 1 || record[0] !== "") records.push(record);
    record = [];
    field = "";
  };
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch !== '"') field += ch;
      else if (text[i + 1] === '"') {
        field += '"';
        i++;
      } else quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      record.push(field);
      field = "";
    } else if (ch === "\n") endRecord();
    else if (ch !== "\r") field += ch;
  }
  if (quoted) throw new Error("penguins CSV ends inside a quoted field");
  endRecord();
  return records;
}

// What runs is dist/src/training/dataset.js, but tests may load the source through a loader:
// the project root (the folder with package.json) is the same from both.
function projectRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

const root = projectRoot();
export const DEFAULT_DATA_PATH: string =
  root !== undefined
    ? join(root, "data", "penguins.csv")
    : fileURLToPath(new URL("../../../data/penguins.csv", import.meta.url));
