import { DEFAULT_PG_DUMP_ARGS } from "../constants.js";
import { parseWords } from "../words.js";
import { type ParsedOption, parsePgDumpArgs } from "./pg-dump-options.js";

// `pg-dump-args` replaces the default arguments (the seed), so that a user can drop one on
// purpose (`--clean` cannot go with `--data-only`); `pg-dump-extra-args` adds to them. A user who
// set `pg-dump-args` to add one option often drops the seed by mistake: each seed flag missing
// from it is named, so the log says what changed.

/** An option as pg_dump reads it: its long name and its value, however it was written. */
function canonical(option: ParsedOption): string {
  const name = option.names.length === 1 ? option.names[0] : option.names.join("|");
  const value = /^--?[^=\s]+(?:=|\s)(.*)$/s.exec(option.text)?.[1] ?? (/^-[A-Za-z](.+)$/s.exec(option.text)?.[1] || "");
  return value ? `${name}=${value}` : name;
}

/** Flags the seed holds that `--data-only` (or its short form) cannot go with. */
const DATA_ONLY_CONFLICTS = new Set(["clean", "if-exists"]);

/** The seed's words missing from a replacing `pg-dump-args`, leaving out those its own options exclude. */
export function missingSeedFlags(words: string[]): string[] {
  const given = parsePgDumpArgs(words).options;
  const have = new Set(given.map(canonical));
  const dataOnly = given.some((o) => o.names.includes("data-only"));
  const seedWords = parseWords(DEFAULT_PG_DUMP_ARGS);
  return parsePgDumpArgs(seedWords)
    .options.filter((o) => !have.has(canonical(o)))
    .filter((o) => !(dataOnly && o.names.some((n) => DATA_ONLY_CONFLICTS.has(n))))
    .map((o) => o.text);
}
