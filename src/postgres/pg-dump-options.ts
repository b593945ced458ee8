// pg-dump-args as pg_dump itself reads them: getopt_long, with pg_dump's own option table. A
// plain prefix check misses what getopt accepts: an unambiguous abbreviation (`--fil=/tmp/x`), a
// group of short options (`-vZ9`, `-Fp`), an argument in the next word (`-f /tmp/x`), and a
// non-option word, which pg_dump takes as the database name or a whole connection string.

/** Short options of pg_dump 15 to 18 (`:` = takes an argument), from their getopt_long calls; `-V` and `-?` it reads before. */
const SHORT = "abBcCd:e:E:f:F:h:j:n:N:Op:RsS:t:T:U:vwWxXZ:V?";

/** Long options of pg_dump 15 to 18 (the union: a name one version lacks is refused by it), with their argument. */
const LONG: Record<string, { arg: boolean; short?: string }> = {
  "data-only": { arg: false, short: "a" },
  blobs: { arg: false, short: "b" },
  "large-objects": { arg: false, short: "b" },
  "no-blobs": { arg: false, short: "B" },
  "no-large-objects": { arg: false, short: "B" },
  clean: { arg: false, short: "c" },
  create: { arg: false, short: "C" },
  dbname: { arg: true, short: "d" },
  extension: { arg: true, short: "e" },
  file: { arg: true, short: "f" },
  format: { arg: true, short: "F" },
  host: { arg: true, short: "h" },
  jobs: { arg: true, short: "j" },
  "no-reconnect": { arg: false, short: "R" },
  "no-owner": { arg: false, short: "O" },
  port: { arg: true, short: "p" },
  schema: { arg: true, short: "n" },
  "exclude-schema": { arg: true, short: "N" },
  "schema-only": { arg: false, short: "s" },
  superuser: { arg: true, short: "S" },
  table: { arg: true, short: "t" },
  "exclude-table": { arg: true, short: "T" },
  "no-password": { arg: false, short: "w" },
  password: { arg: false, short: "W" },
  username: { arg: true, short: "U" },
  verbose: { arg: false, short: "v" },
  "no-privileges": { arg: false, short: "x" },
  "no-acl": { arg: false, short: "x" },
  compress: { arg: true, short: "Z" },
  encoding: { arg: true, short: "E" },
  help: { arg: false, short: "?" },
  version: { arg: false, short: "V" },
  "attribute-inserts": { arg: false },
  "binary-upgrade": { arg: false },
  "column-inserts": { arg: false },
  "disable-dollar-quoting": { arg: false },
  "disable-triggers": { arg: false },
  "enable-row-security": { arg: false },
  "exclude-table-data": { arg: true },
  "extra-float-digits": { arg: true },
  "if-exists": { arg: false },
  inserts: { arg: false },
  "lock-wait-timeout": { arg: true },
  "no-table-access-method": { arg: false },
  "no-tablespaces": { arg: false },
  "quote-all-identifiers": { arg: false },
  "load-via-partition-root": { arg: false },
  role: { arg: true },
  section: { arg: true },
  "serializable-deferrable": { arg: false },
  snapshot: { arg: true },
  "statistics-only": { arg: false },
  "strict-names": { arg: false },
  "use-set-session-authorization": { arg: false },
  "no-comments": { arg: false },
  "no-data": { arg: false },
  "no-policies": { arg: false },
  "no-publications": { arg: false },
  "no-schema": { arg: false },
  "no-security-labels": { arg: false },
  "no-statistics": { arg: false },
  "no-subscriptions": { arg: false },
  "no-toast-compression": { arg: false },
  "no-unlogged-table-data": { arg: false },
  "no-sync": { arg: false },
  "on-conflict-do-nothing": { arg: false },
  "rows-per-insert": { arg: true },
  "include-foreign-data": { arg: true },
  "table-and-children": { arg: true },
  "exclude-table-and-children": { arg: true },
  "exclude-table-data-and-children": { arg: true },
  "sync-method": { arg: true },
  filter: { arg: true },
  "exclude-extension": { arg: true },
  "restrict-key": { arg: true },
  "with-data": { arg: false },
  "with-schema": { arg: false },
  "with-statistics": { arg: false },
  "sequence-data": { arg: false },
};

export interface ParsedOption {
  /** The long name it resolves to (`file` for `-f`, `--fil`), or every name an ambiguous abbreviation could be. */
  names: string[];
  /** The words that make it, e.g. `-f /tmp/x` or `--fil=/tmp/x`. */
  text: string;
}

