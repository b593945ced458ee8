import type { Phase } from "../errors.js";
import { formatCount as count } from "../report/format.js";
import { codeBlock, tableCell } from "../report/summary.js";
import { type RestoreRun, ruleOpenMs } from "./run-report.js";

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** What to look at when a phase of the restore fails: the summary is often read without the log. */
const ADVICE: Partial<Record<Phase, string>> = {
  inputs: "Fix what the error names; the firewall was not opened.",
  download:
    "Check `run-id` (or `workflow`), `artifact-name`, and that `github-token` may read the repository's actions (`permissions: actions: read`). The firewall was not opened.",
  scalingo: "Check the `api-token` secret, the `database` ID and the `region`.",
  "ip-lookup": "Set `runner-ip`, or `ip-lookup-urls` to services reachable from the runner.",
  firewall: "Check the database's firewall rules in the dashboard (at most 30); remove unused ones.",
  "pg-dump-client": "Install the PostgreSQL client of the dump's major before this step.",
  reachability: "Check the rule's IP is the runner's egress address and raise `reachable-timeout`.",
  restore: "Read the error: a fresh database is left for inspection (drop it when done); a named target is unchanged.",
  verify: "The restored database does not hold the manifest's rows: do not switch over to it.",
};

function ruleLine(r: RestoreRun): string | undefined {
  if (!r.ruleCreated) return r.ruleId ? "an existing rule was reused and left in place" : "no rule was added";
  const open = ruleOpenMs(r);
  return open === undefined ? "added, **not removed by this step** (the post step removes it)" : `added and removed: open ${seconds(open)}`;
}

function targetLine(r: RestoreRun): string | undefined {
  if (!r.target) return undefined;
  if (r.dropped) return `\`${r.target}\` (created, checked, dropped: drop-after)`;
  return `\`${r.target}\`${r.created ? " (created by this run)" : " (restored over, in one transaction)"}`;
}

/** The restore's job summary as Markdown: no row value ever, only names and numbers. */
export function restoreSummaryMarkdown(r: RestoreRun): string {
  const ok = !r.failedPhase;
  const rows: [string, string | undefined][] = [
    ["Database", `\`${r.database}\` (${r.region})`],
    ["Server version", r.serverVersion],
    ["Dump", r.dumpName && `${tableCell(r.dumpName)}${r.source ? ` from ${tableCell(r.source)}` : ""}`],
    ["Format", r.format && `${r.format}${r.encrypted ? ", encrypted (age)" : ""}`],
    ["sha256", r.sha256 && `\`${r.sha256}\` ${r.sha256Checked ? "(matches the manifest)" : "(no manifest: not checked)"}`],
    ["pg_restore version", r.pgRestoreVersion],
    ["Restored into", targetLine(r)],
    [
      "Tables, rows",
      r.tables === undefined
        ? undefined
        : `${count(r.tables)} table(s), ${count(r.rows ?? 0)} row(s)${r.compared !== undefined ? `: each of the ${count(r.compared)} table(s) in the manifest holds exactly its rows` : ""}`,
    ],
    ["Restore time", r.restoreMs === undefined ? undefined : seconds(r.restoreMs)],
    ["Runner IP", r.runnerIp],
    ["Firewall rule", ruleLine(r)],
  ];
  const lines = [`## ${ok ? "✅" : "❌"} Scalingo PostgreSQL restore ${ok ? "succeeded" : "failed"}`, ""];
  if (!ok && r.failedPhase) {
    lines.push(`**Failed during: ${r.failedPhase}.** ${ADVICE[r.failedPhase] ?? ""}`, "");
    if (r.error) lines.push(...codeBlock(r.error), "");
  }
  lines.push("| | |", "|---|---|", ...rows.filter(([, v]) => v).map(([k, v]) => `| ${k} | ${tableCell(v as string)} |`), "");
  return lines.join("\n");
}
