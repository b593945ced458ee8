import { mkdtemp } from "node:fs/promises";
import * as path from "node:path";
import { ActionError } from "../errors.js";
import { compressionMethod, type DumpFormat } from "../naming.js";
import { decompressedPlain } from "../postgres/verify.js";
import { type CommandRunner, runCommand } from "../runner/commands.js";
import { removeQuietly } from "../runner/files.js";
import { createRestoreRole, type NotChecked, type RestoredTable, restoreDump, restoredTables, withDatabaseSize } from "./restore.js";
import type { CountedTable } from "./row-counts.js";
import type { ThrowawayServer } from "./throwaway-server.js";
import { type DumpedTable, dumpedTables } from "./toc.js";

/** What the restore check proved, for the outputs and the job summary. */
export interface RestoreReport {
  /** Every restored table with its exact rows, largest first. */
  tables: RestoredTable[];
  rows: number;
  /** pg_database_size of the restored database */
  bytes: number;
  durationMs: number;
  /** Tables whose rows were compared with pg_dump's snapshot (verify-row-counts), else undefined. */
  compared?: number;
  /** Entries a role without SUPERUSER cannot restore, left out (EVENT TRIGGER, PUBLICATION, SUBSCRIPTION). */
  notChecked: NotChecked[];
}

const DATABASE = "restore_check";
const MAX_PROBLEMS = 20;

export const qualified = (t: { schema: string; name: string }) => `${t.schema}.${t.name}`;

/**
 * Restores the dump into the throwaway server, counts every restored table, and with `counted`
 * (the production counts in pg_dump's snapshot) compares each dumped table: any difference fails.
 */
export async function restoreCheck(o: {
  format: DumpFormat;
  /** A plain dump's compression: psql reads it decompressed. */
  compress?: string | undefined;
  source: string;
  /** pg_dump's folder: pg_restore and psql of the same major */
  clientDir: string;
  server: ThrowawayServer;
  jobs: number;
  counted?: CountedTable[];
  run?: CommandRunner;
  /** Files and folders to remove if the run is cancelled (the session's). */
  partial?: Set<string>;
}): Promise<RestoreReport> {
  const started = Date.now();
  if (o.format !== "plain" || compressionMethod(o.compress) === "none") return restoreAndCount(o, started);
  // psql reads a plaintext copy: in a folder of its own that cannot exist yet, so no file beside the
  // dump (a user's, a previous run's) is ever overwritten or deleted; `partial` lets a cancelled
  // run remove it too.
  const scratch = await mkdtemp(path.join(path.dirname(o.source), ".scalingo-pg-dump-restore-"));
  o.partial?.add(scratch);
  try {
    const source = await decompressedPlain(o.source, o.compress, path.join(scratch, "dump.sql"), o.run ?? runCommand);
    return await restoreAndCount({ ...o, source }, started);
  } finally {
    await removeQuietly(scratch);
    o.partial?.delete(scratch);
  }
}

async function restoreAndCount(o: Parameters<typeof restoreCheck>[0], started: number): Promise<RestoreReport> {
  // Read before restoring: a dump whose table of contents is unreadable fails here, in a second.
  const dumped = o.counted ? await dumpedTables(o.format, o.source, o.clientDir, o.run) : undefined;
  await createRestoreRole(o.server, o.server.role, DATABASE);
  const notChecked = await restoreDump({
    format: o.format,
    source: o.source,
    binDir: o.clientDir,
    server: o.server,
    role: o.server.role,
    database: DATABASE,
    jobs: o.jobs,
    run: o.run,
  });
  const tables = await restoredTables(o.server, DATABASE, o.jobs);
  const bytes = await withDatabaseSize(o.server, DATABASE);
  const report: RestoreReport = { tables: sortedForReport(tables), rows: tables.reduce((n, t) => n + t.rows, 0), bytes, durationMs: 0, notChecked };
  if (o.counted && dumped) {
    const { problems, compared } = compareCounts(dumped, o.counted, tables);
    if (problems.length) {
      const shown = problems.slice(0, MAX_PROBLEMS).join("\n");
      const more = problems.length > MAX_PROBLEMS ? `\n... and ${problems.length - MAX_PROBLEMS} more.` : "";
      throw new ActionError("restore", `The restored dump does not hold the rows pg_dump read (${problems.length} table(s)):\n${shown}${more}`);
    }
    report.compared = compared;
  }
  report.durationMs = Date.now() - started;
  return report;
}

/** Largest first by rows, then by size and name: the order the summary shows. */
export function sortedForReport(tables: RestoredTable[]): RestoredTable[] {
  return [...tables].sort((a, b) => b.rows - a.rows || b.bytes - a.bytes || qualified(a).localeCompare(qualified(b)));
}

/**
 * Each dumped table's rows in pg_dump's snapshot against the restored copy. Archive dumps name
 * tables by their OID on the production server, plain dumps by name.
 */
export function compareCounts(dumped: DumpedTable[], counted: CountedTable[], restored: RestoredTable[]): { problems: string[]; compared: number } {
  const byOid = new Map(counted.map((t) => [t.oid, t]));
  const byName = new Map(counted.map((t) => [qualified(t), t]));
  const restoredByName = new Map(restored.map((t) => [qualified(t), t]));
  const problems: string[] = [];
  let compared = 0;
  for (const entry of dumped) {
    const source = "oid" in entry ? byOid.get(entry.oid) : byName.get(qualified(entry));
    const label = source ? qualified(source) : "oid" in entry ? `table with OID ${entry.oid}` : qualified(entry);
    if (!source || source.rows === undefined) {
      problems.push(`${label}: its rows are in the dump but could not be counted in pg_dump's snapshot${source?.error ? ` (${source.error})` : ""}.`);
      continue;
    }
    const copy = restoredByName.get(qualified(source));
    if (!copy) problems.push(`${label}: ${source.rows} row(s) in pg_dump's snapshot, but the table is missing from the restored database.`);
    else if (copy.rows !== source.rows) problems.push(`${label}: ${source.rows} row(s) in pg_dump's snapshot, ${copy.rows} restored.`);
    else compared++;
  }
  return { problems, compared };
}
