import { parse } from "shell-quote";

/**
 * Splits `pg-dump-args` into argv words the way a shell would (quotes, backslashes), without
 * running a shell: no variable expansion, no globbing (`^pg_*` stays a pg_dump pattern), and shell
 * operators are refused because nothing would run them.
 */
export function parseWords(text: string): string[] {
  // A comment ends at the end of its line, as in a shell: shell-quote's runs to the end of the text.
  return text.split(/\r?\n/).flatMap(lineWords);
}

function lineWords(text: string): string[] {
  const words: string[] = [];
  for (const entry of parse(text, (name) => `$${name}`)) {
    if (typeof entry === "string") words.push(entry);
    else if ("op" in entry && entry.op === "glob") words.push(entry.pattern);
    else if ("comment" in entry) break;
    else throw new Error(`contains the shell operator "${"op" in entry ? entry.op : "?"}": pg-dump-args are pg_dump arguments, not a shell command.`);
  }
  return words;
}
