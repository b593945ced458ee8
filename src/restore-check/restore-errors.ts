import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { TocEntry } from "./restore-plan.js";

// A failed restore is reported without any text that may hold a row value: a public repository's
// log is public. PostgreSQL's errors carry data (DETAIL: Failing row contains (...), CONTEXT:
// COPY t, line 1: "...", an ERROR line a function raised with a value, pg_restore's `Command was:
// INSERT ...`), so the tool's output is never logged as it is: only the tool, the SQLSTATE, the
// failing object and, when its form is known to hold names and no values, the message.

export interface RestoreFailure {
  tool: "pg_restore" | "psql";
  sqlstate?: string;
  /** The failing object: pg_restore's TOC entry, or the plain script's `-- Name:` header. */
  object?: { type: string; schema: string; name: string };
  /** A plain script's line. */
  line?: number;
  /** The server's primary message as it was printed, before it is judged. */
  serverMessage?: string;
  /** The tool's own message (not the server's): file, format and connection problems, no row values. */
  toolMessage?: string;
  /** Set when the server's error happened inside a function of the dump's (its text is that code's). */
  inUserCode?: boolean;
}

/**
 * Server messages whose form holds names (of relations, constraints, types, roles, extensions,
 * files of the server's) and never a value. Anything else is withheld.
 */
const NAMES_ONLY = [
  /^(relation|schema|type|role|language|collation|extension|server|publication|table|view|sequence|index|column|constraint|trigger|operator|operator class|text search configuration|text search dictionary|foreign-data wrapper) "[^"]*"( of relation "[^"]*")?( for encoding "[^"]*")? (does not exist|already exists)$/,
  /^(function|procedure|aggregate|operator) [\w."$ ,()[\]]* does not exist$/,
  /^could not open extension control file "[^"]*": No such file or directory$/,
  /^extension "[^"]*" is not available$/,
  /^could not access file "[^"]*": No such file or directory$/,
  /^permission denied (for|to) [\w ]+( "[^"]*"| [\w.]+)?$/,
  /^must be (superuser|owner of [\w ]+ [\w."]+|member of role "[^"]*")( to [\w ]+)?$/,
  /^new row for relation "[^"]*" violates check constraint "[^"]*"$/,
  /^null value in column "[^"]*" of relation "[^"]*" violates not-null constraint$/,
  /^duplicate key value violates unique constraint "[^"]*"$/,
  /^(insert or update|update or delete) on table "[^"]*" violates foreign key constraint "[^"]*"( on table "[^"]*")?$/,
  /^could not (extend|write to) file "[^"]*": No space left on device$/,
  /^out of memory$/,
];

/** The message to show, or undefined to withhold it. */
export function shownMessage(f: RestoreFailure): string | undefined {
  if (f.toolMessage) return f.toolMessage;
  if (!f.serverMessage || f.inUserCode) return undefined;
  return NAMES_ONLY.some((form) => form.test(f.serverMessage as string)) ? f.serverMessage : undefined;
}

const USER_CODE = /^CONTEXT: {2}(PL\/pgSQL function|SQL function|SQL statement)/;

/**
 * pg_restore's stderr (--verbose: only then does it print `from TOC entry <id>;` before an error,
 * naming the object by its id in the table of contents); lines that are not pg_restore's own are
 * the server's (DETAIL, CONTEXT, `Command was:`) and are dropped.
 */
export function pgRestoreFailures(stderr: string, toc: Map<number, TocEntry>): RestoreFailure[] {
  const failures: RestoreFailure[] = [];
  let object: RestoreFailure["object"];
  let last: RestoreFailure | undefined;
  for (const line of stderr.split("\n")) {
    if (USER_CODE.test(line) && last) last.inUserCode = true;
    const from = /^pg_restore: from TOC entry (\d+);/.exec(line);
    if (from) {
      const entry = toc.get(Number(from[1]));
      object = entry ? { type: entry.type, schema: entry.schema, name: entry.name } : undefined;
      continue;
    }
    const error = /^pg_restore: error: (.*)$/.exec(line);
    if (!error) continue;
    const text = error[1] as string;
    const server = /(?:^|: )(?:ERROR|FATAL): {2}(.*)$/.exec(text);
    last = { tool: "pg_restore", ...(object ? { object } : {}), ...(server ? { serverMessage: server[1] } : { toolMessage: text }) };
    // pg_restore names an entry once, before its first error: the errors after it are that entry's too.
    failures.push(last);
  }
  return failures;
}

