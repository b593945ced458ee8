import * as path from "node:path";
import { discoverTarget, openFirewallStep } from "../backup/discover.js";
import type { BackupDeps } from "../backup/session.js";
import { State } from "../constants.js";
import { ActionError } from "../errors.js";
import { utcStamp } from "../naming.js";
import type { Connection } from "../postgres/connection.js";
import { choosePgDump, detectPlatform, findInstalled, installPgDump, majorOf, type Platform } from "../postgres/pg-client.js";
import { type Reachable, waitUntilReachable } from "../postgres/reachability.js";
import { phase, phasesAtOnce } from "../report/report.js";
import { runCommand } from "../runner/commands.js";
import { removeQuietly } from "../runner/files.js";
import { firstFailureStops, settleInOrder } from "../runner/first-failure.js";
import { recordWriter } from "../runner/process-record.js";
import type { Teardown } from "../runner/teardown.js";
import type { Log } from "../types.js";
import type { RestoreConfig } from "./config.js";
import type { HashAhead } from "./hash-ahead.js";
import { obtainDump } from "./obtain.js";
import { runRestore } from "./pg-restore.js";
import { type PreparedDump, prepareDump, privateFolder } from "./prepare.js";
import type { RestoreRun } from "./run-report.js";
import { countProblems, countRows, createFreshDatabase, dropDatabase, requireDatabase } from "./target.js";

/** What the run holds while it runs: everything it must undo is on the teardown, registered as it is acquired. */
export interface RestoreSession {
  /** The one place that undoes what the run acquired, in its fixed order (runner/teardown.ts); the finally and the cancellation handler run it. */
  teardown: Teardown;
}

/** The backup's surroundings, less what only pg_dump needs (the platform check). */
export type RestoreDeps = Pick<BackupDeps, "state" | "log" | "setSecret" | "run" | "env" | "newClient"> & {
  now?: Date;
  /** The dump's sha256, started by the entry before the action loaded (hash-ahead.ts). */
  ahead?: HashAhead | undefined;
};

/** The main step after the inputs (docs/design.md, "The restore action"). */
export async function restore(config: RestoreConfig, session: RestoreSession, run: RestoreRun, deps: RestoreDeps): Promise<void> {
  try {
    const dump = await beforeFirewall(config, session, run, deps);
    await throughFirewall(config, session, run, deps, dump);
  } finally {
    await session.teardown.run();
  }
}

/** Everything that can be checked without a connection: the dump, its manifest, the identity, the versions. */
async function beforeFirewall(config: RestoreConfig, session: RestoreSession, run: RestoreRun, deps: RestoreDeps) {
  const { log } = deps;
  const runner = deps.run ?? runCommand;
  const folder = await privateFolder(config.tempDir);
  // Downloads and plaintext: removed by the teardown, or by the post step when main was killed.
  deps.state.save(State.restoreFolder, folder);
  session.teardown.defer("plaintext", "remove the restore's private folder", () => removeQuietly(folder));
  log.section?.("The dump");
  const obtained = await phase(run, "download", () => obtainDump(config, folder, log, deps.env ?? process.env));
  Object.assign(run, { dumpName: obtained.name, source: obtained.description });
  if (config.verifyRowCounts === "true" && !obtained.manifest?.tables)
    throw new ActionError(
      "inputs",
      "`verify-row-counts`: the backup's manifest holds no row counts (the backup ran without `verify: restore`, or wrote no manifest): set it to auto or false.",
    );

  // The dump's checks (the sha256 of every byte, the decryption, the format) keep a core busy for
  // seconds on a large dump, while the reads of Scalingo, the runner's address and the local
  // clients mostly wait and open nothing: both at once. The firewall opens only once both have
  // ended, and a dump that fails its checks is the error reported, whatever the reads found.
  const [dump, target] = await phasesAtOnce(
    run,
    phase(run, "inputs", () => prepareDump(obtained, { identity: config.decryptionIdentity, folder, run: runner, ahead: deps.ahead })),
    readTarget(config, session, run, deps),
  );
  const { serverVersion, ip } = target;
  Object.assign(run, { format: dump.format, encrypted: dump.encrypted, sha256: dump.sha256, sha256Checked: Boolean(dump.manifest), dumpMajor: dump.major });
  log.info(describeDump(dump, obtained.name));
  const targetMajor = majorOf(serverVersion);
  if (dump.major && dump.major > targetMajor)
    throw new ActionError(
      "inputs",
      `The dump was written by pg_dump ${dump.major}; the target ${config.database} runs PostgreSQL ${serverVersion}. A dump restores into the same major or a newer one: upgrade the target first. Nothing was opened.`,
    );
  const choice = await phase(run, "pg-dump-client", async () => {
    const chosen = choosePgDump({ serverMajor: dump.major ?? targetMajor, requested: "auto", installed: target.installed, platform: target.platform });
    if (chosen.kind === "fail")
      throw new ActionError("pg-dump-client", chosen.message.replaceAll("pg_dump", "pg_restore").replaceAll("`pg-dump-version`", "the dump's major"));
    return chosen;
  });
  run.pgRestoreVersion = String(choice.major);
  log.info(
    `Database ${config.database}: PostgreSQL ${serverVersion}; runner IP ${ip}; pg_restore ${choice.major}${choice.kind === "install" ? " (installed while the rule propagates)" : ""}.`,
  );
  return { dump, connection: target.connection, ip, choice, platform: target.platform, client: target.client };
}

