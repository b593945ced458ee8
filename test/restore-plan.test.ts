// The split of an archive between the restore role and the superuser, and how a failed restore is
// told without row values: pure functions, on output captured from pg_restore 15 and psql 15.
import { describe, expect, it } from "vitest";
import { addSqlstates, describeFailures, pgRestoreFailures, psqlFailures, shownMessage } from "../src/restore-check/restore-errors.js";
import { parseToc, planRestore } from "../src/restore-check/restore-plan.js";
import { DEDICATED_USER, serverIdentity } from "../src/restore-check/server-identity.js";
import type { CommandRunner } from "../src/runner/commands.js";

const LIST = `;
; Archive created at 2026-12-05 22:19:54 UTC
;     dbname: proddb
;
9; 2615 16386 SCHEMA - ext prod
4; 3079 16546 EXTENSION - file_fdw 
3467; 0 0 COMMENT - EXTENSION file_fdw 
2; 3079 16387 EXTENSION - hstore 
3468; 0 0 COMMENT - EXTENSION hstore 
297; 1255 16557 FUNCTION public evt() admin
220; 1259 16550 TABLE public my table prod
3460; 0 16550 TABLE DATA public my table prod
3457; 6104 16555 PUBLICATION - pub prod
3470; 0 0 COMMENT - PUBLICATION pub prod
3458; 6106 16556 PUBLICATION TABLE public pub t prod
3459; 6100 16559 SUBSCRIPTION - sub admin
3312; 3466 16558 EVENT TRIGGER - et admin
3471; 0 0 COMMENT - EVENT TRIGGER et admin
`;

describe("the restore plan", () => {
  const entries = parseToc(LIST);

  it("reads pg_restore --list: id, type (with spaces), schema, name (with spaces), the line as it is", () => {
    expect(entries).toHaveLength(14);
    expect(entries[0]).toEqual({ id: 9, line: "9; 2615 16386 SCHEMA - ext prod", type: "SCHEMA", schema: "-", name: "ext" });
    expect(entries.find((e) => e.id === 3460)).toMatchObject({ type: "TABLE DATA", schema: "public", name: "my table" });
    expect(entries.find((e) => e.id === 2)).toMatchObject({ type: "EXTENSION", schema: "-", name: "hstore" });
    expect(entries.find((e) => e.id === 3458)).toMatchObject({ type: "PUBLICATION TABLE", schema: "public", name: "pub t" });
  });

  it("schemas first (the role), untrusted extensions the runner has and their comments (the superuser), the rest (the role); superuser-only objects left out", () => {
    const plan = planRestore(entries, new Set(["file_fdw"]));
    const ids = (list: { id: number }[]) => list.map((e) => e.id);
    expect(ids(plan.schemas)).toEqual([9]);
    expect(ids(plan.extensions)).toEqual([4, 3467]);
    // hstore is trusted: the role creates it, in the schema it created.
    expect(ids(plan.rest)).toEqual([2, 3468, 297, 220, 3460]);
    expect(ids(plan.notChecked)).toEqual([3457, 3470, 3458, 3459, 3312, 3471]);
  });
});

// pg_restore --verbose, as it printed a CHECK failure, a function raising with a value, and an --inserts row.
const SECRET = "zoe.secret@example.org";
const PG_RESTORE = `pg_restore: connecting to database for restore
pg_restore: processing data for table "public.accounts"
pg_restore: while PROCESSING TOC:
pg_restore: from TOC entry 3460; 0 16550 TABLE DATA public my table prod
pg_restore: error: COPY failed for table "my table": ERROR:  new row for relation "my table" violates check constraint "email_ok"
DETAIL:  Failing row contains (1, ${SECRET}).
CONTEXT:  COPY my table, line 1: "1	${SECRET}"
pg_restore: from TOC entry 220; 1259 16550 TABLE public my table prod
pg_restore: error: could not execute query: ERROR:  bad email ${SECRET}
CONTEXT:  PL/pgSQL function public.check_email(text) line 3 at RAISE
Command was: INSERT INTO public.accounts VALUES (2, '${SECRET}');
pg_restore: error: could not execute query: ERROR:  relation "audit.logins" does not exist
CONTEXT:  PL/pgSQL function public.f() line 1 at SQL statement
pg_restore: error: could not read from input file: end of file
pg_restore: warning: errors ignored on restore: 4
`;

