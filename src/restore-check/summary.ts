import { formatCount as count, formatBytes } from "../report/format.js";
import type { Report } from "../report/report.js";
import type { NotChecked, RestoredTable } from "./restore.js";

/** Tables shown before the rest is folded into a <details> block. */
const SHOWN = 20;

/**
 * Table names are the user's: any character may be in them. Inside a table cell, backslash-escape
 * what inline Markdown reads (a `|` would split the cell, `*`, `_`, `~` and backticks would format,
 * brackets would link), and entity-escape `&` and `<` so nothing becomes HTML.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\r\n\t]/g, " ")
    .replace(/[\\`*_[\]|~]/g, "\\$&")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;");
}

function tableRows(tables: RestoredTable[]): string[] {
  return [
    "| Table | Rows | Size |",
    "|---|---:|---:|",
    ...tables.map((t) => `| ${escapeMarkdown(`${t.schema}.${t.name}`)} | ${count(t.rows)} | ${formatBytes(t.bytes)} |`),
  ];
}

/** What the restore check restored: each table with its rows, largest first, a long list folded. */
export function restoreSection(r: Report): string[] {
  const restore = r.restore;
  if (!restore) return [];
  const proof =
    restore.compared === undefined
      ? ""
      : ` Row counts: each of the ${count(restore.compared)} dumped table(s) holds exactly the rows pg_dump read (counted in its own snapshot).`;
  const lines = [
    "### Restore check",
    "",
    `Restored into a throwaway PostgreSQL server in ${(restore.durationMs / 1000).toFixed(1)} s: ${count(restore.tables.length)} table(s), ${count(restore.rows)} row(s), ${formatBytes(restore.bytes)} on disk.${proof}`,
    "",
  ];
  lines.push(...notCheckedLines(restore.notChecked ?? []));
  if (!restore.tables.length) return lines;
  lines.push(...tableRows(restore.tables.slice(0, SHOWN)), "");
  const rest = restore.tables.slice(SHOWN);
  if (rest.length) lines.push("<details>", `<summary>${count(rest.length)} more table(s)</summary>`, "", ...tableRows(rest), "", "</details>", "");
  return lines;
}

/** What a role without SUPERUSER cannot restore and the check left out: said, never silently skipped. */
function notCheckedLines(entries: NotChecked[]): string[] {
  if (!entries.length) return [];
  const items = entries.slice(0, SHOWN).map((e) => `- ${escapeMarkdown(`${e.type} ${e.schema === "-" ? "" : `${e.schema}.`}${e.name}`)}`);
  if (entries.length > SHOWN) items.push(`- ... and ${count(entries.length - SHOWN)} more`);
  return [
    `Not checked: ${count(entries.length)} object(s) only a superuser can create, which the restore check leaves out (it restores as a role without SUPERUSER, see the README's security notes):`,
    "",
    ...items,
    "",
  ];
}
