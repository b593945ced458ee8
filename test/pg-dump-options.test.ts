import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { enablesRowSecurity, parsePgDumpArgs, reservedArgsProblem, setsSnapshot } from "../src/postgres/pg-dump-options.js";
import { findPgBinDir } from "./support/postgres.js";

// What pg_dump's getopt_long would make of each argument list: the option names it resolves to
// (with the words that carry them) and the words left over as operands.
const names = (words: string[]) => parsePgDumpArgs(words).options.map((o) => o.names.join("|"));

describe("parsePgDumpArgs (getopt_long with pg_dump's option table)", () => {
  const table: [string, string[], string[], string[]?][] = [
    ["exact long options", ["--clean", "--if-exists", "--exclude-schema=^pg_*"], ["clean", "if-exists", "exclude-schema"]],
    ["an unambiguous abbreviation", ["--fo=c"], ["format"]],
    // pg_dump 15 and 16 read it as --file; 17 added --filter, and finds it ambiguous.
    ["--fil=/tmp/x", ["--fil=/tmp/x"], ["file|filter"]],
    ["--forma=p", ["--forma=p"], ["format"]],
    ["--hos=evil.example", ["--hos=evil.example"], ["host"]],
    ["--usern", ["--usern=x"], ["username"]],
    ["--no-pass", ["--no-pass"], ["no-password"]],
    ["an exact name wins over longer ones", ["--schema=x", "--table=y"], ["schema", "table"]],
    ["an ambiguous abbreviation lists every candidate", ["--no-p"], ["no-password|no-privileges|no-policies|no-publications"]],
    ["two names of one option", ["--no-bl", "--large"], ["no-blobs", "large-objects"]],
    ["grouped short options up to one taking an argument", ["-vZ9"], ["verbose", "compress"]],
    ["-Fp", ["-Fp"], ["format"]],
    ["-fx: x is -f's argument, not -x", ["-fx"], ["file"]],
    ["-xf /tmp/x", ["-xf", "/tmp/x"], ["no-privileges", "file"]],
    ["an argument in the next word is not an operand", ["-t", "orders", "--exclude-table", "logs"], ["table", "exclude-table"], []],
    ["-f /tmp/x", ["-f", "/tmp/x"], ["file"], []],
    ["--file /tmp/x", ["--file", "/tmp/x"], ["file"], []],
    ["a word pg_dump reads as the database name", ["--clean", "host=evil.example"], ["clean"], ["host=evil.example"]],
    ["everything after --", ["--", "-f", "x"], [], ["-f", "x"]],
  ];
  it.each(table)("%s", (_name, words, expected, operands) => {
    expect(names(words)).toEqual(expected);
    if (operands) expect(parsePgDumpArgs(words).operands).toEqual(operands);
  });

  it("keeps the words of each option, for the error message", () => {
    expect(parsePgDumpArgs(["-f", "/tmp/x", "--hos=h", "-vZ9"]).options.map((o) => o.text)).toEqual(["-f /tmp/x", "--hos=h", "-v", "-Z9"]);
  });
});

