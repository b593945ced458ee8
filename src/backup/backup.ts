import { stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { type ArtifactPlan, artifactUrl, planArtifact, uploadArtifact } from "../artifact/artifact.js";
import type { Config } from "../config.js";
import { ActionError } from "../errors.js";
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
import { runRestoreCheck } from "../restore-check/steps.js";
import { runCommand } from "../runner/commands.js";
import { prepareDumpDir, sha256File } from "../runner/files.js";
import type { FirewallSession } from "../scalingo/firewall-session.js";
import { discoverTarget, openFirewallStep, tlsLine } from "./discover.js";
import { dumpWithRetries } from "./dump-attempts.js";
import { createOwned, finishFile, refuseExistingOutputs } from "./dump-files.js";
import { whileRulePropagates } from "./propagation.js";
import { keptDumpFailure, restoreCheckKeepingDump } from "./restore-outcome.js";
import { preflightS3, uploadToS3 } from "./s3-step.js";
import type { BackupDeps, Session } from "./session.js";

/** The main step after the inputs (docs/design.md); main.ts parses inputs, reports, handles signals and runs the teardown around it. */
export async function backup(config: Config, session: Session, report: Report, deps: BackupDeps): Promise<void> {
  if (config.verify === "restore") report.restoreVerified = false;
  const env = deps.env ?? process.env;
  const unsupported = unsupportedPlatform(deps.os ?? process.platform);
  if (unsupported) throw new ActionError("pg-dump-client", unsupported);
  await refuseExistingOutputs(config);
  // Without artifact access the backup could not be kept: say so before the firewall opens.
  const artifacts = config.upload ? planArtifact(config, env, deps.log) : undefined;
  const s3 = await preflightS3(config, report, deps.log);
  const { client, connection, serverVersion, ip } = await discoverTarget(config, report, deps, session);
  deps.log.info(`Database ${config.database}: PostgreSQL ${serverVersion}; runner IP ${ip}.`);

  const { choice, serverPlan, platform, compression } = await chooseClient(config, report, deps, { serverVersion, connection });

  const firewall = await openFirewallStep(config, report, deps, { client, ip, teardown: session.teardown });

  const { pgDump, reachable } = await whileRulePropagates(config, session, report, deps, { choice, serverPlan, platform, connection, serverVersion });

  const { dumped, restoreFailure } = await dumpAndClose(config, session, report, deps, { pgDump, connection, reachable, firewall, compression });
  const final = await finishAndUpload(config, session, report, deps, { dumped, artifacts, env });
  // Last: an S3 failure fails the step but leaves the artifact (and its manifest) uploaded above in place.
  // A dump whose restore check failed is stored, but never rotates older, verified backups away.
  if (s3) await uploadToS3(config, session, report, s3, { final, log: deps.log, rotate: !restoreFailure });
  // Kept and uploaded (S3 included): now the restore check's failure fails the step.
  if (restoreFailure) throw keptDumpFailure(restoreFailure, report);
}

/** Choosing the client is quick and can fail on inputs (compress): done before anything is opened. */
async function chooseClient(config: Config, report: Report, deps: BackupDeps, o: { serverVersion: string; connection: Connection }) {
  deps.log.section?.("pg_dump client");
  const run = deps.run ?? runCommand;
  const platform = await detectPlatform(run);
  const choice = await phase(report, "pg-dump-client", async () => {
    const chosen = choosePgDump({ serverMajor: majorOf(o.serverVersion), requested: config.pgDumpVersion, installed: await findInstalled(run), platform });
    if (chosen.kind === "fail") throw new ActionError("pg-dump-client", chosen.message);
    const problem = compressProblem(config.compress, chosen.major, config.format);
    if (problem) throw new ActionError("inputs", problem);
    return chosen;
  });
  const compression = resolveCompression(config, choice.major);
  report.compression = compression.description;
  deps.log.info(
    choice.kind === "use" ? `pg_dump ${choice.major}: ${choice.path}.` : `pg_dump ${choice.major} is not installed: it is installed while the rule propagates.`,
  );
  deps.log.info(tlsLine(o.connection, choice.major));
  // verify: restore needs a server of the same major: found now, or installed while the rule propagates.
  const serverPlan =
    config.verify === "restore"
      ? await phase(report, "restore-server", () => planServer(choice.major, choice.kind === "use" ? choice.path : undefined, platform.canInstall))
      : undefined;
  return { choice, serverPlan, platform, compression };
}

/** Pack, encrypt, then upload (or hash) and the manifest: the finished file leaves the cleanup set, it is the backup. */
async function finishAndUpload(
  config: Config,
  session: Session,
  report: Report,
  deps: BackupDeps,
  o: { dumped: string; artifacts: ArtifactPlan | undefined; env: NodeJS.ProcessEnv },
): Promise<string> {
  const final = await finishFile(config, session, report, o.dumped, deps.log);
  session.partial.delete(final);
  report.dumpPath = final;
  // Always one file: the directory format was packed into a tar above.
  report.dumpSize = (await stat(final)).size;

  // @actions/artifact hashes the file as it uploads it: a second read to hash it again would cost
  // a core for nothing (measured: 1.5 s of CPU per 500 MiB on a 2-core runner).
  if (o.artifacts) {
    const artifacts = o.artifacts;
    deps.log.section?.("Upload");
    const uploaded = await phase(report, "upload", () => uploadArtifact(artifacts, final, session.partial));
    Object.assign(report, { sha256: uploaded.digest, artifactId: uploaded.id, artifactName: uploaded.name, artifactDigest: uploaded.digest });
    report.artifactUrl = artifactUrl(uploaded.id, o.env);
  } else report.sha256 = await sha256File(final);
  // After the dump's own upload: the manifest records the sha256 of the bytes as stored.
  await phase(report, "upload", () =>
    recordManifest(report, {
      file: final,
      compress: config.compress,
      recipients: config.encryptionRecipients,
      artifacts: o.artifacts,
      partial: session.partial,
      now: new Date(),
    }),
  );
  return final;
}

/** Runs pg_dump and removes the rule this step created as soon as it ends, whatever the outcome. */
async function dumpAndClose(
  config: Config,
  session: Session,
  report: Report,
  deps: BackupDeps,
  o: { pgDump: string; connection: Connection; reachable: Reachable; firewall: FirewallSession; compression: Compression },
): Promise<{ dumped: string; restoreFailure?: ActionError }> {
  await prepareDumpDir(config.dumpPath);
  // Created here, exclusively and private (pg_dump keeps the mode of an existing file), so the
  // cleanup set only ever holds what this run created.
  await createOwned(session, config.dumpPath, config.format === "directory" ? "dir" : "file");
  let counted: CountedTable[] | undefined;
  deps.log.section?.("Dump");
  try {
    counted = await dumpWithRetries(config, session, report, deps, { ...o, compress: o.compression.pgDump });
  } finally {
    await o.firewall.close();
  }
  if (o.compression.afterLevel !== undefined) await compressAfter(config.dumpPath, o.compression.afterLevel, report, deps.log);
  const restoreFailure = await verifySteps(config, session, report, deps, { pgDump: o.pgDump, counted });
  return { dumped: config.dumpPath, ...(restoreFailure ? { restoreFailure } : {}) };
}

/**
 * pg_restore --list (or the plain checks), then the restore check when asked; the rule is closed by
 * then. A failed restore check is returned, not thrown: the dump is still uploaded (restore-outcome.ts).
 */
async function verifySteps(
  config: Config,
  session: Session,
  report: Report,
  deps: BackupDeps,
  o: { pgDump: string; counted?: CountedTable[] },
): Promise<ActionError | undefined> {
  const run = deps.run ?? runCommand;
  if (config.verify !== "false" || session.restoreServer) deps.log.section?.("Verify");
  if (config.verify !== "false")
    report.verified = await phase(report, "verify", () => verifyDump(config.format, config.compress, config.dumpPath, o.pgDump, run));
  if (report.verified) deps.log.info(`Verified: ${report.verified}.`);
  if (!session.restoreServer) return undefined;
  return await restoreCheckKeepingDump(
    () => runRestoreCheck(config, session, report, { pgDump: o.pgDump, counted: o.counted, run, log: deps.log }),
    report,
    deps.log,
  );
}

/** `compress-after`: the rule is removed, so the data files are compressed now, on every core. */
async function compressAfter(dir: string, level: number, report: Report, log: BackupDeps["log"]): Promise<void> {
  log.section?.("Compress");
  const done = await phase(report, "compress", () => compressDataFiles(dir, level, availableParallelism()));
  log.info(
    `Compressed ${done.files} data file(s) with gzip ${level} after the rule was removed: ${formatBytes(done.bytesBefore)} to ${formatBytes(done.bytesAfter)}.`,
  );
}
