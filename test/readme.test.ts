// The README is the action's manual: its Inputs and Outputs tables must say exactly what
// action.yml declares (names, order, input defaults), and its examples may only use real inputs
// and outputs. A renamed input or a changed default fails here until the README follows.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = fileURLToPath(new URL("..", import.meta.url));
const readme = readFileSync(join(root, "README.md"), "utf8");

interface ActionInput {
  description?: string;
  required?: boolean;
  default?: string | number | boolean;
}
interface ActionMetadata {
  inputs: Record<string, ActionInput>;
  outputs: Record<string, { description?: string }>;
}
const action = parse(readFileSync(join(root, "action.yml"), "utf8")) as ActionMetadata;

/** How the README's Default column spells the two values that are not a literal. */
const REQUIRED_CELL = "**required**";
const EMPTY_CELL = "_empty_";

/** A GFM table row's cells, trimmed; `\|` inside a cell is not a separator. */
function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim().replaceAll("\\|", "|"));
}

/** A Markdown table's lines, from `first`, as header + rows of cells. */
function parseTable(lines: string[], where: string): { header: string[]; rows: string[][] } {
  const [header, separator, ...rows] = lines;
  if (!cells(separator ?? "").every((c) => /^:?-{3,}:?$/.test(c))) throw new Error(`${where}: the table's second line is not a separator row`);
  return { header: cells(header ?? ""), rows: rows.map(cells) };
}

/** Every table under the `## <heading>` section (its `###` subsections included), in order. */
function tablesUnder(markdown: string, heading: string): { header: string[]; rows: string[][] }[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => line.trim() === `## ${heading}`);
  if (start < 0) throw new Error(`README has no "## ${heading}" section`);
  const end = lines.findIndex((line, i) => i > start && /^#{1,2} /.test(line));
  const tables: string[][] = [];
  let current: string[] | undefined;
  for (const line of lines.slice(start + 1, end < 0 ? undefined : end)) {
    if (!line.trimStart().startsWith("|")) {
      current = undefined;
      continue;
    }
    if (!current) {
      current = [];
      tables.push(current);
    }
    current.push(line);
  }
  if (!tables.length) throw new Error(`"## ${heading}" holds no table`);
  return tables.map((table) => parseTable(table, `"## ${heading}"`));
}

/** The first table under the `## <heading>` section. */
function tableUnder(markdown: string, heading: string): { header: string[]; rows: string[][] } {
  return tablesUnder(markdown, heading)[0] as { header: string[]; rows: string[][] };
}

/** `` `name` `` → name; anything else is a formatting mistake worth failing on. */
function codeSpan(cell: string): string {
  const match = /^`([^`]*)`$/.exec(cell);
  if (!match) throw new Error(`expected a single code span, got ${JSON.stringify(cell)}`);
  return match[1] as string;
}

/** What the Default cell must say for an action.yml input. */
function expectedDefaultCell(input: ActionInput): string {
  if (input.default === undefined) return input.required ? REQUIRED_CELL : EMPTY_CELL;
  const value = String(input.default);
  return value === "" ? EMPTY_CELL : `\`${value}\``;
}

// The everyday inputs come first, in a table of their own; the advanced ones follow in another
// (### Advanced inputs). Together they hold every input exactly once, each table in action.yml's order.
describe("README Inputs tables", () => {
  const tables = tablesUnder(readme, "Inputs");
  const rows = tables.flatMap((table) => table.rows);
  const order = Object.keys(action.inputs);

  it("are two: the everyday inputs, then the advanced ones", () => {
    expect(tables).toHaveLength(2);
    expect(readme).toMatch(/\n### Advanced inputs\n/);
    expect(tables[0]?.rows.map((row) => codeSpan(row[0] as string))).toEqual(expect.arrayContaining(["api-token", "database", "retention-days"]));
  });

  it("have the columns Input, Default, Description", () => {
    for (const table of tables) expect(table.header).toEqual(["Input", "Default", "Description"]);
    for (const row of rows) expect(row, `row ${row[0]}`).toHaveLength(3);
  });

  it("list exactly action.yml's inputs, once each, each table in action.yml's order", () => {
    const names = rows.map((row) => codeSpan(row[0] as string));
    expect([...names].sort()).toEqual([...order].sort());
    for (const table of tables) {
      const inTable = table.rows.map((row) => codeSpan(row[0] as string));
      expect(inTable).toEqual([...inTable].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
    }
  });

  it("give each input action.yml's default", () => {
    const documented = Object.fromEntries(rows.map((row) => [codeSpan(row[0] as string), row[1]]));
    const expected = Object.fromEntries(Object.entries(action.inputs).map(([name, input]) => [name, expectedDefaultCell(input)]));
    expect(documented).toEqual(expected);
  });

  it("mark as required exactly the inputs action.yml requires, in the everyday table", () => {
    const required = rows.filter((row) => row[1] === REQUIRED_CELL).map((row) => codeSpan(row[0] as string));
    expect(required).toEqual(order.filter((name) => action.inputs[name]?.required === true));
    expect(tables[0]?.rows.filter((row) => row[1] === REQUIRED_CELL)).toHaveLength(required.length);
  });

  it("describe every input", () => {
    for (const row of rows) expect(row[2], `description of ${row[0]}`).toMatch(/\w{3}/);
  });
});

describe("README Outputs table", () => {
  const { header, rows } = tableUnder(readme, "Outputs");

  it("has the columns Output, Description", () => {
    expect(header).toEqual(["Output", "Description"]);
    for (const row of rows) expect(row, `row ${row[0]}`).toHaveLength(2);
  });

  it("lists exactly action.yml's outputs, in the same order", () => {
    expect(rows.map((row) => codeSpan(row[0] as string))).toEqual(Object.keys(action.outputs));
  });

  it("describes every output", () => {
    for (const row of rows) expect(row[1], `description of ${row[0]}`).toMatch(/\w{3}/);
  });
});

describe("the helpers above", () => {
  it("find every table of a section, the ones under its ### subsections too", () => {
    const sample = [
      "## Inputs",
      "",
      "| Input | Default | Description |",
      "|---|---|---|",
      "| `a` | x | y |",
      "",
      "### Advanced inputs",
      "",
      "| Input | Default | Description |",
      "|---|---|---|",
      "| `b` | x | y |",
      "| `c` | x | y |",
      "",
      "## Next",
      "| `d` | x | y |",
    ].join("\n");
    expect(tablesUnder(sample, "Inputs").map((t) => t.rows.map((row) => codeSpan(row[0] as string)))).toEqual([["a"], ["b", "c"]]);
  });

  it("fail on a table that misses an input or puts it out of order", () => {
    const broken = [
      "## Inputs",
      "",
      "| Input | Default | Description |",
      "|---|---|---|",
      "| `database` | **required** | x |",
      "| `api-token` | **required** | y |",
      "",
      "## Next",
    ].join("\n");
    const names = tableUnder(broken, "Inputs").rows.map((row) => codeSpan(row[0] as string));
    expect(names).not.toEqual(Object.keys(action.inputs));
    expect(() => codeSpan("api-token")).toThrow(/code span/);
    expect(expectedDefaultCell({ default: "" })).toBe(EMPTY_CELL);
    expect(expectedDefaultCell({ default: 300 })).toBe("`300`");
    expect(expectedDefaultCell({ required: true })).toBe(REQUIRED_CELL);
  });
});

/** Every fenced ```yaml block of the README. */
function yamlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ya?ml\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string);
}

