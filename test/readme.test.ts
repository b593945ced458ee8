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

/** The first table under the `## <heading>` section, as header + rows of cells. */
function tableUnder(markdown: string, heading: string): { header: string[]; rows: string[][] } {
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => line.trim() === `## ${heading}`);
  if (start < 0) throw new Error(`README has no "## ${heading}" section`);
  const end = lines.findIndex((line, i) => i > start && /^#{1,2} /.test(line));
  const section = lines.slice(start + 1, end < 0 ? undefined : end);
  const first = section.findIndex((line) => line.trimStart().startsWith("|"));
  if (first < 0) throw new Error(`"## ${heading}" holds no table`);
  const table: string[] = [];
  for (const line of section.slice(first)) {
    if (!line.trimStart().startsWith("|")) break;
    table.push(line);
  }
  const [header, separator, ...rows] = table;
  if (!cells(separator ?? "").every((c) => /^:?-{3,}:?$/.test(c))) throw new Error(`"## ${heading}": the table's second line is not a separator row`);
  return { header: cells(header ?? ""), rows: rows.map(cells) };
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

describe("README Inputs table", () => {
  const { header, rows } = tableUnder(readme, "Inputs");

  it("has the columns Input, Default, Description", () => {
    expect(header).toEqual(["Input", "Default", "Description"]);
    for (const row of rows) expect(row, `row ${row[0]}`).toHaveLength(3);
  });

  it("lists exactly action.yml's inputs, in the same order", () => {
    expect(rows.map((row) => codeSpan(row[0] as string))).toEqual(Object.keys(action.inputs));
  });

  it("gives each input action.yml's default", () => {
    const documented = Object.fromEntries(rows.map((row) => [codeSpan(row[0] as string), row[1]]));
    const expected = Object.fromEntries(Object.entries(action.inputs).map(([name, input]) => [name, expectedDefaultCell(input)]));
    expect(documented).toEqual(expected);
  });

  it("marks as required exactly the inputs action.yml requires", () => {
    const required = rows.filter((row) => row[1] === REQUIRED_CELL).map((row) => codeSpan(row[0] as string));
    expect(required).toEqual(Object.keys(action.inputs).filter((name) => action.inputs[name]?.required === true));
  });

  it("describes every input", () => {
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

  it("keep the benchmark markers for the bench script to fill in", () => {
    const start = readme.indexOf("<!-- bench:start -->");
    const end = readme.indexOf("<!-- bench:end -->");
    expect(start).toBeGreaterThan(readme.indexOf("## Benchmarks"));
    expect(end).toBeGreaterThan(start);
  });
});