/** What the run learns without opening anything: the database's version and connection, the runner's address, the local clients. */
async function readTarget(config: RestoreConfig, session: RestoreSession, run: RestoreRun, deps: RestoreDeps) {
  const runner = deps.run ?? runCommand;
  const [target, platform, installed] = await settleInOrder(discoverTarget(config, run, deps, session), detectPlatform(runner), findInstalled(runner));
  return { ...target, platform, installed };
}

function describeDump(dump: PreparedDump, name: string): string {
  const checked = dump.manifest ? "sha256 matches the manifest" : "no manifest beside it: sha256 and row counts not checked";
  return `${name}: ${dump.format} dump${dump.compression !== "none" ? ` (${dump.compression})` : ""}${dump.encrypted ? ", decrypted" : ""}, ${checked}${dump.major ? `, written by pg_dump ${dump.major}` : ""}.`;
}

type Ready = Awaited<ReturnType<typeof beforeFirewall>>;

/** The firewall session (scalingo/firewall-session.ts): open, the client and the wait, the restore and its checks, close. */
async function throughFirewall(config: RestoreConfig, session: RestoreSession, run: RestoreRun, deps: RestoreDeps, ready: Ready): Promise<void> {
  const firewall = await openFirewallStep(config, run, deps, { client: ready.client, ip: ready.ip, teardown: session.teardown });
  try {
    deps.log.section?.("pg_restore client and database wait");
    const { binDir, reachable } = await whileRulePropagates(config, session, run, deps, ready);
    await restoreAndCheck(config, session, run, deps, { ...ready, binDir, reachable });
  } finally {
    // As soon as the work that needs it ends, however it ends.
    await firewall.close();
  }
}

/** Into a fresh database (or over the confirmed target), then the row counts, then drop-after. */
async function restoreAndCheck(
  config: RestoreConfig,
  session: RestoreSession,
  run: RestoreRun,
  deps: RestoreDeps,
  ready: Ready & { binDir: string; reachable: Reachable },
): Promise<void> {
  const { log } = deps;
  const { reachable } = ready;
  const target = config.target ?? `restore_${utcStamp(deps.now ?? new Date()).toLowerCase()}`;
  run.target = target;
  log.section?.("Restore");
  await phase(run, "restore", async () => {
    if (config.target) await requireDatabase(ready.connection, reachable, target);
    else {
      await createFreshDatabase(ready.connection, reachable, target);
      run.created = true;
      log.info(`Created the database ${target}.`);
    }
    await restoreInto(config, session, run, deps, { ...ready, target });
    log.info(`Restored ${ready.dump.format} dump into ${target} in ${((run.restoreMs ?? 0) / 1000).toFixed(1)} s.`);
  });
  await phase(run, "verify", () => checkCounts(config, run, ready, reachable, target, log));
  if (config.dropAfter && run.created) {
    await dropDatabase(ready.connection, reachable, target);
    run.dropped = true;
    log.info(`Dropped ${target} (drop-after).`);
  }
}

