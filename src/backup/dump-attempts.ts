import type { Config } from "../config.js";
import { State } from "../constants.js";
import { formatDuration } from "../duration.js";
import { ActionError, errorMessage } from "../errors.js";
import { type Connection, libpqEnv } from "../postgres/connection.js";
import { connectionLost, lostReason } from "../postgres/connection-lost.js";
import { type DumpRun, pgDumpArgs, startPgDump } from "../postgres/pg-dump.js";
import { enablesRowSecurity, parsePgDumpArgs } from "../postgres/pg-dump-options.js";
import { type Reachable, waitUntilReachable } from "../postgres/reachability.js";
import { phase, type Report } from "../report/report.js";
import { type CountedTable, openSnapshot } from "../restore-check/row-counts.js";
import { removeQuietly } from "../runner/files.js";
import { recordWriter } from "../runner/process-record.js";
import type { Log, StateStore } from "../types.js";
import { createOwned } from "./dump-files.js";
import type { Session } from "./session.js";

// pg_dump, started again from scratch when its connection was lost: Scalingo restarts databases
// for maintenance and fails the high-availability ones over to their standby, both at night, both
// cutting every session; the database answers again seconds later, and the rule is still open.

/** The parts of the run's session an attempt sets and reads; what it starts is on the teardown. */
export type DumpSession = Pick<Session, "dump" | "snapshot" | "partial" | "teardown">;
type Deps = { log: Log; state: StateStore };

export interface DumpTarget {
  pgDump: string;
  /** pg_dump's --compress, as resolved for its major (compression.ts). */
  compress?: string;
  connection: Connection;
  reachable: Reachable;
}

/**
 * Runs pg_dump (and the row counts in its snapshot) until it succeeds, fails for a reason a new
 * attempt cannot fix, or has lost its connection `dump-retries` + 1 times. Before each retry the
 * partial output goes and the database must accept connections again, as the first time.
 */
export async function dumpWithRetries(config: Config, session: DumpSession, report: Report, deps: Deps, o: DumpTarget): Promise<CountedTable[] | undefined> {
  const limit = startTimeLimit(config.dumpTimeoutMs, session);
  try {
    return await attempts(config, session, report, deps, { ...o, limit: limit.signal });
  } catch (error) {
    if (limit.signal.aborted) throw new ActionError("dump", timeoutMessage(config.dumpTimeoutMs));
    throw error;
  } finally {
    limit.clear();
  }
}

async function attempts(config: Config, session: DumpSession, report: Report, deps: Deps, o: DumpTarget & { limit: AbortSignal }) {
  for (let retry = 0; ; retry++) {
    try {
      return await phase(report, "dump", () => dumpOnce(config, session, report, deps, o));
    } catch (error) {
      const output = errorMessage(error);
      // A cancelled job, or the time limit, stops pg_dump itself: that is not a lost connection.
      if (session.teardown.ending.aborted || o.limit.aborted || !connectionLost(output)) throw error;
      const reason = lostReason(output);
      if (retry >= config.dumpRetries) throw new ActionError("dump", exhaustedMessage(config.dumpRetries, reason, output));
      // The attempt failed, the run has not: the summary must not report it as failed.
      report.failedPhase = undefined;
      report.dumpRetries = [...(report.dumpRetries ?? []), reason];
      deps.log.warning(
        `pg_dump lost its connection to the database (${reason}): retry ${retry + 1} of ${config.dumpRetries}, from scratch once the database accepts connections again.`,
      );
      await discardPartial(config, session);
      await phase(report, "reachability", () => waitAgain(config, session, deps, o));
    }
  }
}

/**
 * `dump-timeout`: one bound over every attempt and the waits between them. When it passes,
 * pg_dump is stopped (KILL if TERM was not enough) and the row counts' transaction ended; the
 * caller then closes the rule as after any failure.
 */
function startTimeLimit(ms: number, session: DumpSession): { signal: AbortSignal; clear(): void } {
  const expired = new AbortController();
  const timer = setTimeout(() => {
    expired.abort(new Error("dump-timeout"));
    const dump = session.dump;
    dump?.kill("SIGTERM");
    if (dump) setTimeout(() => dump.kill("SIGKILL"), 10_000).unref();
    void session.snapshot?.close();
  }, ms);
  return { signal: expired.signal, clear: () => clearTimeout(timer) };
}