/** psql's stderr with VERBOSITY=verbose: `psql:<file>:<line>: ERROR:  <SQLSTATE>: <message>`. */
export function psqlFailures(stderr: string): RestoreFailure[] {
  const failures: RestoreFailure[] = [];
  let last: RestoreFailure | undefined;
  for (const line of stderr.split("\n")) {
    if (USER_CODE.test(line) && last) last.inUserCode = true;
    const server = /^psql:.*:(\d+): (?:ERROR|FATAL): {2}(?:([0-9A-Z]{5}): )?(.*)$/.exec(line);
    const own = /^psql: error: (.*)$/.exec(line);
    if (server) {
      last = { tool: "psql", line: Number(server[1]), ...(server[2] ? { sqlstate: server[2] } : {}), serverMessage: server[3] as string };
      failures.push(last);
    } else if (own) {
      last = { tool: "psql", toolMessage: own[1] as string };
      failures.push(last);
    }
  }
  return failures;
}

/**
 * pg_restore prints no SQLSTATE; the throwaway server's log does (log_line_prefix `sqlstate=%e `).
 * Each failure takes the first unused log line with the same message.
 */
export function addSqlstates(failures: RestoreFailure[], serverLog: string): void {
  const logged = [...serverLog.matchAll(/^sqlstate=([0-9A-Z]{5}) (?:ERROR|FATAL): {2}(.*)$/gm)].map((m) => ({ code: m[1] as string, message: m[2] as string }));
  for (const failure of failures) {
    if (failure.sqlstate || !failure.serverMessage) continue;
    // The log adds the error's position (" at character 44") where the client prints a LINE excerpt.
    const index = logged.findIndex((l) => l.message.replace(/ at character \d+$/, "") === failure.serverMessage);
    if (index < 0) continue;
    failure.sqlstate = logged[index]?.code;
    logged.splice(index, 1);
  }
}

/** A plain script's failing line, named by the `-- Name: ...; Type: ...; Schema: ...` header pg_dump wrote above it. */
export async function addScriptObjects(failures: RestoreFailure[], script: string): Promise<void> {
  const wanted = failures.filter((f) => f.line !== undefined).sort((a, b) => (a.line as number) - (b.line as number));
  if (!wanted.length) return;
  let header: RestoreFailure["object"];
  let number = 0;
  const lines = createInterface({ input: createReadStream(script, { encoding: "utf8", highWaterMark: 1 << 20 }), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    number++;
    const match = /^-- (?:Data for )?Name: (.*); Type: (.*); Schema: (.*); Owner: .*$/.exec(line);
    if (match) header = { name: match[1] as string, type: match[2] as string, schema: match[3] as string };
    while (wanted[0] && (wanted[0].line as number) <= number) {
      const failure = wanted.shift() as RestoreFailure;
      if (header) failure.object = header;
    }
    if (!wanted.length) break;
  }
  lines.close();
}

const MAX_SHOWN = 20;

/** One line per failure: the object, the SQLSTATE, and the message or "withheld". */
export function describeFailures(failures: RestoreFailure[]): string {
  const lines = failures.slice(0, MAX_SHOWN).map((f) => {
    const object = f.object ? `${f.object.type} ${f.object.schema === "-" ? "" : `${f.object.schema}.`}${f.object.name}` : "";
    const where = [object, f.line !== undefined ? `script line ${f.line}` : ""].filter(Boolean).join(", ");
    const message = shownMessage(f);
    const state = f.sqlstate ? `SQLSTATE ${f.sqlstate}` : f.toolMessage ? "" : "SQLSTATE unknown";
    const text = message ?? "message withheld (its form may hold row values; the log of the throwaway server is not kept)";
    return `- ${where ? `${where}: ` : ""}${[state, text].filter(Boolean).join(": ")}`;
  });
  if (failures.length > MAX_SHOWN) lines.push(`- ... and ${failures.length - MAX_SHOWN} more.`);
  return lines.join("\n");
}
