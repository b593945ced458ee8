import { type ParsedArgs, parseGetoptArgs } from "../postgres/pg-dump-options.js";
import { parseWords } from "../words.js";

// pg-restore-args as pg_restore reads them (getopt_long, its own option table), checked like
// pg-dump-args: what the action owns (the target, the transaction, the workers, the connection)
// is reserved, and a word that is not an option is refused.

/** Short options of pg_restore 15 to 18, from their getopt_long calls. */
const SHORT = "acCd:ef:F:h:I:j:lL:n:N:Op:P:RsS:t:T:U:vwWx1";

const flag = (short?: string) => ({ arg: false, ...(short ? { short } : {}) });
const value = (short?: string) => ({ arg: true, ...(short ? { short } : {}) });

const LONG: Record<string, { arg: boolean; short?: string }> = {
  "data-only": flag("a"),
  clean: flag("c"),
  create: flag("C"),
  dbname: value("d"),
  "exit-on-error": flag("e"),
  file: value("f"),
  format: value("F"),
  host: value("h"),
  index: value("I"),
  jobs: value("j"),
  list: flag("l"),
  "use-list": value("L"),
  schema: value("n"),
  "exclude-schema": value("N"),
  "no-owner": flag("O"),
  port: value("p"),
  function: value("P"),
  "no-reconnect": flag("R"),
  "schema-only": flag("s"),
  superuser: value("S"),
  table: value("t"),
  trigger: value("T"),
  username: value("U"),
  verbose: flag("v"),
  "no-password": flag("w"),
  password: flag("W"),
  "no-privileges": flag("x"),
  "no-acl": flag("x"),
  "single-transaction": flag("1"),
  help: flag(),
  version: flag(),
  "disable-triggers": flag(),
  "enable-row-security": flag(),
  "if-exists": flag(),
  "no-data-for-failed-tables": flag(),
  "no-tablespaces": flag(),
  role: value(),
  section: value(),
  "strict-names": flag(),
  "use-set-session-authorization": flag(),
  "no-comments": flag(),
  "no-data": flag(),
  "no-policies": flag(),
  "no-publications": flag(),
  "no-schema": flag(),
  "no-security-labels": flag(),
  "no-statistics": flag(),
  "no-subscriptions": flag(),
  "no-table-access-method": flag(),
  "statistics-only": flag(),
  "transaction-size": value(),
  filter: value(),
  "exclude-database": value(),
  "restrict-key": value(),
  "with-data": flag(),
  "with-schema": flag(),
  "with-statistics": flag(),
};

/** Owned by the action: the target and how it is written into (issue 22), and the connection. */
const RESERVED = new Set([
  "dbname",
  "file",
  "list",
  "use-list",
  "create",
  "clean",
  "single-transaction",
  "jobs",
  "host",
  "port",
  "username",
  "password",
  "no-password",
  "help",
  "version",
]);

/** What the action passes unless told otherwise: stop at the first error; the target's role owns everything. */
export const DEFAULT_PG_RESTORE_ARGS = "--exit-on-error --no-owner --no-privileges --no-tablespaces";

export function parsePgRestoreArgs(words: string[]): ParsedArgs {
  return parseGetoptArgs(words, { short: SHORT, long: LONG });
}

/** The words to pass to pg_restore, or throws why they cannot be. */
export function pgRestoreArgs(text: string): string[] {
  const words = parseWords(text.trim() || DEFAULT_PG_RESTORE_ARGS);
  const parsed = parsePgRestoreArgs(words);
  const taken = parsed.options.filter((o) => o.names.some((name) => RESERVED.has(name)));
  if (taken.length) {
    throw new Error(
      `${taken.map((o) => o.text).join(", ")} ${taken.length > 1 ? "are" : "is"} set by the action itself: the target comes from \`database\` and \`target-database-name\`, the transaction from \`confirm\`, the workers from \`jobs\` (-d, -f, -l, -L, -C, --clean, -1 and -j are reserved; the connection comes from Scalingo).`,
    );
  }
  if (parsed.operands.length) {
    throw new Error(
      `${parsed.operands.map((w) => `"${w}"`).join(" ")}: pg_restore reads a word that is not an option as the dump file; the dump comes from \`path\` or the artifact. Pass options only.`,
    );
  }
  return words;
}

/** Whether the arguments keep pg_restore going after an error (without --exit-on-error). */
export const exitsOnError = (words: string[]) => parsePgRestoreArgs(words).options.some((o) => o.names.includes("exit-on-error"));
