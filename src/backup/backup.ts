import { stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { artifactUrl, planArtifact, uploadArtifact } from "../artifact/artifact.js";
import type { Config } from "../config.js";
import { ActionError, errorMessage } from "../errors.js";
import { recordManifest } from "../manifest/record.js";
import { compressDataFiles } from "../postgres/compress-after.js";
import { type Compression, resolveCompression } from "../postgres/compression.js";
import type { Connection } from "../postgres/connection.js";
import { choosePgDump, detectPlatform, findInstalled, majorOf, unsupportedPlatform } from "../postgres/pg-client.js";
import { compressProblem } from "../postgres/pg-dump.js";
import type { Reachable } from "../postgres/reachability.js";
import { verifyDump } from "../postgres/verify.js";
import { formatBytes } from "../report/format.js";
import { phase, type Report } from "../report/report.js";
import { planServer } from "../restore-check/pg-server.js";
import type { CountedTable } from "../restore-check/row-counts.js";
import { runRestoreCheck, stopRestoreCheck } from "../restore-check/steps.js";
import { runCommand } from "../runner/commands.js";
import { prepareDumpDir, removeQuietly, sha256File } from "../runner/files.js";
import { ScalingoClient } from "../scalingo/client.js";
import { type OpenRule, sweepAndOpen } from "../scalingo/firewall.js";
import { closeRule, whoRemovesLeftover } from "../scalingo/rule-removal.js";
import { detectIp, readDatabase, tlsLine } from "./discover.js";
import { dumpWithRetries } from "./dump-attempts.js";
import { createOwned, finishFile, refuseExistingOutputs } from "./dump-files.js";
import { whileRulePropagates } from "./propagation.js";
import { keptDumpFailure, restoreCheckKeepingDump } from "./restore-outcome.js";
import { preflightS3, uploadToS3 } from "./s3-step.js";
import type { BackupDeps, Session } from "./session.js";

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
  await refuseExistingOutputs(config);
  // Without artifact access the backup could not be kept: say so before the firewall opens.
  const artifacts = config.upload ? planArtifact(config, process.env, log) : undefined;
  const s3 = await preflightS3(config, report, log);
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
  const compression = resolveCompression(config, choice.major);
  report.compression = compression.description;
  log.info(
    choice.kind === "use" ? `pg_dump ${choice.major}: ${choice.path}.` : `pg_dump ${choice.major} is not installed: it is installed while the rule propagates.`,
  );
  log.info(tlsLine(connection, choice.major));
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

  const { pgDump, reachable } = await whileRulePropagates(config, session, report, deps, { choice, serverPlan, platform, connection, serverVersion });

  const { dumped, restoreFailure } = await dumpAndClose(config, session, report, deps, { pgDump, connection, reachable, rule, compression });
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
  // After the dump's own upload: the manifest records the sha256 of the bytes as stored.
  await phase(report, "upload", () =>
    recordManifest(report, {
      file: final,
      compress: config.compress,
      recipients: config.encryptionRecipients,
      artifacts,
      partial: session.partial,
      now: new Date(),
    }),
  );
  // Last: an S3 failure fails the step but leaves the artifact (and its manifest) uploaded above in place.
  // A dump whose restore check failed is stored, but never rotates older, verified backups away.
  if (s3) await uploadToS3(config, session, report, s3, { final, log, rotate: !restoreFailure });
  // Kept and uploaded (S3 included): now the restore check's failure fails the step.
  if (restoreFailure) throw keptDumpFailure(restoreFailure, report);
}

/** Runs pg_dump and removes the rule this step created as soon as it ends, whatever the outcome. */
async function dumpAndClose(
  config: Config,
  session: Session,
  report: Report,
  deps: BackupDeps,
  o: { pgDump: string; connection: Connection; reachable: Reachable; rule: OpenRule; compression: Compression },
): Promise<{ dumped: string; restoreFailure?: ActionError }> {
  await prepareDumpDir(config.dumpPath);
  // Created here, exclusively and private (pg_dump keeps the mode of an existing file), so the
  // cleanup set only ever holds what this run created.
  await createOwned(session, config.dumpPath, config.format === "directory" ? "dir" : "file");
  const run = deps.run ?? runCommand;
  let counted: CountedTable[] | undefined;
  deps.log.section?.("Dump");
  try {
    counted = await dumpWithRetries(config, session, report, deps, { ...o, compress: o.compression.pgDump });
  } finally {
    await closeRule(session.client as ScalingoClient, o.rule, deps.state, deps.log).then(
      () => {
        if (o.rule.created) report.ruleRemovedAt = new Date();
      },
      (error) => deps.log.warning(`Could not remove the firewall rule now (${errorMessage(error)}); ${whoRemovesLeftover(deps.state)}`),
    );
  }
  if (o.compression.afterLevel !== undefined) await compressAfter(config.dumpPath, o.compression.afterLevel, report, deps.log);
  if (config.verify !== "false" || session.restoreServer) deps.log.section?.("Verify");
  if (config.verify !== "false")
    report.verified = await phase(report, "verify", () => verifyDump(config.format, config.compress, config.dumpPath, o.pgDump, run));
  if (report.verified) deps.log.info(`Verified: ${report.verified}.`);
  const restoreFailure = session.restoreServer
    ? await restoreCheckKeepingDump(() => runRestoreCheck(config, session, report, { pgDump: o.pgDump, counted, run, log: deps.log }), report, deps.log)
    : undefined;
  return { dumped: config.dumpPath, ...(restoreFailure ? { restoreFailure } : {}) };
}

/** `compress-after`: the rule is removed, so the data files are compressed now, on every core. */
async function compressAfter(dir: string, level: number, report: Report, log: BackupDeps["log"]): Promise<void> {
  log.section?.("Compress");
  const done = await phase(report, "compress", () => compressDataFiles(dir, level, availableParallelism()));
  log.info(
    `Compressed ${done.files} data file(s) with gzip ${level} after the rule was removed: ${formatBytes(done.bytesBefore)} to ${formatBytes(done.bytesAfter)}.`,
  );
}
