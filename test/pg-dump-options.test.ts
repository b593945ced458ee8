import { describe, expect, it } from "vitest";
import { enablesRowSecurity, parsePgDumpArgs, reservedArgsProblem } from "../src/postgres/pg-dump-options.js";

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
