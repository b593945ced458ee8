// How an archive's table of contents is split between the restore role and the superuser
// (docs/decisions.md, "The restore check trusts nothing the dump runs").

/** One line of `pg_restore --list`: `<id>; <catalog oid> <object oid> <type> <schema> <name> <owner>`. */
export interface TocEntry {
  id: number;
  /** The line itself, as `pg_restore -L` reads it back. */
  line: string;
  type: string;
  /** `-` for objects outside any schema */
  schema: string;
  name: string;
}

/** The types pg_restore prints with spaces in them, longest first so `PUBLICATION TABLE` is not read as `PUBLICATION`. */
const TYPES = [
  "PUBLICATION TABLES IN SCHEMA",
  "DEFAULT ACL",
  "EVENT TRIGGER",
  "FK CONSTRAINT",
  "FOREIGN TABLE",
  "FOREIGN DATA WRAPPER",
  "LARGE OBJECT",
  "MATERIALIZED VIEW DATA",
  "MATERIALIZED VIEW",
  "OPERATOR CLASS",
  "OPERATOR FAMILY",
  "PUBLICATION TABLE",
  "ROW SECURITY",
  "SECURITY LABEL",
  "SEQUENCE OWNED BY",
  "SEQUENCE SET",
  "SUBSCRIPTION TABLE",
  "TABLE ATTACH",
  "TABLE DATA",
  "TEXT SEARCH CONFIGURATION",
  "TEXT SEARCH DICTIONARY",
  "TEXT SEARCH PARSER",
  "TEXT SEARCH TEMPLATE",
  "USER MAPPING",
  "INDEX ATTACH",
  "SERVER",
  "BLOBS",
  "BLOB",
];
const ENTRY = /^(\d+); \d+ \d+ (.+)$/;

/** Parses `pg_restore --list`; comment lines (`;`) and blank lines are skipped. */
export function parseToc(list: string): TocEntry[] {
  const entries: TocEntry[] = [];
  for (const line of list.split("\n")) {
    const match = ENTRY.exec(line);
    if (!match) continue;
    const rest = match[2] as string;
    const type = TYPES.find((t) => rest.startsWith(`${t} `)) ?? rest.split(" ")[0] ?? "";
    // `<schema> <name> <owner>`: the owner is the last word (empty for extensions); names may hold spaces.
    const words = rest.slice(type.length + 1).split(" ");
    const schema = words.shift() ?? "-";
    if (words.length > 1) words.pop();
    entries.push({ id: Number(match[1]), line, type, schema, name: words.join(" ") });
  }
  return entries;
}

/** What a role without SUPERUSER cannot create, and what the restore does not need: left out, listed as not checked. */
const SUPERUSER_ONLY = ["EVENT TRIGGER", "PUBLICATION", "PUBLICATION TABLE", "PUBLICATION TABLES IN SCHEMA", "SUBSCRIPTION", "SUBSCRIPTION TABLE"];

export interface RestorePlan {
  /** 1. The role creates the schemas (nothing else yet exists in them). */
  schemas: TocEntry[];
  /** 2. The superuser creates the untrusted extensions the runner has (and their comments). */
  extensions: TocEntry[];
  /** 3. The role restores the rest. */
  rest: TocEntry[];
  /** Left out: EVENT TRIGGER, PUBLICATION, SUBSCRIPTION entries and their comments. */
  notChecked: TocEntry[];
}

/** `COMMENT - EXTENSION hstore`: a comment's name is `<type> <name>` of what it is on. */
function commentOn(entry: TocEntry, types: string[]): string | undefined {
  if (entry.type !== "COMMENT" && entry.type !== "SECURITY LABEL") return undefined;
  const on = [...types].sort((a, b) => b.length - a.length).find((t) => entry.name.startsWith(`${t} `));
  return on;
}

/**
 * Splits the entries: `superuserExtensions` are the untrusted extensions that the runner's server
 * has (a trusted one, like hstore, the role creates itself; a missing one fails in step 3 and is
 * reported there).
 */
export function planRestore(entries: TocEntry[], superuserExtensions: Set<string>): RestorePlan {
  const plan: RestorePlan = { schemas: [], extensions: [], rest: [], notChecked: [] };
  for (const entry of entries) {
    const on = commentOn(entry, [...SUPERUSER_ONLY, "EXTENSION"]);
    if (SUPERUSER_ONLY.includes(entry.type) || (on && on !== "EXTENSION")) plan.notChecked.push(entry);
    else if (entry.type === "SCHEMA") plan.schemas.push(entry);
    else if (entry.type === "EXTENSION" && superuserExtensions.has(entry.name)) plan.extensions.push(entry);
    else if (on === "EXTENSION" && superuserExtensions.has(entry.name.slice("EXTENSION ".length))) plan.extensions.push(entry);
    else plan.rest.push(entry);
  }
  return plan;
}

/** The extensions a dump creates, by name. */
export const extensionNames = (entries: TocEntry[]) => entries.filter((e) => e.type === "EXTENSION").map((e) => e.name);

/** `pg_restore -L` input: the chosen lines, in the archive's order. */
export const listFile = (entries: TocEntry[]) => `${entries.map((e) => e.line).join("\n")}\n`;
