import type { Phase } from "../errors.js";
import type { RuleRecord } from "../scalingo/firewall-session.js";

/** What a restore run did, filled in as it goes: the source of the outputs and the job summary. */
export interface RestoreRun extends RuleRecord {
  database: string;
  region: string;
  /** Where the dump came from, in words (a path, an artifact and its run). */
  source?: string;
  dumpName?: string;
  format?: string;
  encrypted?: boolean;
  sha256?: string;
  /** Whether the sha256 was compared with a manifest's (no manifest: not checked). */
  sha256Checked?: boolean;
  dumpMajor?: number;
  serverVersion?: string;
  pgRestoreVersion?: string;
  runnerIp?: string;
  /** The database restored into, and whether this run created it (and dropped it, for drills). */
  target?: string;
  created?: boolean;
  dropped?: boolean;
  tables?: number;
  rows?: number;
  /** Tables whose rows were compared with the manifest's, when they were. */
  compared?: number;
  restoreMs?: number;
  durationsMs: Partial<Record<Phase, number>>;
  failedPhase?: Phase;
  error?: string;
}

export function ruleOpenMs(r: RestoreRun): number | undefined {
  return r.ruleCreated && r.ruleAddedAt && r.ruleRemovedAt ? r.ruleRemovedAt.getTime() - r.ruleAddedAt.getTime() : undefined;
}

/** Outputs as restore/action.yml names them; only what is known. */
export function restoreOutputs(r: RestoreRun): Record<string, string> {
  const open = ruleOpenMs(r);
  const all: Record<string, string | number | undefined> = {
    "restored-database": r.target && !r.failedPhase ? r.target : undefined,
    tables: r.tables,
    rows: r.rows,
    "restore-seconds": r.restoreMs === undefined ? undefined : (r.restoreMs / 1000).toFixed(1),
    "rule-open-seconds": open === undefined ? undefined : (open / 1000).toFixed(1),
  };
  return Object.fromEntries(
    Object.entries(all)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, String(v)]),
  );
}
