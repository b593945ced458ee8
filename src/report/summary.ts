import type { Phase } from "../errors.js";
import { restoreSection } from "../restore-check/summary.js";
import { formatBytes } from "./format.js";
import type { Report } from "./report.js";

const PHASE_LABELS: [Phase, string][] = [
  ["scalingo", "Scalingo API"],
  ["ip-lookup", "IP lookup"],
  ["firewall", "Firewall rule"],
  ["pg-dump-client", "pg_dump client"],
  ["restore-server", "Restore server"],
  ["reachability", "Wait for database"],
  ["dump", "Dump"],
  ["compress", "Compress (rule removed)"],
  ["verify", "Verify"],
  ["restore", "Restore check"],
  ["pack", "Pack (tar)"],
  ["encrypt", "Encrypt"],
  ["upload", "Upload"],
];

/** What to look at when a phase fails: the summary is often read without the log. */
const ADVICE: Record<Phase, string> = {
  inputs: "Fix the inputs named in the error; nothing was contacted.",
  scalingo: "Check the `api-token` secret, the `database` ID and the `region`.",
  "ip-lookup": "Set `runner-ip`, or `ip-lookup-urls` to services reachable from the runner.",
  firewall: "Check the database's firewall rules in the dashboard (at most 30); remove unused ones.",
  "pg-dump-client": "Install the pg_dump of the server's major before this step, or set `pg-dump-version`.",
  "restore-server": "`verify: restore` needs a PostgreSQL server of the dump's major on the runner: install it before this step, or use `verify: list`.",
  reachability: "Check the rule's IP is the runner's egress address and raise `reachable-timeout`.",
  dump: "Read pg_dump's message above; check free disk space and the database's status.",
  compress: "Check free disk space: each data file is compressed beside itself, then removed.",
  verify: "The dump could not be read back: it was not uploaded. Run again.",
  restore:
    "The dump did not restore, or not with every row: it was not uploaded. Read the error above; an object depending on something excluded by `pg-dump-args` fails the restore.",
  pack: "Check free disk space: the tar needs as much again as the dump directory.",
  encrypt: "Check `encryption-recipients` and free disk space.",
  upload: "Check the artifact name is unique in the run and the retention is allowed by the repository.",
};

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function ruleLifetime(r: Report): string {
  if (!r.ruleCreated) return r.ruleId ? "an existing rule was reused and left in place" : "no rule was added";
  const added = r.ruleAddedAt?.toISOString() ?? "?";
  if (!r.ruleRemovedAt || !r.ruleAddedAt) return `added ${added}, **not removed by this step** (the post step removes it)`;
  const openMs = r.ruleRemovedAt.getTime() - r.ruleAddedAt.getTime();
  return `added ${added}, removed ${r.ruleRemovedAt.toISOString()}: open ${seconds(openMs)}${exposureParts(openMs, r)}`;
}

/**
 * What the rule's lifetime is made of: the wait for it to apply, pg_dump's own run, and the rest
 * (the exposure overhead: the action's own steps while the database is open to this address).
 */
function exposureParts(openMs: number, r: Report): string {
  const wait = r.durationsMs.reachability;
  const dump = r.durationsMs.dump;
  if (wait === undefined || dump === undefined) return "";
  return ` (wait for the database ${seconds(wait)}, pg_dump ${seconds(dump)}, exposure overhead ${seconds(Math.max(0, openMs - wait - dump))})`;
}

/** The job summary as Markdown. */
export function summaryMarkdown(r: Report): string {
  const ok = !r.failedPhase;
  const rows: [string, string | undefined][] = [
    ["Database", `\`${r.database}\` (${r.region})`],
    ["Server version", r.serverVersion],
    ["pg_dump version", r.pgDumpVersion],
    ["Format", r.format],
    ["Compression", r.compression],
    ["Size", r.dumpSize === undefined ? undefined : formatBytes(r.dumpSize)],
    ["sha256", r.sha256 && `\`${r.sha256}\``],
    ["Verified", r.verified],
    ["Encrypted", r.encrypted ? "yes (age)" : "no"],
    ["Artifact", r.artifactName && (r.artifactUrl ? `[${r.artifactName}](${r.artifactUrl})` : `${r.artifactName} (id ${r.artifactId})`)],
    ["Manifest", r.manifestPath && `\`${r.manifestPath}\`${r.manifestArtifactName ? ` (artifact ${r.manifestArtifactName})` : ""}`],
    ["Runner IP", r.runnerIp],
    ["Firewall rule", ruleLifetime(r)],
  ];
  const lines = [`## ${ok ? "✅" : "❌"} Scalingo PostgreSQL backup ${ok ? "succeeded" : "failed"}`, ""];
  if (!ok && r.failedPhase) {
    lines.push(`**Failed during: ${PHASE_LABELS.find(([p]) => p === r.failedPhase)?.[1] ?? r.failedPhase}.** ${ADVICE[r.failedPhase]}`, "");
    if (r.error) lines.push(...codeBlock(r.error), "");
  }
  if (r.publicRepository && !r.encrypted && ok) {
    lines.push("> [!WARNING]", "> This repository is public: anyone signed in to GitHub can download this unencrypted dump. Set `encryption-recipients`.", "");
  }
  lines.push("| | |", "|---|---|", ...rows.filter(([, v]) => v).map(([k, v]) => `| ${k} | ${tableCell(v as string)} |`), "");
  lines.push(...restoreSection(r));
  const timed = PHASE_LABELS.filter(([p]) => r.durationsMs[p] !== undefined);
  if (timed.length) {
    lines.push("| Phase | Duration |", "|---|---|", ...timed.map(([p, label]) => `| ${label} | ${seconds(r.durationsMs[p] as number)} |`), "");
  }
  return lines.join("\n");
}

/**
 * Error text comes from pg_dump, servers and APIs: in a fence longer than any run of backticks it
 * holds, none of it (```, |, #, <html>) is read as Markdown and the block cannot be closed early.
 */
export function codeBlock(text: string): string[] {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return [fence, text.replace(/\r\n?/g, "\n"), fence];
}

/** A value from a server (a version, a name) must stay in its cell: no pipe, no line break. */
export function tableCell(value: string): string {
  return value.replace(/\|/g, "\\|").replace(/[\r\n]+/g, " ");
}
