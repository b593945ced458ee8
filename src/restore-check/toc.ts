import { createReadStream } from "node:fs";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { ActionError } from "../errors.js";
import { type CommandRunner, runCommand } from "../runner/commands.js";

// Which tables a dump holds the rows of. Exclusions in pg-dump-args (--exclude-schema,
// --exclude-table-data, --table...) follow pg_dump's own pattern rules: asking the dump itself is
// the only way to honour them exactly.

/** A table whose rows the dump holds: by OID (archive formats) or by name (plain SQL). */
export type DumpedTable = { oid: number } | { schema: string; name: string };

/**
 * `pg_restore --list` lines: `<id>; <catalog oid> <object oid> <type> <schema> <name> <owner>`.
 * For TABLE DATA the object OID is the table's own OID on the dumped server, which identifies it
 * without parsing names (they may hold spaces).
 */
export function tableDataOids(list: string): number[] {
  const oids: number[] = [];
  for (const line of list.split("\n")) {
    const match = /^\d+; \d+ (\d+) TABLE DATA /.exec(line);
    if (match) oids.push(Number(match[1]));
  }
  return oids;
}

export async function archiveTables(pgRestore: string, source: string, run: CommandRunner = runCommand): Promise<DumpedTable[]> {
  const result = await run(pgRestore, ["--list", source], { silent: true });
  if (result.code !== 0) throw new ActionError("verify", `pg_restore --list could not read the dump: ${result.stderr.trim()}`);
  return tableDataOids(result.stdout).map((oid) => ({ oid }));
}

// An identifier as pg_dump writes it: bare (lower case, digits, _ and $) or double-quoted.
const IDENT = String.raw`(?:"(?:[^"]|"")*"|[^\s".]+)`;
const COPY_LINE = new RegExp(String.raw`^COPY (${IDENT})\.(${IDENT}) (?:\(.*\))? ?FROM stdin;$`);
const INSERT_LINE = new RegExp(String.raw`^INSERT INTO (${IDENT})\.(${IDENT}) `);

export function unquoteIdent(ident: string): string {
  return ident.startsWith('"') ? ident.slice(1, -1).replaceAll('""', '"') : ident;
}

/**
 * A plain dump has no table of contents: its rows are in `COPY <table> FROM stdin;` blocks (ended
 * by `\.`), or in `INSERT INTO <table>` statements with --inserts. Read once, line by line.
 */
export async function plainTables(file: string): Promise<DumpedTable[]> {
  const found = new Map<string, DumpedTable>();
  let inCopy = false;
  const lines = createInterface({ input: createReadStream(file, { encoding: "utf8", highWaterMark: 1 << 20 }), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (inCopy) {
      if (line === "\\.") inCopy = false;
      continue;
    }
    const copy = COPY_LINE.exec(line);
    const match = copy ?? INSERT_LINE.exec(line);
    if (!match) continue;
    if (copy) inCopy = true;
    const table = { schema: unquoteIdent(match[1] as string), name: unquoteIdent(match[2] as string) };
    found.set(`${table.schema}.${table.name}`, table);
  }
  return [...found.values()];
}

export function dumpedTables(format: string, source: string, pgDumpDir: string, run?: CommandRunner): Promise<DumpedTable[]> {
  return format === "plain" ? plainTables(source) : archiveTables(path.join(pgDumpDir, "pg_restore"), source, run);
}