/**
 * pg_restore (psql for a plain dump), recorded as the backup records pg_dump: saved the moment it
 * is spawned (the pid is coreutils `timeout`'s, which passes a TERM on to it and ends with it), so
 * the teardown stops it first and waits for its end, and post stops what a killed main left.
 */
async function restoreInto(
  config: RestoreConfig,
  session: RestoreSession,
  run: RestoreRun,
  deps: RestoreDeps,
  ready: Ready & { binDir: string; target: string },
): Promise<void> {
  const started = Date.now();
  const over = Boolean(config.target);
  let ended: (() => void) | undefined;
  try {
    await runRestore({
      ...ready.dump,
      binDir: ready.binDir,
      connection: ready.connection,
      database: ready.target,
      over,
      jobs: config.jobs,
      args: config.pgRestoreArgs,
      signal: session.teardown.ending,
      onSpawn: (pid) => {
        ended = recordWriter(pid, { teardown: session.teardown, state: deps.state, key: State.pgRestore, what: "pg_restore" });
      },
      run: deps.run,
      log: deps.log.info,
    });
  } catch (error) {
    throw restoreFailed(error as Error, ready.target, over, config.database);
  } finally {
    ended?.();
    run.restoreMs = Date.now() - started;
  }
}

function restoreFailed(error: Error, target: string, over: boolean, database: string): ActionError {
  const left = over
    ? `It ran in one transaction: ${target} is unchanged.`
    : `The database ${target} is left as the failure left it, for inspection. Drop it when done: \`DROP DATABASE "${target}";\` (\`scalingo --database ${database} pgsql-console\`).`;
  return new ActionError("restore", `The restore into ${target} failed: ${error.message}\n${left}`);
}

async function checkCounts(config: RestoreConfig, run: RestoreRun, ready: Ready, reachable: Reachable, target: string, log: Log): Promise<void> {
  const counted = await countRows(ready.connection, reachable, target, config.jobs);
  run.tables = counted.length;
  run.rows = counted.reduce((n, t) => n + t.rows, 0);
  const expected = ready.dump.manifest?.tables;
  if (config.verifyRowCounts === "false" || !expected) {
    log.info(`Restored ${run.tables} table(s), ${run.rows} row(s)${expected ? "" : " (no counts in the manifest to compare with)"}.`);
    return;
  }
  const problems = countProblems(expected, counted);
  if (problems.length)
    throw new ActionError(
      "verify",
      `The restored database does not hold the rows the backup counted (${problems.length} table(s)):\n${problems.slice(0, 20).join("\n")}`,
    );
  run.compared = expected.length;
  log.info(`Row counts: each of the ${expected.length} table(s) in the manifest holds exactly its rows (${run.rows} row(s) in all).`);
}

/** The client install and the wait for the database, at once: the first failure stops the other. */
async function whileRulePropagates(
  config: RestoreConfig,
  session: RestoreSession,
  run: RestoreRun,
  deps: RestoreDeps,
  ready: Ready,
): Promise<{ binDir: string; reachable: Reachable }> {
  const together = firstFailureStops(session.teardown.ending);
  const runner = deps.run ?? runCommand;
  const install = { run: runner, log: deps.log.info, signal: together.signal, env: deps.env ?? process.env, tempDir: config.tempDir };
  const waitOptions = { timeoutMs: config.reachableTimeoutMs, log: deps.log.info, signal: together.signal };
  const [binDir, reachable] = await together.settle(
    together.track(phase(run, "pg-dump-client", () => clientBinDir(ready.choice, ready.platform, install))),
    together.track(phase(run, "reachability", () => waitUntilReachable(ready.connection, waitOptions))),
  );
  deps.log.info(`Database reachable after ${(reachable.waitedMs / 1000).toFixed(1)} s (${reachable.attempts} attempt(s)).`);
  return { binDir, reachable };
}

async function clientBinDir(choice: Ready["choice"], platform: Platform, install: Parameters<typeof installPgDump>[2]): Promise<string> {
  if (choice.kind === "use") return path.dirname(choice.path);
  return path.dirname(await installPgDump(choice.major, platform, install));
}

export type { Connection };
