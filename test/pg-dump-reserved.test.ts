import { describe, expect, it } from "vitest";
import { parsePgDumpArgs, reservedArgsProblem } from "../src/postgres/pg-dump-options.js";

// Every option the action sets itself, in every form getopt_long accepts. One missing from the
// reserved set would let `pg-dump-args` redirect the file, or the connection, with the password in
// the environment: `--dbname=host=other` sends it to another host.
const RESERVED: [name: string, short: string, takesArg: boolean][] = [
  ["file", "f", true],
  ["format", "F", true],
  ["jobs", "j", true],
  ["dbname", "d", true],
  ["host", "h", true],
  ["port", "p", true],
  ["username", "U", true],
  ["password", "W", false],
  ["no-password", "w", false],
  ["compress", "Z", true],
];

const forms = ([name, short, takesArg]: (typeof RESERVED)[number]): string[][] => {
  const abbreviated = name.slice(0, name.length - 1);
  return takesArg
    ? [[`--${name}=x`], [`--${name}`, "x"], [`--${abbreviated}=x`], [`-${short}`, "x"], [`-${short}x`], ["-v", `-${short}x`], [`-v${short}x`]]
    : [[`--${name}`], [`--${abbreviated}`], [`-${short}`], [`-v${short}`]];
};

describe("reserved pg_dump options", () => {
  const cases = RESERVED.flatMap((option) => forms(option).map((words) => [option[0], words] as const));
  it.each(cases)("%s: %j is refused, naming the words", (name, words) => {
    const parsed = parsePgDumpArgs([...words]);
    const taken = parsed.options.filter((o) => o.names.includes(name));
    expect(taken).toHaveLength(1);
    const problem = reservedArgsProblem(parsed);
    expect(problem).toMatch(/set by the action itself/);
    expect(problem).toContain(taken[0]?.text);
  });

  it("a connection string as an operand is refused too", () => {
    expect(reservedArgsProblem(parsePgDumpArgs(["--clean", "host=other.example password=x"]))).toMatch(/database name or a connection string/);
  });

  it("options the action does not set pass", () => {
    expect(reservedArgsProblem(parsePgDumpArgs(["--clean", "--if-exists", "-n", "public", "--exclude-table=logs", "-x", "--no-owner"]))).toBeUndefined();
  });
});