export interface ParsedArgs {
  options: ParsedOption[];
  /** Words pg_dump would take as the database name or connection string, or reject. */
  operands: string[];
}

/** A program's getopt_long table: short letters (`:` = takes an argument) and long names. */
export interface OptionTable {
  short: string;
  long: Record<string, { arg: boolean; short?: string }>;
}

export function parsePgDumpArgs(words: string[]): ParsedArgs {
  return parseGetoptArgs(words, { short: SHORT, long: LONG });
}

/**
 * Every option pg_dump would see, as getopt_long reads them: `--name[=value]` where name may be
 * any unambiguous prefix (an exact name wins); grouped short options up to the first that takes an
 * argument, which is the rest of the word or the next word. Everything after `--` is an operand.
 */
export function parseGetoptArgs(words: string[], table: OptionTable): ParsedArgs {
  const { short: SHORT, long: LONG } = table;
  const longNameOf = (short: string) => Object.keys(LONG).find((name) => LONG[name]?.short === short) ?? short;
  const options: ParsedOption[] = [];
  const operands: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (word === "--") {
      operands.push(...words.slice(i + 1));
      break;
    }
    if (word.startsWith("--")) {
      const [written, ...value] = word.slice(2).split("=");
      const names = LONG[written] ? [written] : Object.keys(LONG).filter((name) => name.startsWith(written));
      // Several names for one option (blobs/large-objects) are one option: getopt takes either.
      const takesArg = names.length > 0 && names.every((name) => LONG[name].arg);
      const separate = takesArg && value.length === 0 && i + 1 < words.length;
      options.push({ names: names.length ? names : [written], text: separate ? `${word} ${words[++i]}` : word });
      continue;
    }
    if (word.startsWith("-") && word.length > 1) {
      for (let j = 1; j < word.length; j++) {
        const letter = word[j];
        const at = SHORT.indexOf(letter);
        const takesArg = at >= 0 && SHORT[at + 1] === ":";
        if (!takesArg) {
          options.push({ names: [longNameOf(letter)], text: `-${letter}` });
          continue;
        }
        const inWord = j + 1 < word.length;
        const text = inWord ? `-${word.slice(j)}` : i + 1 < words.length ? `-${letter} ${words[++i]}` : `-${letter}`;
        options.push({ names: [longNameOf(letter)], text });
        break;
      }
      continue;
    }
    operands.push(word);
  }
  return { options, operands };
}

/** What the action sets itself: where the file goes, its format, and where the connection comes from. */
const RESERVED = new Set(["file", "format", "jobs", "dbname", "host", "port", "username", "password", "no-password", "compress"]);

/** Options that make pg_dump print something and exit 0 without dumping: the "dump" would be empty. */
const NO_DUMP = new Set(["help", "version"]);

/**
 * Why these arguments cannot be passed to pg_dump, or undefined. An abbreviation is refused when
 * any option it could stand for is reserved: pg_dump versions differ, and one with fewer options
 * may resolve it to the reserved one.
 */
export function reservedArgsProblem(parsed: ParsedArgs): string | undefined {
  const noDump = parsed.options.filter((o) => o.names.some((name) => NO_DUMP.has(name)));
  if (noDump.length) {
    return `${noDump.map((o) => o.text).join(", ")} ${noDump.length > 1 ? "print" : "prints"} pg_dump's version or help instead of dumping: remove ${noDump.length > 1 ? "them" : "it"}.`;
  }
  const taken = parsed.options.filter((o) => o.names.some((name) => RESERVED.has(name)));
  if (taken.length) {
    return `${taken.map((o) => o.text).join(", ")} ${taken.length > 1 ? "are" : "is"} set by the action itself: use the \`format\`, \`jobs\`, \`compress\` and \`path\` inputs instead (the connection comes from Scalingo).`;
  }
  if (parsed.operands.length) {
    return `${parsed.operands.map((w) => `"${w}"`).join(" ")}: pg_dump reads a word that is not an option as the database name or a connection string; the connection comes from Scalingo. Pass options only (an option's value goes after = or in the next word).`;
  }
  return undefined;
}

/** `--snapshot`, however written. */
export const setsSnapshot = (parsed: ParsedArgs) => parsed.options.some((o) => o.names.includes("snapshot"));

/**
 * `--enable-row-security`, however abbreviated (`--enable-row`): the row counts must read the rows
 * pg_dump reads, so they use the same setting. An ambiguous abbreviation is refused by pg_dump itself.
 */
export const enablesRowSecurity = (parsed: ParsedArgs) => parsed.options.some((o) => o.names.length === 1 && o.names[0] === "enable-row-security");