/** One attempt: a new snapshot (and new row counts) when they are on, a new pg_dump. */
async function dumpOnce(
  config: Config,
  session: DumpSession,
  report: Report,
  deps: Deps,
  o: DumpTarget & { limit: AbortSignal },
): Promise<CountedTable[] | undefined> {
  // A connection to production, ended with the rule's removal (never before the local files go).
  const endSnapshot = session.teardown.defer("rule", "end the snapshot's transaction", () => session.snapshot?.close());
  try {
    // Exported before pg_dump starts and held until it ends: pg_dump and its workers read this snapshot.
    session.snapshot = config.verifyRowCounts ? await openSnapshot(o.connection, snapshotOptions(config, o.reachable)) : undefined;
    o.limit.throwIfAborted();
    const snapshot = session.snapshot ? [`--snapshot=${session.snapshot.snapshot}`] : [];
    deps.log.info(`Running pg_dump ${report.pgDumpVersion} (${config.format} format) to ${config.dumpPath}...`);
    const args = pgDumpArgs({ ...config, compress: o.compress }, config.dumpPath);
    session.dump = startPgDump(o.pgDump, [...args, ...snapshot], libpqEnv(o.connection), (line) => deps.log.info(`pg_dump: ${line}`));
    // While pg_dump reads, the same snapshot is counted on the action's own connection.
    const counting = session.snapshot?.countAll();
    counting?.catch(() => undefined);
    await whileRecorded(session.dump, session, deps);
    const counted = await counting;
    if (counted) deps.log.info(`Counted the rows of ${counted.length} table(s) in pg_dump's snapshot.`);
    return counted;
  } finally {
    // The rule is closed after this: a connection that stopped answering must not hold it open.
    endSnapshot.release();
    await Promise.race([session.snapshot?.close(), new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    session.snapshot = undefined;
    session.dump = undefined;
  }
}

/**
 * pg_dump's pid and start time are saved the moment it is spawned (before anything else runs), so
 * a post step after a killed main stops it before removing its file; the teardown stops it first.
 */
async function whileRecorded(dump: DumpRun, session: DumpSession, deps: Deps): Promise<void> {
  const ended = recordWriter(dump.pid, { teardown: session.teardown, state: deps.state, key: State.pgDump, what: "pg_dump", kill: () => dump.kill("SIGTERM") });
  try {
    await dump.done;
  } finally {
    ended();
  }
}

/** What the failed attempt wrote goes: only ever the file or folder this run created (it is in `partial`). */
async function discardPartial(config: Config, session: DumpSession): Promise<void> {
  if (!session.partial.has(config.dumpPath)) return;
  await removeQuietly(config.dumpPath);
  session.partial.delete(config.dumpPath);
  await createOwned(session, config.dumpPath, config.format === "directory" ? "dir" : "file");
}

/** The same probe, with the TLS decision the first wait made, bounded by `reachable-timeout` again. */
async function waitAgain(config: Config, session: DumpSession, deps: Deps, o: DumpTarget & { limit: AbortSignal }): Promise<void> {
  try {
    const back = await waitUntilReachable(o.connection, {
      timeoutMs: config.reachableTimeoutMs,
      allowPlain: o.reachable.allowPlain,
      waitingFor: "for the database to come back",
      log: (m) => deps.log.info(m),
      signal: AbortSignal.any([session.teardown.ending, o.limit]),
    });
    deps.log.info(`Database accepting connections again after ${(back.waitedMs / 1000).toFixed(1)} s.`);
  } catch (error) {
    throw new ActionError("reachability", `pg_dump lost its connection, and the database did not accept connections again: ${errorMessage(error)}`);
  }
}

function timeoutMessage(ms: number): string {
  return `pg_dump did not finish within \`dump-timeout\` (${formatDuration(ms)}, retries included): it was stopped and the firewall rule removed. A lock held elsewhere, a connection that stopped answering, or a database that needs longer: read pg_dump's last lines above, then raise \`dump-timeout\` if the dump needs more time (jobs on GitHub-hosted runners end after 6 hours).`;
}

function exhaustedMessage(retries: number, reason: string, output: string): string {
  const tried =
    retries === 0
      ? "`dump-retries` is 0, so it was not retried"
      : `it was retried ${retries} time(s) (\`dump-retries\`) and lost it every time: the database may be restarting or failing over repeatedly; check its status on Scalingo, then run again (or raise \`dump-retries\`)`;
  return `pg_dump lost its connection to the database (${reason}); ${tried}.\n${output}`;
}

/** The snapshot's connection is the reachability probe's; row security as pg_dump applies it. */
export function snapshotOptions(config: Config, reachable: Reachable) {
  const rowSecurity = enablesRowSecurity(parsePgDumpArgs(config.pgDumpArgs));
  return { allowPlain: reachable.allowPlain, serverVersionNum: reachable.serverVersionNum, rowSecurity };
}
