import { chmod, stat } from "node:fs/promises";
import { artifactUrl, planArtifact, uploadArtifact } from "./artifact/artifact.js";
import { encryptFile } from "./artifact/encrypt.js";
import { packDirectory } from "./artifact/pack.js";
import type { Config } from "./config.js";
import { ActionError, errorMessage } from "./errors.js";
import { type Connection, libpqEnv, parseConnectionUri } from "./postgres/connection.js";
import { choosePgDump, detectPlatform, findInstalled, majorOf, unsupportedPlatform } from "./postgres/pg-client.js";
import { compressProblem, type DumpRun, pgDumpArgs, startPgDump } from "./postgres/pg-dump.js";
import { planServer } from "./postgres/pg-server.js";
import { type Reachable, waitUntilReachable } from "./postgres/reachability.js";
import { type CountedTable, openSnapshot, type SnapshotCounter } from "./postgres/row-counts.js";
import type { ThrowawayServer } from "./postgres/throwaway-server.js";
import { applyTls, decideTls } from "./postgres/tls.js";
import { verifyDump } from "./postgres/verify.js";
import { phase, type Report } from "./report/report.js";
import { installClients, runRestoreCheck, startRestoreServer, stopRestoreCheck } from "./restore-steps.js";
import { type CommandRunner, runCommand } from "./runner/commands.js";
import { createPrivate, exists, prepareDumpDir, removeQuietly, sha256File } from "./runner/files.js";
import { lookupPublicIp } from "./runner/public-ip.js";
import { ScalingoClient } from "./scalingo/client.js";
import { closeRule, type OpenRule, sweepAndOpen, whoRemovesLeftover } from "./scalingo/firewall.js";
import type { Log, StateStore } from "./types.js";

/** What the cancellation handler needs to undo: kept current as the run goes. */
export interface Session {
  client?: ScalingoClient;
  rule?: OpenRule;
  dump?: DumpRun;
  /** The restore check's server, from its start (while the rule propagates) to the end of the check. */
  restoreServer?: Promise<ThrowawayServer>;
  /** The transaction holding pg_dump's snapshot, for the row counts. */
  snapshot?: SnapshotCounter;
  /** Files that are not a finished backup yet, deleted if the run stops. */
  partial: Set<string>;
  /** The private folder holding the CA file for pg_dump, removed when the run ends, however it ends. */
  tlsDir?: string;
  /** Stops the install and the wait for the database (a cancelled job stops them too). */
  stopWaits?: AbortController;
}

export interface BackupDeps {
  state: StateStore;
  log: Log;
  setSecret(secret: string): void;
  run?: CommandRunner;
}

/** The main step after the inputs (docs/design.md); main.ts parses inputs, reports and handles signals around it. */
export async function backup(config: Config, session: Session, report: Report, deps: BackupDeps): Promise<void> {
  try {
    await backupSteps(config, session, report, deps);
  } finally {
    await stopRestoreCheck(session);
    await removeQuietly(session.tlsDir);
  }
}

