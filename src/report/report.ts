import type { Phase } from "../errors.js";
import type { RestoreReport } from "../restore-check/check.js";
import { settleInOrder } from "../runner/first-failure.js";
import type { RuleRecord } from "../scalingo/firewall-session.js";

/** A failure as the summary and the log's last line tell it (src/report/failure.ts). */
export interface Failure {
  phase: Phase;
  /** The action's own sentences: shown as text, wrapped. */
  text: string;
  /** Items under the text (each invalid input). */
  items?: string[];
  /** What a tool or a server said: shown verbatim in a code block. */
  detail?: string;
  /** What to do about it. */
  hint: string;
}

/** What a run did, filled in as it goes: the source of the outputs and the job summary. */
export interface Report extends RuleRecord {
  database: string;
  region: string;
  format: string;
  encrypted: boolean;
  runnerIp?: string;
  serverVersion?: string;
  pgDumpVersion?: string;
  /** What the dump was compressed with, and whether it was the default (postgres/compression.ts). */
  compression?: string;
  dumpPath?: string;
  /** Why each retry of pg_dump was needed (a lost connection), in order. */
  dumpRetries?: string[];
  dumpSize?: number;
  sha256?: string;
  verified?: string;
  /** What the restore check restored (verify: restore), once it passed. */
  restore?: RestoreReport;
  /** Set when verify is restore: false until the restore check passed. */
  restoreVerified?: boolean;
  artifactId?: number;
  artifactName?: string;
  artifactDigest?: string;
  artifactUrl?: string;
  /** The manifest beside the dump (src/manifest), and its artifact when uploaded. */
  manifestPath?: string;
  manifestArtifactName?: string;
  /** The S3 object (src/s3), its version on a versioned bucket, and what rotation removed. */
  s3Uri?: string;
  s3VersionId?: string;
  s3Deleted?: string[];
  publicRepository?: boolean;
  durationsMs: Partial<Record<Phase, number>>;
  failedPhase?: Phase;
  error?: string;
  /** The failure as the summary tells it (main fills it from the error). */
  failure?: Failure;
}

export function newReport(database: string, region: string, format: string, encrypted: boolean): Report {
  return { database, region, format, encrypted, durationsMs: {} };
}

/** The phase each error escaped from (the innermost phase() it crossed): who reports it later asks. */
const escapedFrom = new WeakMap<object, Phase>();

/** Runs one phase, timing it and recording it as the failed one if it throws. */
export async function phase<T>(report: Pick<Report, "failedPhase" | "durationsMs">, name: Phase, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await work();
  } catch (error) {
    const failed = (error as { phase?: Phase }).phase ?? name;
    report.failedPhase ??= failed;
    if (error && typeof error === "object" && !escapedFrom.has(error)) escapedFrom.set(error, failed);
    throw error;
  } finally {
    report.durationsMs[name] = (report.durationsMs[name] ?? 0) + Date.now() - started;
  }
}

/**
 * Phases started at once, each run to its end (runner/first-failure.ts, settleInOrder): nothing
 * they acquire is still being acquired when the caller's teardown runs. The error thrown is the
 * first one in the list that failed, and the report then names its phase: phase() alone would
 * keep the phase that failed first in time, and the summary would name one failure and tell another.
 */
export async function phasesAtOnce<T extends unknown[]>(report: Pick<Report, "failedPhase">, ...tasks: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  try {
    return await settleInOrder<T>(...tasks);
  } catch (error) {
    const failed = error && typeof error === "object" ? escapedFrom.get(error) : undefined;
    report.failedPhase = failed ?? (error as { phase?: Phase }).phase ?? report.failedPhase;
    throw error;
  }
}

/** Outputs as action.yml names them; only what is known. */
export function outputsOf(r: Report): Record<string, string> {
  const all: Record<string, string | number | boolean | undefined> = {
    "dump-path": r.dumpPath,
    "dump-size": r.dumpSize,
    "dump-sha256": r.sha256,
    "artifact-id": r.artifactId,
    "artifact-name": r.artifactName,
    "artifact-digest": r.artifactDigest,
    "artifact-url": r.artifactUrl,
    "runner-ip": r.runnerIp,
    "firewall-rule-id": r.ruleId,
    "server-version": r.serverVersion,
    "pg-dump-version": r.pgDumpVersion,
    "restore-verified": r.restoreVerified,
    "manifest-path": r.manifestPath,
    "manifest-artifact-name": r.manifestArtifactName,
    "s3-uri": r.s3Uri,
    "s3-version-id": r.s3VersionId,
    "s3-deleted": r.s3Deleted ? JSON.stringify(r.s3Deleted) : undefined,
    tables: r.restore?.tables.length,
    rows: r.restore?.rows,
  };
  return Object.fromEntries(
    Object.entries(all)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, String(v)]),
  );
}

/** The log's last word on a good night: where the backup is kept, then the runner's copy. */
export function doneLine(r: Report): string {
  const size = `${r.dumpSize} bytes, sha256 ${r.sha256}`;
  if (!r.artifactName) return `Backup done: ${r.dumpPath} (${size}); not uploaded (\`upload: false\`).`;
  const link = r.artifactUrl ? ` ${r.artifactUrl}` : ` (id ${r.artifactId})`;
  return `Backup done: artifact ${r.artifactName}${link} (${size}); the runner's copy: ${r.dumpPath}.`;
}
