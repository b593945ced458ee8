import { describe, expect, it } from "vitest";
import { newReport, outputsOf } from "../src/report/report.js";
import { summaryMarkdown } from "../src/report/summary.js";
import { compareCounts, sortedForReport } from "../src/restore-check/check.js";
import type { RestoredTable } from "../src/restore-check/restore.js";
import type { CountedTable } from "../src/restore-check/row-counts.js";
import { escapeMarkdown } from "../src/restore-check/summary.js";
import { tableDataOids, unquoteIdent } from "../src/restore-check/toc.js";

const table = (schema: string, name: string, rows: number, bytes = 8192): RestoredTable => ({ schema, name, rows, bytes });

describe("which tables a dump holds", () => {
  it("reads TABLE DATA entries' OIDs from pg_restore --list, names with spaces included", () => {
    const list = [
      ";     Format: CUSTOM",
      "215; 1259 16386 TABLE my schema my table postgres",
      "3361; 0 16386 TABLE DATA my schema my table postgres",
      "3363; 0 16397 TABLE DATA public p1 postgres",
      "3364; 0 16400 MATERIALIZED VIEW DATA public mv postgres",
      "3370; 0 0 SEQUENCE SET public s postgres",
    ].join("\n");
    expect(tableDataOids(list)).toEqual([16386, 16397]);
  });

  it("unquotes identifiers as pg_dump quotes them", () => {
    expect(unquoteIdent('"My ""odd"" table"')).toBe('My "odd" table');
    expect(unquoteIdent("orders")).toBe("orders");
  });
});

describe("row count comparison", () => {
  const counted: CountedTable[] = [
    { oid: 1, schema: "public", name: "orders", rows: 10 },
    { oid: 2, schema: "public", name: "gone", rows: 3 },
    { oid: 3, schema: "app", name: "events", rows: 5 },
    { oid: 4, schema: "public", name: "secret", error: "permission denied for table secret" },
  ];
  it("passes equal tables and names every difference", () => {
    const restored = [table("public", "orders", 10), table("app", "events", 4)];
    const { problems, compared } = compareCounts([{ oid: 1 }, { oid: 2 }, { oid: 3 }, { oid: 4 }, { oid: 9 }], counted, restored);
    expect(compared).toBe(1);
    expect(problems).toEqual([
      "public.gone: 3 row(s) in pg_dump's snapshot, but the table is missing from the restored database.",
      "app.events: 5 row(s) in pg_dump's snapshot, 4 restored.",
      "public.secret: its rows are in the dump but could not be counted in pg_dump's snapshot (permission denied for table secret).",
      "table with OID 9: its rows are in the dump but could not be counted in pg_dump's snapshot.",
    ]);
  });
  it("matches plain dumps' tables by name; tables whose rows were not dumped are not compared", () => {
    const { problems, compared } = compareCounts([{ schema: "app", name: "events" }], counted, [table("app", "events", 5), table("public", "orders", 0)]);
    expect({ problems, compared }).toEqual({ problems: [], compared: 1 });
  });
});

describe("restore check in the summary and outputs", () => {
  it("escapes table names for Markdown", () => {
    expect(escapeMarkdown("a|b*c_d`e[f](g)<h>&i\nj\\k")).toBe("a\\|b\\*c\\_d\\`e\\[f\\](g)&lt;h>&amp;i j\\\\k");
  });

  it("lists tables largest first, folds after 20, and sets restore-verified, tables and rows", () => {
    const r = newReport("db", "osc-fr1", "custom", false);
    const tables = Array.from({ length: 25 }, (_, i) => table("public", `t${i}`, i * 10));
    tables.push(table("public", "evil|<script>", 1000));
    r.restoreVerified = true;
    r.restore = { tables: sortedForReport(tables), rows: 4000, bytes: 3 * 2 ** 20, durationMs: 12_300, compared: 26, notChecked: [] };
    const md = summaryMarkdown(r);
    expect(md).toContain("Restored into a throwaway PostgreSQL server in 12.3 s: 26 table(s), 4,000 row(s), 3.0 MiB on disk.");
    expect(md).toContain("each of the 26 dumped table(s) holds exactly the rows pg_dump read");
    const [shown, folded] = md.split("<details>");
    expect(shown?.match(/^\| public\./gm)).toHaveLength(20);
    expect(shown).toMatch(/^\| public\.evil\\\|&lt;script> \| 1,000 \|.*\n\| public\.t24 \| 240 \|/m);
    expect(folded).toMatch(/^<summary>6 more table\(s\)<\/summary>/m);
    expect(folded?.match(/^\| public\./gm)).toHaveLength(6);
    expect(outputsOf(r)).toMatchObject({ "restore-verified": "true", tables: "26", rows: "4000" });
    expect(outputsOf(newReport("db", "osc-fr1", "custom", false))).not.toHaveProperty("restore-verified");
    expect(md).not.toContain("Not checked");
  });

  it("lists what the restore role could not create, as not checked, names escaped", () => {
    const r = newReport("db", "osc-fr1", "custom", false);
    const notChecked = [
      { type: "EVENT TRIGGER", schema: "-", name: "on_ddl" },
      { type: "PUBLICATION TABLE", schema: "app", name: "pub_*x* events" },
    ];
    r.restore = { tables: [table("public", "t", 1)], rows: 1, bytes: 1, durationMs: 1, notChecked };
    const md = summaryMarkdown(r);
    expect(md).toContain("Not checked: 2 object(s) only a superuser can create");
    expect(md).toContain("- EVENT TRIGGER on\\_ddl\n- PUBLICATION TABLE app.pub\\_\\*x\\* events\n");
  });
});