describe("a failed restore, told without values", () => {
  const toc = new Map(parseToc(LIST).map((e) => [e.id, e]));

  it("names each failing object by its TOC entry, shows messages whose form holds names only, withholds the rest", () => {
    const failures = pgRestoreFailures(PG_RESTORE, toc);
    addSqlstates(
      failures,
      `2026-12-05 sqlstate=00000 LOG:  database system is ready\nsqlstate=23514 ERROR:  new row for relation "my table" violates check constraint "email_ok"\nsqlstate=P0001 ERROR:  bad email ${SECRET}\nsqlstate=42P01 ERROR:  relation "audit.logins" does not exist at character 15\n`,
    );
    const text = describeFailures(failures);
    expect(text).toBe(
      [
        '- TABLE DATA public.my table: SQLSTATE 23514: new row for relation "my table" violates check constraint "email_ok"',
        "- TABLE public.my table: SQLSTATE P0001: message withheld (its form may hold row values; the log of the throwaway server is not kept)",
        // Raised inside a function of the dump's: its text is that code's, whatever its form.
        "- TABLE public.my table: SQLSTATE 42P01: message withheld (its form may hold row values; the log of the throwaway server is not kept)",
        "- TABLE public.my table: could not read from input file: end of file",
      ].join("\n"),
    );
    expect(text).not.toContain("secret");
  });

  it("psql (plain): the line and SQLSTATE from VERBOSITY=verbose, values withheld", () => {
    const failures = psqlFailures(
      `psql:/tmp/x/dump.sql:107: ERROR:  22P02: invalid input syntax for type integer: "${SECRET}"\nLINE 1: ...\nLOCATION:  pg_strtoint32, numutils.c:320\npsql:/tmp/x/dump.sql:140: ERROR:  42704: type "ext.hstore" does not exist\n`,
    );
    expect(failures.map((f) => [f.line, f.sqlstate, shownMessage(f)])).toEqual([
      [107, "22P02", undefined],
      [140, "42704", 'type "ext.hstore" does not exist'],
    ]);
  });
});

describe("the server's OS user when the step is root", () => {
  function runner(existing: Record<string, [number, number]>) {
    const calls: string[][] = [];
    const run: CommandRunner = async (file, args) => {
      calls.push([file, ...args]);
      if (file === "useradd") {
        existing[args.at(-1) as string] = [990, 990];
        return { code: 0, stdout: "", stderr: "" };
      }
      const user = existing[args[1] as string];
      if (file === "id" && user) return { code: 0, stdout: `${args[0] === "-u" ? user[0] : user[1]}\n`, stderr: "" };
      return { code: 1, stdout: "", stderr: "no such user" };
    };
    return { run, calls };
  }

  it("creates a system user of its own the first time, then reuses it", async () => {
    const { run, calls } = runner({ postgres: [101, 104] });
    expect(await serverIdentity(undefined, run)).toEqual({ name: DEDICATED_USER, uid: 990, gid: 990 });
    expect(calls.find((c) => c[0] === "useradd")).toEqual([
      "useradd",
      "--system",
      "--user-group",
      "--no-create-home",
      "--home-dir",
      "/nonexistent",
      "--shell",
      "/usr/sbin/nologin",
      DEDICATED_USER,
    ]);
    const again = runner({ [DEDICATED_USER]: [990, 990] });
    await serverIdentity(undefined, again.run);
    expect(again.calls.some((c) => c[0] === "useradd")).toBe(false);
  });

  it("takes a named existing user, never creates one for it, and refuses root, nobody and postgres", async () => {
    const { run, calls } = runner({ backup: [1500, 1500], postgres: [101, 104] });
    expect(await serverIdentity("backup", run)).toEqual({ name: "backup", uid: 1500, gid: 1500 });
    await expect(serverIdentity("missing", run)).rejects.toThrow(/SCALINGO_PG_DUMP_SERVER_USER names "missing", but no such user exists/);
    for (const name of ["root", "nobody", "postgres"]) await expect(serverIdentity(name, run)).rejects.toThrow(/never runs as root, nobody or postgres/);
    expect(calls.some((c) => c[0] === "useradd")).toBe(false);
  });
});
