import { availableParallelism } from "node:os";
import * as core from "@actions/core";
import { ActionError, errorMessage } from "../errors.js";
import { onCancellation } from "../runner/cancellation.js";
import { actionLog } from "../runner/log.js";
import { actionState } from "../runner/state.js";
import { Teardown } from "../runner/teardown.js";
import { maskCredentials } from "../s3/s3-config.js";
import { parseRestoreConfig, type RestoreConfig } from "./config.js";
import { type RestoreSession, restore } from "./restore.js";
import { type RestoreRun, restoreOutputs } from "./run-report.js";
import { restoreSummaryMarkdown } from "./summary.js";

const log = actionLog();

/** The restore action's main step: inputs, the restore, then outputs and summary, with cancellation handled. */
export async function runRestoreMain(): Promise<void> {
  // Masked before anything else runs, whatever the other inputs hold.
  for (const secret of ["api-token", "decryption-identity", "github-token"]) {
    const value = core.getInput(secret).trim();
    if (value) core.setSecret(value);
  }
  // The S3 source's credentials: masked before the inputs are parsed, as the backup does with `s3-url`.
  if (core.getInput("s3-uri").trim()) maskCredentials(process.env, core.setSecret);
  let config: RestoreConfig;
  try {
    config = parseRestoreConfig((name) => core.getInput(name), process.env, availableParallelism());
  } catch (error) {
    core.setFailed(errorMessage(error));
    return;
  }
  const run: RestoreRun = { database: config.database, region: config.region, durationsMs: {} };
  const session: RestoreSession = { teardown: new Teardown((what, error) => core.warning(`Could not ${what}: ${errorMessage(error)}`)) };
  const stopOnSignal = onCancel(session, run);
  try {
    await restore(config, session, run, { state: actionState, log, setSecret: core.setSecret });
    log.endSection();
    core.info(`Restore done: ${run.target}${run.dropped ? " (dropped after the check)" : ""}.`);
  } catch (error) {
    log.endSection();
    run.error = errorMessage(error);
    run.failedPhase ??= error instanceof ActionError ? error.phase : "restore";
    core.setFailed(run.error);
  } finally {
    stopOnSignal();
    log.endSection();
    for (const [name, value] of Object.entries(restoreOutputs(run))) core.setOutput(name, value);
    await writeSummary(run);
  }
}

async function writeSummary(run: RestoreRun): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  await core.summary
    .addRaw(restoreSummaryMarkdown(run), true)
    .write()
    .catch((error) => core.warning(`Could not write the job summary: ${errorMessage(error)}`));
}

/** A cancelled job: the teardown first (runner/cancellation.ts: pg_restore, the private folder, the rule), then the summary and the exit. */
function onCancel(session: RestoreSession, run: RestoreRun): () => void {
  return onCancellation({
    teardown: session.teardown,
    signals: process,
    exit: (code) => process.exit(code),
    onSignal: (signal) => {
      log.endSection();
      core.warning(`Received ${signal}: stopping pg_restore, removing the private folder and the firewall rule.`);
    },
    afterTeardown: async (signal) => {
      run.failedPhase ??= "restore";
      run.error = `Cancelled by ${signal}.`;
      await writeSummary(run);
      core.setFailed(`The restore was cancelled (${signal}).`);
    },
  });
}
