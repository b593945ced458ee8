import { availableParallelism } from "node:os";
import * as core from "@actions/core";
import { backup } from "./backup/backup.js";
import type { Session } from "./backup/session.js";
import { type Config, parseConfig } from "./config.js";
import { ActionError, errorMessage, InputError } from "./errors.js";
import { inputsReport, recordFailure, whatToDoLine } from "./report/failure.js";
import { doneLine, newReport, outputsOf, type Report } from "./report/report.js";
import { summaryMarkdown } from "./report/summary.js";
import { stopRestoreCheck } from "./restore-check/steps.js";
import { removeQuietly } from "./runner/files.js";
import { actionLog } from "./runner/log.js";
import { actionState } from "./runner/state.js";
import { CREDENTIAL_VARIABLES } from "./s3/s3-config.js";
import { closeRule, whoRemovesLeftover } from "./scalingo/rule-removal.js";
import { publicUploadCheck, repositoryVisibility } from "./visibility.js";

const log = actionLog();
const CANCELLED_HINT = "The job was cancelled, or reached its `timeout-minutes`: raise that limit if the dump needs longer, and run again.";

/** The main step: inputs, then the backup, then outputs and summary, with cancellation handled. */
export async function run(): Promise<void> {
  // Masked before anything else runs, whatever the other inputs hold.
  const token = core.getInput("api-token").trim();
  if (token) core.setSecret(token);
  // The S3 credentials are read from the environment only: masked before anything can print them.
  for (const name of CREDENTIAL_VARIABLES) {
    const value = process.env[name]?.trim();
    if (value && core.getInput("s3-url")) core.setSecret(value);
  }
  let config: Config;
  try {
    config = parseConfig((name) => core.getInput(name), process.env, new Date(), availableParallelism());
  } catch (error) {
    // The summary repeats every failure, an input's too.
    await failBeforeStart(
      inputsReport((name) => core.getInput(name)),
      error,
    );
    return;
  }

  const report = newReport(config.database, config.region, config.format, config.encryptionRecipients.length > 0);
  const visibility = repositoryVisibility(process.env.GITHUB_EVENT_PATH);
  report.publicRepository = visibility === "public";
  const publicUpload = publicUploadCheck(visibility, {
    upload: config.upload,
    encrypted: report.encrypted,
    allowUnencryptedPublic: config.allowUnencryptedPublic,
  });
  if (publicUpload.refuse) {
    await failBeforeStart(report, new InputError([publicUpload.refuse]));
    return;
  }
  if (publicUpload.warn) core.warning(publicUpload.warn);
  for (const warning of config.warnings) core.warning(warning);
  const session: Session = { partial: new Set() };
  const stopOnSignal = onCancel(session, report);
  try {
    await backup(config, session, report, { state: actionState, log, setSecret: core.setSecret });
    log.endSection();
    core.info(doneLine(report));
  } catch (error) {
    log.endSection();
    recordFailure(report, error);
    // A failure before the dump (timeout, client install) must not leave the rule open until post.
    await closeSessionRule(session, report);
    for (const file of session.partial) await removeQuietly(file);
    core.setFailed(report.error as string);
  } finally {
    stopOnSignal();
    log.endSection();
    core.debug(
      `Phase durations: ${Object.entries(report.durationsMs)
        .map(([name, ms]) => `${name} ${ms} ms`)
        .join(", ")}`,
    );
    // What is known is reported either way: a failed run still says which IP and rule it used.
    for (const [name, value] of Object.entries(outputsOf(report))) core.setOutput(name, value);
    await writeSummary(report);
    // The log's last line says what to do (the summary says it too).
    if (report.failure) core.info(whatToDoLine(report.failure));
  }
}

/** A run stopped before anything was contacted: the error, a summary, and what to do. */
async function failBeforeStart(report: Report, error: unknown): Promise<void> {
  report.failedPhase = "inputs";
  const failure = recordFailure(report, error);
  core.setFailed(report.error as string);
  await writeSummary(report);
  core.info(whatToDoLine(failure));
}

// The cancel handler and the failure path may both close the rule at once (a stop ends the wait
// at once now): they share one removal, so one DELETE is sent.
const ruleClosing = new WeakMap<Session, Promise<void>>();

/** Removes the rule this run created, if it is still there (once: closeRule reads what main saved). */
function closeSessionRule(session: Session, report: Report): Promise<void> {
  if (!session.client || !session.rule) return Promise.resolve();
  let closing = ruleClosing.get(session);
  if (!closing) {
    closing = closeSessionRuleOnce(session, report);
    ruleClosing.set(session, closing);
  }
  return closing;
}

async function closeSessionRuleOnce(session: Session, report: Report): Promise<void> {
  if (!session.client || !session.rule) return;
  try {
    await closeRule(session.client, session.rule, actionState, log);
    if (session.rule.created) report.ruleRemovedAt ??= new Date();
  } catch (error) {
    core.warning(`Could not remove the firewall rule (${errorMessage(error)}); ${whoRemovesLeftover(actionState)}`);
  }
}

async function writeSummary(report: Report): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  await core.summary
    .addRaw(summaryMarkdown(report), true)
    .write()
    .catch((error) => core.warning(`Could not write the job summary: ${errorMessage(error)}`));
}

/**
 * A cancelled job gets SIGINT, then SIGTERM 7.5 s later, then SIGKILL 2.5 s after that: stop
 * pg_dump and remove the rule within those seconds. The post step still runs if this is too late.
 */
function onCancel(session: Session, report: Report): () => void {
  let stopping = false;
  const handler = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.endSection();
    core.warning(`Received ${signal}: stopping pg_dump and removing the firewall rule.`);
    session.dump?.kill("SIGTERM");
    // An install runs in its own process group, which the runner's signal does not reach.
    session.stopWaits?.abort(new Error(`Cancelled by ${signal}.`));
    // The restore check's server and folder, and the snapshot's transaction, go too.
    await Promise.all([closeSessionRule(session, report), stopRestoreCheck(session), session.stopS3?.()]);
    for (const file of [...session.partial, session.tlsDir]) await removeQuietly(file);
    report.failedPhase ??= "dump";
    const failure = recordFailure(report, new ActionError(report.failedPhase, `Cancelled by ${signal}.`, { hint: CANCELLED_HINT }));
    await writeSummary(report);
    core.setFailed(`The backup was cancelled (${signal}); no dump was uploaded.`);
    core.info(whatToDoLine(failure));
    process.exit(1);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}