describe("what pg-dump-args may not hold", () => {
  const problem = (words: string[]) => reservedArgsProblem(parsePgDumpArgs(words));
  // pg_dump would print its version or its help and exit 0, leaving an empty "dump".
  it.each([["-V"], ["--version"], ["-?"], ["--help"], ["--hel"], ["--vers"], ["-vV"]])("refuses %s", (word) => {
    expect(problem(["--clean", word])).toMatch(/prints? pg_dump's version or help instead of dumping: remove it/);
  });
  it("still accepts --verbose and -v", () => {
    expect(problem(["--verbose", "-v", "--verb"])).toBeUndefined();
  });
});

describe("--enable-row-security, however written, is seen (the row counts follow it)", () => {
  it.each([["--enable-row-security"], ["--enable-row"], ["--enable"], ["--ena"]])("%s", (word) => {
    expect(enablesRowSecurity(parsePgDumpArgs(["--clean", word]))).toBe(true);
  });
  it("not when absent", () => {
    expect(enablesRowSecurity(parsePgDumpArgs(["--clean", "--exclude-schema=enable-row-security"]))).toBe(false);
  });
});

// The option table against the real pg_dump: every option its --help lists is read as getopt_long
// reads it (its long name, its short letter, whether it takes a value). An option wrongly taken as
// one with a value would swallow the next word, e.g. `--no-comments -f /tmp/x` hiding `-f`.
describe("the option table agrees with the installed pg_dump's --help", async () => {
  const { stdout } = await promisify(execFile)(path.join(await findPgBinDir(), "pg_dump"), ["--help"]);
  const listed = [...stdout.matchAll(/^ {2}(?:-(\S), )?--([a-z-]+)(=\S+)?/gm)].map(([, short, name, value]) => ({ short, name, arg: Boolean(value) }));

  it("lists the options (the help's format is understood)", () => {
    expect(listed.length).toBeGreaterThan(55);
    expect(listed).toContainEqual({ short: "f", name: "file", arg: true });
    expect(listed).toContainEqual({ short: "w", name: "no-password", arg: false });
  });

  it.each(listed.map((o) => [o.name, o] as const))("--%s", (_name, o) => {
    const long = parsePgDumpArgs([`--${o.name}`, "next"]);
    expect(long.options.map((p) => p.names)).toEqual([[o.name]]);
    expect(long.operands).toEqual(o.arg ? [] : ["next"]);
    expect(parsePgDumpArgs([`--${o.name}=x`]).options.map((p) => p.text)).toEqual([`--${o.name}=x`]);
    if (!o.short) return;
    const short = parsePgDumpArgs([`-${o.short}`, "next"]);
    expect(short.options.map((p) => [p.names, p.text])).toEqual([[[o.name], o.arg ? `-${o.short} next` : `-${o.short}`]]);
    expect(short.operands).toEqual(o.arg ? [] : ["next"]);
  });
});

describe("the parser's edges", () => {
  const parsed = (words: string[]) => {
    const p = parsePgDumpArgs(words);
    return { options: p.options.map((o) => [o.names.join("|"), o.text]), operands: p.operands };
  };

  it("an option that takes a value, last on the line, has none (pg_dump then refuses it)", () => {
    expect(parsed(["--clean", "--file"])).toEqual({
      options: [
        ["clean", "--clean"],
        ["file", "--file"],
      ],
      operands: [],
    });
    expect(parsed(["-f"])).toEqual({ options: [["file", "-f"]], operands: [] });
  });

  it("an unknown option takes no value: the next word stays an operand", () => {
    expect(parsed(["--no-such-option", "host=evil.example"])).toEqual({ options: [["no-such-option", "--no-such-option"]], operands: ["host=evil.example"] });
  });

  it("an ambiguous abbreviation takes the next word only when every option it may be takes a value", () => {
    // --s: schema, schema-only, superuser... (schema-only takes none): the next word stays an operand.
    expect(parsed(["--s", "next"]).operands).toEqual(["next"]);
    // --exclude-table-d: exclude-table-data and exclude-table-data-and-children, both with a value.
    expect(parsed(["--exclude-table-d", "logs"])).toEqual({
      options: [["exclude-table-data|exclude-table-data-and-children", "--exclude-table-d logs"]],
      operands: [],
    });
  });

  it("a lone dash is a word, not an option", () => {
    expect(parsed(["-"])).toEqual({ options: [], operands: ["-"] });
  });

  it("--snapshot, however written, is seen (the action then does not pass its own)", () => {
    expect(setsSnapshot(parsePgDumpArgs(["--snapshot=00000003-1"]))).toBe(true);
    expect(setsSnapshot(parsePgDumpArgs(["--snap", "00000003-1"]))).toBe(true);
    expect(setsSnapshot(parsePgDumpArgs(["--clean", "--table=snapshot"]))).toBe(false);
  });
});

describe("the refusals, in words", () => {
  const problem = (words: string[]) => reservedArgsProblem(parsePgDumpArgs(words));

  it("one reserved option, then several, each in the words it was written in", () => {
    expect(problem(["--clean", "-f", "/tmp/x"])).toBe(
      "-f /tmp/x is set by the action itself: use the `format`, `jobs`, `compress` and `path` inputs instead (the connection comes from Scalingo).",
    );
    expect(problem(["--hos=h", "-vZ9"])).toBe(
      "--hos=h, -Z9 are set by the action itself: use the `format`, `jobs`, `compress` and `path` inputs instead (the connection comes from Scalingo).",
    );
  });

  it("an abbreviation that may stand for a reserved option is refused, whatever else it may be", () => {
    expect(problem(["--no-p"])).toMatch(/^--no-p is set by the action itself/);
  });

  it("several options that print instead of dumping; an abbreviation that may be one of them", () => {
    expect(problem(["-V", "--help"])).toBe("-V, --help print pg_dump's version or help instead of dumping: remove them.");
    expect(problem(["--ver"])).toBe("--ver prints pg_dump's version or help instead of dumping: remove it.");
  });

  it("words pg_dump would read as the database, quoted", () => {
    expect(problem(["--clean", "host=evil.example", "db"])).toBe(
      '"host=evil.example" "db": pg_dump reads a word that is not an option as the database name or a connection string; the connection comes from Scalingo. Pass options only (an option\'s value goes after = or in the next word).',
    );
    expect(problem(["--clean", "--exclude-schema", "audit"])).toBeUndefined();
  });
});
