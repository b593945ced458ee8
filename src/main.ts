import { availableParallelism } from "node:os";
import * as core from "@actions/core";
import { backup } from "./backup/backup.js";
import { newSession, type Session } from "./backup/session.js";
import { type Config, parseConfig } from "./config.js";
import { ActionError, errorMessage, InputError } from "./errors.js";
import { inputsReport, recordFailure, whatToDoLine } from "./report/failure.js";
import { doneLine, newReport, outputsOf, type Report } from "./report/report.js";
import { summaryMarkdown } from "./report/summary.js";
import { onCancellation } from "./runner/cancellation.js";
import { actionLog, writeJobSummary } from "./runner/log.js";
import { actionMainDeps, inputsOf, type MainDeps } from "./runner/surroundings.js";
import { maskCredentials } from "./s3/s3-config.js";
import { publicUploadCheck, repositoryVisibility } from "./visibility.js";

const log = actionLog();
const CANCELLED_HINT = "The job was cancelled, or reached its `timeout-minutes`: raise that limit if the dump needs longer, and run again.";

/** The main step: inputs, then the backup, then outputs and summary, with cancellation handled. */
export async function run(deps: MainDeps = actionMainDeps()): Promise<void> {
  const input = inputsOf(deps);
  // Masked before anything else runs, whatever the other inputs hold.
  const token = input("api-token").trim();
  if (token) core.setSecret(token);
  // The S3 credentials are read from the environment only: masked before anything can print them.
  if (input("s3-url")) maskCredentials(deps.env, core.setSecret);
  const prepared = await prepare(input, deps.env);
  if (!prepared) return;
  const { config, report } = prepared;
  const session = newSession(deps.state, (what, error) => core.warning(`Could not ${what}: ${errorMessage(error)}`));
  const stopOnSignal = onCancel(session, report, deps);
  try {
    await backup(config, session, report, { state: deps.state, log, setSecret: core.setSecret, env: deps.env, newClient: deps.newClient, run: deps.run });
    log.endSection();
    core.info(doneLine(report));
  } catch (error) {
    log.endSection();
    recordFailure(report, error);
    // A failure before the dump (timeout, client install) must not leave the rule open until post.
    await session.teardown.run();
    core.setFailed(report.error as string);
  } finally {
    await session.teardown.run();
    stopOnSignal();
    log.endSection();
    core.debug(
      `Phase durations: ${Object.entries(report.durationsMs)
        .map(([name, ms]) => `${name} ${ms} ms`)
        .join(", ")}`,
    );
    // What is known is reported either way: a failed run still says which IP and rule it used.
    for (const [name, value] of Object.entries(outputsOf(report))) core.setOutput(name, value);
    await writeSummary(report, deps.env);
    // The log's last line says what to do (the summary says it too).
    if (report.failure) core.info(whatToDoLine(report.failure));
  }
}

/** The inputs and the public-upload check: a failure here is reported (summary too) before anything is opened. */
async function prepare(input: (name: string) => string, env: NodeJS.ProcessEnv): Promise<{ config: Config; report: Report } | undefined> {
  let config: Config;
  try {
    config = parseConfig(input, env, new Date(), availableParallelism());
  } catch (error) {
    await failBeforeStart(inputsReport(input), error, env);
    return undefined;
  }
  const report = newReport(config.database, config.region, config.format, config.encryptionRecipients.length > 0);
  const visibility = repositoryVisibility(env.GITHUB_EVENT_PATH);
  report.publicRepository = visibility === "public";
  const publicUpload = publicUploadCheck(visibility, {
    upload: config.upload,
    encrypted: report.encrypted,
    allowUnencryptedPublic: config.allowUnencryptedPublic,
  });
  if (publicUpload.refuse) {
    await failBeforeStart(report, new InputError([publicUpload.refuse]), env);
    return undefined;
  }
  if (publicUpload.warn) core.warning(publicUpload.warn);
  for (const warning of config.warnings) core.warning(warning);
  return { config, report };
}

/** A run stopped before anything was contacted: the error, a summary, and what to do. */
async function failBeforeStart(report: Report, error: unknown, env: NodeJS.ProcessEnv): Promise<void> {
  report.failedPhase = "inputs";
  const failure = recordFailure(report, error);
  core.setFailed(report.error as string);
  await writeSummary(report, env);
  core.info(whatToDoLine(failure));
}

function writeSummary(report: Report, env: NodeJS.ProcessEnv): Promise<void> {
  return writeJobSummary(() => summaryMarkdown(report), env);
}

/** A cancelled job: the teardown first (runner/cancellation.ts), then the summary and the exit. */
function onCancel(session: Session, report: Report, deps: MainDeps): () => void {
  return onCancellation({
    teardown: session.teardown,
    signals: deps.signals,
    exit: deps.exit,
    onSignal: (signal) => {
      log.endSection();
      core.warning(`Received ${signal}: stopping pg_dump, removing the unfinished files and the firewall rule.`);
    },
    afterTeardown: async (signal) => {
      report.failedPhase ??= "dump";
      const failure = recordFailure(report, new ActionError(report.failedPhase, `Cancelled by ${signal}.`, { hint: CANCELLED_HINT }));
      await writeSummary(report, deps.env);
      core.setFailed(`The backup was cancelled (${signal}); no dump was uploaded.`);
      core.info(whatToDoLine(failure));
    },
  });
}
