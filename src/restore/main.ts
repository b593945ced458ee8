import { availableParallelism } from "node:os";
import * as core from "@actions/core";
import { ActionError, errorMessage } from "../errors.js";
import { removeQuietly } from "../runner/files.js";
import { actionLog } from "../runner/log.js";
import { actionState } from "../runner/state.js";
import { Teardown } from "../runner/teardown.js";
import { parseRestoreConfig, type RestoreConfig } from "./config.js";
import { closeFirewall } from "./firewall-session.js";
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
  let config: RestoreConfig;
  try {
    config = parseRestoreConfig((name) => core.getInput(name), process.env, availableParallelism());
  } catch (error) {
    core.setFailed(errorMessage(error));
    return;
  }
  const run: RestoreRun = { database: config.database, region: config.region, durationsMs: {} };
  const session: RestoreSession = {
    stop: new AbortController(),
    teardown: new Teardown((what, error) => core.warning(`Could not ${what}: ${errorMessage(error)}`)),
  };
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

/** SIGINT, then SIGTERM 7.5 s later: stop pg_restore, remove the rule and the private folder in those seconds. */
function onCancel(session: RestoreSession, run: RestoreRun): () => void {
  let stopping = false;
  const handler = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.endSection();
    core.warning(`Received ${signal}: stopping pg_restore and removing the firewall rule.`);
    session.stop.abort(new Error(`Cancelled by ${signal}.`));
    if (session.client && session.rule) await closeFirewall(session.client, session.rule, run, { state: actionState, log });
    await Promise.all([removeQuietly(session.folder), session.teardown.run()]);
    run.failedPhase ??= "restore";
    run.error = `Cancelled by ${signal}.`;
    await writeSummary(run);
    core.setFailed(`The restore was cancelled (${signal}).`);
    process.exit(1);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}