async function backupSteps(config: Config, session: Session, report: Report, deps: BackupDeps): Promise<void> {
  if (config.verify === "restore") report.restoreVerified = false;
  const { log } = deps;
  const run = deps.run ?? runCommand;
  const unsupported = unsupportedPlatform(process.platform);
  if (unsupported) throw new ActionError("pg-dump-client", unsupported);
  // An input problem only the file system can tell: still before anything is contacted. Every
  // file the run will write is checked, not only `path`: a previous backup's .tar or .age too.
  for (const file of outputPaths(config)) {
    if (await exists(file)) {
      throw new ActionError("inputs", `\`path\`: ${file} already exists; the action never overwrites a file. Remove it or choose another path.`);
    }
  }
  // Without artifact access the backup could not be kept: say so before the firewall opens.
  const artifacts = config.upload ? planArtifact(config, process.env, log) : undefined;
  const client = new ScalingoClient({ ...config, onSecret: deps.setSecret, debug: log.debug });
  session.client = client;

  // The API calls and the IP lookup are independent: do them at once (in one log section).
  log.section?.("Scalingo API and the runner's address");
  const [{ connection, serverVersion }, ip] = await Promise.all([
    phase(report, "scalingo", () => readDatabase(client, config, deps, session)),
    phase(report, "ip-lookup", () => detectIp(config, log)),
  ]);
  report.serverVersion = serverVersion;
  report.runnerIp = ip;
  log.info(`Database ${config.database}: PostgreSQL ${serverVersion}; runner IP ${ip}.`);

  // Choosing the client is quick and can fail on inputs (compress): do it before opening anything.
  log.section?.("pg_dump client");
  const platform = await detectPlatform(run);
  const choice = await phase(report, "pg-dump-client", async () => {
    const chosen = choosePgDump({ serverMajor: majorOf(serverVersion), requested: config.pgDumpVersion, installed: await findInstalled(run), platform });
    if (chosen.kind === "fail") throw new ActionError("pg-dump-client", chosen.message);
    const problem = compressProblem(config.compress, chosen.major, config.format);
    if (problem) throw new ActionError("inputs", problem);
    return chosen;
  });
  log.info(
    choice.kind === "use" ? `pg_dump ${choice.major}: ${choice.path}.` : `pg_dump ${choice.major} is not installed: it is installed while the rule propagates.`,
  );
  // verify: restore needs a server of the same major: found now, or installed while the rule propagates.
  const serverPlan =
    config.verify === "restore"
      ? await phase(report, "restore-server", () => planServer(choice.major, choice.kind === "use" ? choice.path : undefined, platform.canInstall))
      : undefined;

  log.section?.("Firewall rule");
  const rule = await phase(report, "firewall", () => sweepAndOpen(client, config, { ip, now: new Date(), state: deps.state, log }));
  session.rule = rule;
  Object.assign(report, { ruleId: rule.id, ruleCreated: rule.created, ruleAddedAt: new Date() });
  if (rule.created) log.info(`Added firewall rule ${rule.cidr} ("${rule.label}"). Scalingo applies it in about two minutes.`);

  // While the rule propagates: get the right pg_dump (and start the restore check's server) and
  // wait for the database, all at once. The first to fail stops the others at once (the rule must
  // not stay open for a run already lost); all settle before the failure is thrown, so nothing
  // starts after the cleanup.
  log.section?.("pg_dump client and database wait");
  const stop = new AbortController();
  session.stopWaits = stop;
  const stopOthersOnFailure = <T>(work: Promise<T>) =>
    work.catch((error) => {
      stop.abort(error);
      throw error;
    });
  const install = { run, log: (m: string) => log.info(m), signal: stop.signal, env: process.env, tempDir: config.tempDir };
  const clients = stopOthersOnFailure(phase(report, "pg-dump-client", () => installClients(choice, serverPlan, platform, install)));
  // The throwaway server starts once its package is there, and the dump does not wait for it: a
  // reused rule, reachable at once, stays open no longer for it. A start that fails in the window
  // still stops the rest; later, the restore check reports it.
  if (serverPlan) {
    const starting = stopOthersOnFailure(
      clients.then(() => phase(report, "restore-server", () => startRestoreServer(config, serverPlan, connection.user, platform, deps))),
    );
    starting.catch(() => undefined);
    session.restoreServer = starting;
  }
  const tasks = [
    clients,
    stopOthersOnFailure(
      phase(report, "reachability", () =>
        waitUntilReachable(connection, { timeoutMs: config.reachableTimeoutMs, log: (m) => log.info(m), signal: stop.signal }),
      ),
    ),
  ] as const;
  await Promise.allSettled(tasks);
  // The failure that stopped the others is the one to report, not their "stopped".
  if (stop.signal.aborted) throw stop.signal.reason;
  const [pgDump, reachable] = await Promise.all(tasks);
  report.pgDumpVersion = String(choice.major);
  if (connection.requireAuth && choice.major < 16) {
    log.info(
      `pg_dump ${choice.major} ignores require_auth (libpq 16+): the probe refused what "${connection.requireAuth}" forbids, pg_dump cannot. Verify the server (\`ssl-mode: verify-full\`) to be sure.`,
    );
  }
  const liveMajor = Math.floor(reachable.serverVersionNum / 10000);
  log.info(
    `Database reachable after ${(reachable.waitedMs / 1000).toFixed(1)} s (${reachable.attempts} attempt(s)); server_version_num ${reachable.serverVersionNum}.`,
  );
  if (liveMajor > choice.major) {
    throw new ActionError(
      "pg-dump-client",
      `The live server is PostgreSQL ${liveMajor} but the API reported ${serverVersion}; pg_dump ${choice.major} cannot dump it. Set \`pg-dump-version: ${liveMajor}\`.`,
    );
  }

  const dumped = await dumpAndClose(config, session, report, deps, { pgDump, connection, reachable, rule });
  const final = await finishFile(config, session, report, dumped, log);
  report.dumpPath = final;
  // Always one file: the directory format was packed into a tar above.
  report.dumpSize = (await stat(final)).size;
  session.partial.delete(final);

  // @actions/artifact hashes the file as it uploads it: a second read to hash it again would cost
  // a core for nothing (measured: 1.5 s of CPU per 500 MiB on a 2-core runner).
  if (artifacts) {
    log.section?.("Upload");
    const uploaded = await phase(report, "upload", () => uploadArtifact(artifacts, final, session.partial));
    Object.assign(report, { sha256: uploaded.digest, artifactId: uploaded.id, artifactName: uploaded.name, artifactDigest: uploaded.digest });
    report.artifactUrl = artifactUrl(uploaded.id, process.env);
  } else report.sha256 = await sha256File(final);
}