/** Steps anywhere in a parsed workflow or snippet that use this action. */
function actionSteps(node: unknown, found: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(node)) for (const item of node) actionSteps(item, found);
  else if (node && typeof node === "object") {
    const record = node as Record<string, unknown>;
    if (typeof record.uses === "string" && /^(org\/scalingo-pg-dump@v1|\.\/)$/.test(record.uses)) found.push(record);
    for (const value of Object.values(record)) actionSteps(value, found);
  }
  return found;
}

describe("README examples", () => {
  const blocks = yamlBlocks(readme);

  it("are valid YAML", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    for (const block of blocks) expect(() => parse(block), block.slice(0, 80)).not.toThrow();
  });

  it("pass only inputs the action declares, and every required one", () => {
    const steps = blocks.flatMap((block) => actionSteps(parse(block)));
    expect(steps.length).toBeGreaterThanOrEqual(4);
    const required = Object.keys(action.inputs).filter((name) => action.inputs[name]?.required === true);
    for (const step of steps) {
      const given = Object.keys((step.with ?? {}) as object);
      for (const name of given) expect(Object.keys(action.inputs), `input ${name} in a README example`).toContain(name);
      for (const name of required) expect(given, `required input ${name} in a README example`).toContain(name);
    }
  });

  it("read only outputs the action declares", () => {
    const used = [...readme.matchAll(/steps\.backup\.outputs\.([A-Za-z0-9_-]+)/g)].map((m) => m[1] as string);
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(Object.keys(action.outputs)).toContain(name);
  });

  it("use the action as org/scalingo-pg-dump@v1 with the API token from a secret", () => {
    expect(readme).toContain("uses: org/scalingo-pg-dump@v1");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a template
    expect(readme).toContain("api-token: ${{ secrets.SCALINGO_API_TOKEN }}");
  });
});

describe("README sections the project relies on", () => {
  it("give the two commands for a fresh machine", () => {
    expect(readme).toMatch(/```sh\nnpm ci && npm run demo\nnpm test\n```/);
  });

  it("keep the benchmark markers for the bench script to fill in, in docs/benchmarks.md", () => {
    const benchmarks = readFileSync(join(root, "docs/benchmarks.md"), "utf8");
    const start = benchmarks.indexOf("<!-- bench:start -->");
    const end = benchmarks.indexOf("<!-- bench:end -->");
    expect(start).toBeGreaterThan(benchmarks.indexOf("# Benchmarks"));
    expect(end).toBeGreaterThan(start);
    expect(readme).toContain("](docs/benchmarks.md)");
  });

  it("stay a manual a user reads: about 25 KB, short lines, the long reference in docs/", () => {
    // The README was 72 KB with 53 lines over 300 characters; the anchors' are 14 to 49 KB.
    expect(Buffer.byteLength(readme)).toBeLessThan(36_000);
    const long = readme.split("\n").filter((line) => line.length > 300 && !line.startsWith("|"));
    expect(long).toEqual([]);
    for (const page of ["docs/troubleshooting.md", "docs/development.md"]) expect(readme).toContain(`](${page})`);
  });

  it("say what to watch: a failure alert, a freshness check, storage, TLS and data residency", () => {
    expect(readme).toMatch(/if: failure\(\)/);
    expect(readme).toMatch(/gh api .*actions\/artifacts/);
    expect(readme).toMatch(/retention-days: \d+/);
    expect(readme).toContain("30 nights of a 1 GiB dump");
    expect(readme).toContain("\n## TLS to the database\n");
    expect(readme).toContain("osc-secnum-fr1");
    expect(readme).toContain("SCALINGO_PREVIEW_FEATURES=true scalingo databases");
    expect(readme).toMatch(/`org\/scalingo-pg-dump@v1` is a placeholder/);
  });
});
