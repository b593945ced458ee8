import type { Phase } from "../errors.js";
import { restoreSection } from "../restore-check/summary.js";
import { describeFailure, type Failure } from "./failure.js";
import { formatBytes } from "./format.js";
import type { Report } from "./report.js";

const PHASE_LABELS: [Phase, string][] = [
  ["inputs", "Inputs"],
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
  ["download", "Download"],
  ["s3", "S3"],
];

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
  // Every attempt counts: a retried dump kept the rule open for each one, and for each wait in between.
  const attempts = (r.dumpRetries?.length ?? 0) + 1;
  const over = attempts > 1 ? ` over ${attempts} attempts` : "";
  return ` (wait for the database ${seconds(wait)}, pg_dump ${seconds(dump)}${over}, exposure overhead ${seconds(Math.max(0, openMs - wait - dump))})`;
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
    ["Dump retries", r.dumpRetries?.length ? `${r.dumpRetries.length} (pg_dump lost its connection: ${r.dumpRetries.join("; ")})` : undefined],
    ["Verified", r.verified],
    ["Encrypted", r.encrypted ? "yes (age)" : "no"],
    ["Artifact", r.artifactName && (r.artifactUrl ? `[${r.artifactName}](${r.artifactUrl})` : `${r.artifactName} (id ${r.artifactId})`)],
    ["Manifest", r.manifestPath && `\`${r.manifestPath}\`${r.manifestArtifactName ? ` (artifact ${r.manifestArtifactName})` : ""}`],
    ["S3", r.s3Uri && `\`${r.s3Uri}\`${r.s3VersionId ? ` (version ${r.s3VersionId})` : ""}`],
    ["S3 rotation", r.s3Deleted && `${r.s3Deleted.length} object(s) deleted`],
    ["Runner IP", r.runnerIp],
    ["Firewall rule", ruleLifetime(r)],
  ];
  const lines = [`## ${ok ? "✅" : "❌"} Scalingo PostgreSQL backup ${ok ? "succeeded" : "failed"}`, ""];
  if (!ok && r.failedPhase) lines.push(...failureSection(r.failure ?? describeFailure(new Error(r.error ?? "unknown error"), r.failedPhase)));
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

/** The action's words as text, what a tool said in a code block, then what to do. */
function failureSection(f: Failure): string[] {
  const label = PHASE_LABELS.find(([p]) => p === f.phase)?.[1] ?? f.phase;
  const lines = [`**Failed during: ${label}.** ${markdownText(f.text)}`, ""];
  if (f.items?.length) lines.push(...f.items.map((item) => `- ${markdownText(item)}`), "");
  if (f.detail) lines.push(...codeBlock(f.detail), "");
  if (!f.text.includes(f.hint)) lines.push(`**What to do:** ${markdownText(f.hint)}`, "");
  return lines;
}

/**
 * The action's own sentences hold values from elsewhere (a server's message, a name): outside
 * their code spans, what Markdown reads as emphasis, links, HTML, math or entities is escaped, and
 * so is whatever would open a block at a line's start (heading, list, quote); the spans (input
 * names, commands) stay code. Lines end in hard breaks.
 */
export function markdownText(text: string): string {
  const inline = (part: string) => part.replace(/[\\`*_[\]<>&|~$]/g, "\\$&");
  const lineStart = (line: string) =>
    line.replace(/^(\s*)([#+\-=>]|\d+[.)])/, (_m, space: string, mark: string) => `${space}${mark.replace(/[#+\-=>.)]/, "\\$&")}`);
  return text
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((line) =>
      lineStart(
        line
          .split(/(`[^`]+`)/g)
          .map((part, i) => (i % 2 ? part : inline(part)))
          .join(""),
      ),
    )
    .join("\\\n");
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