async function readDatabase(
  client: ScalingoClient,
  config: Config,
  deps: BackupDeps,
  session: Session,
): Promise<{ connection: Connection; serverVersion: string }> {
  await client.connect();
  const [db, uri] = await Promise.all([client.database(), client.connectionUri()]);
  if (db.status === "stopped")
    throw new ActionError("scalingo", `Database ${config.database} is stopped: start it in the Scalingo dashboard before backing it up.`);
  if (db.status !== "running") deps.log.warning(`Database ${config.database} is ${db.status}; trying anyway.`);
  const parsed = parseConnectionUri(uri);
  deps.setSecret(parsed.password);
  deps.setSecret(encodeURIComponent(parsed.password));
  // Known only now that the URI is: still before the firewall opens.
  const connection = await applyTls(parsed, decideTls(parsed, config, process.env), process.env.RUNNER_TEMP, (dir) => {
    session.tlsDir = dir;
  });
  deps.log.info(`TLS to the database: sslmode ${connection.sslmode}, ${tlsVerification(connection)}.`);
  return { connection, serverVersion: db.readable_version.replace(/\.0$/, "") };
}

async function detectIp(config: Config, log: Log): Promise<string> {
  if (config.runnerIp) return config.runnerIp;
  const found = await lookupPublicIp({ urls: config.ipLookupUrls, requirePublic: !config.ipLookupUrlsCustom, policy: config.ipLookupPolicy });
  if (found.warning) log.warning(found.warning);
  log.debug?.(`Runner IP ${found.ip} from ${found.sources.join(", ")}.`);
  return found.ip;
}

/** Runs pg_dump and removes the rule this step created as soon as it ends, whatever the outcome. */
async function dumpAndClose(
  config: Config,
  session: Session,
  report: Report,
  deps: BackupDeps,
  o: { pgDump: string; connection: Connection; reachable: Reachable; rule: OpenRule },
): Promise<string> {
  await prepareDumpDir(config.dumpPath);
  // Created here, exclusively and private (pg_dump keeps the mode of an existing file), so the
  // cleanup set only ever holds what this run created.
  await createOwned(session, config.dumpPath, config.format === "directory" ? "dir" : "file");
  const run = deps.run ?? runCommand;
  let counted: CountedTable[] | undefined;
  deps.log.section?.("Dump");
  try {
    await phase(report, "dump", async () => {
      // Exported before pg_dump starts and held until it ends: pg_dump and its workers read this snapshot.
      session.snapshot = config.verifyRowCounts ? await openSnapshot(o.connection, snapshotOptions(config, o.reachable)) : undefined;
      const snapshot = session.snapshot ? [`--snapshot=${session.snapshot.snapshot}`] : [];
      deps.log.info(`Running pg_dump ${report.pgDumpVersion} (${config.format} format) to ${config.dumpPath}...`);
      session.dump = startPgDump(o.pgDump, [...pgDumpArgs(config, config.dumpPath), ...snapshot], libpqEnv(o.connection), (line) =>
        deps.log.info(`pg_dump: ${line}`),
      );
      // While pg_dump reads, the same snapshot is counted on the action's own connection.
      const counting = session.snapshot?.countAll();
      counting?.catch(() => undefined);
      await session.dump.done;
      counted = await counting;
      if (counted) deps.log.info(`Counted the rows of ${counted.length} table(s) in pg_dump's snapshot.`);
    });
  } finally {
    await session.snapshot?.close();
    session.snapshot = undefined;
    session.dump = undefined;
    await closeRule(session.client as ScalingoClient, o.rule, deps.state, deps.log).then(
      () => {
        if (o.rule.created) report.ruleRemovedAt = new Date();
      },
      (error) => deps.log.warning(`Could not remove the firewall rule now (${errorMessage(error)}); ${whoRemovesLeftover(deps.state)}`),
    );
  }
  if (config.verify !== "false" || session.restoreServer) deps.log.section?.("Verify");
  if (config.verify !== "false")
    report.verified = await phase(report, "verify", () => verifyDump(config.format, config.compress, config.dumpPath, o.pgDump, run));
  if (report.verified) deps.log.info(`Verified: ${report.verified}.`);
  if (session.restoreServer) await runRestoreCheck(config, session, report, { pgDump: o.pgDump, counted, run, log: deps.log });
  return config.dumpPath;
}

/** The snapshot's connection is the reachability probe's; row security as pg_dump applies it. */
function snapshotOptions(config: Config, reachable: Reachable) {
  return { allowPlain: reachable.allowPlain, serverVersionNum: reachable.serverVersionNum, rowSecurity: config.pgDumpArgs.includes("--enable-row-security") };
}

/** Directory dumps become one tar; with recipients the dump is encrypted and the plaintext removed. */
async function finishFile(config: Config, session: Session, report: Report, dumped: string, log: Log): Promise<string> {
  let file = dumped;
  if (config.format === "directory") {
    log.section?.("Pack");
    const tarPath = `${dumped}.tar`;
    await createOwned(session, tarPath, "file");
    await phase(report, "pack", () => packDirectory(dumped, tarPath));
    await removeQuietly(dumped);
    file = tarPath;
  }
  if (config.encryptionRecipients.length) {
    log.section?.("Encrypt");
    const agePath = `${file}.age`;
    await createOwned(session, agePath, "file");
    await phase(report, "encrypt", () => encryptFile(file, agePath, config.encryptionRecipients));
    await removeQuietly(file);
    file = agePath;
  }
  await chmod(file, 0o600);
  return file;
}

/** Every file or folder the run writes, in order: the dump, its .tar (directory format), its .age. */
export function outputPaths(config: Pick<Config, "dumpPath" | "format" | "encryptionRecipients">): string[] {
  const paths = [config.dumpPath];
  if (config.format === "directory") paths.push(`${config.dumpPath}.tar`);
  if (config.encryptionRecipients.length) paths.push(`${paths[paths.length - 1]}.age`);
  return paths;
}

/** Another process may have put something there since the start: refuse it rather than replace it. */
async function createOwned(session: Session, target: string, kind: "file" | "dir"): Promise<void> {
  try {
    await createPrivate(target, kind);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new ActionError("inputs", `\`path\`: ${target} appeared during the run; the action never overwrites a file.`);
    throw error;
  }
  session.partial.add(target);
}

function tlsVerification(c: Connection): string {
  if (!c.sslrootcert) return "the server's certificate is not verified (see `ssl-mode` and `ssl-root-cert`)";
  return c.sslmode === "verify-full" ? "the server's certificate and host name are verified" : "the server's certificate chain is verified (not its host name)";
}
