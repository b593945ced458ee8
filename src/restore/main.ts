import { availableParallelism } from "node:os";
import * as core from "@actions/core";
import { ActionError, errorMessage } from "../errors.js";
import { onCancellation } from "../runner/cancellation.js";
import { actionLog, writeJobSummary } from "../runner/log.js";
import { actionMainDeps, inputsOf, type MainDeps } from "../runner/surroundings.js";
import { Teardown } from "../runner/teardown.js";
import { maskCredentials } from "../s3/s3-config.js";
import { parseRestoreConfig, type RestoreConfig } from "./config.js";
import type { HashAhead } from "./hash-ahead.js";
import { type RestoreSession, restore } from "./restore.js";
import { type RestoreRun, restoreOutputs } from "./run-report.js";
import { restoreSummaryMarkdown } from "./summary.js";

const log = actionLog();

/** The restore action's main step: inputs, the restore, then outputs and summary, with cancellation handled. */
export async function runRestoreMain(deps: MainDeps = actionMainDeps(), ahead?: HashAhead): Promise<void> {
  try {
    await restoreStep(deps, ahead);
  } finally {
    // A hash still running when the inputs were refused (or the run took another file) must not hold the step.
    await ahead?.stop();
  }
}

async function restoreStep(deps: MainDeps, ahead: HashAhead | undefined): Promise<void> {
  const input = inputsOf(deps);
  // Masked before anything else runs, whatever the other inputs hold.
  for (const secret of ["api-token", "decryption-identity", "github-token"]) {
    const value = input(secret).trim();
    if (value) core.setSecret(value);
  }
  // The S3 source's credentials: masked before the inputs are parsed, as the backup does with `s3-url`.
  if (input("s3-uri").trim()) maskCredentials(deps.env, core.setSecret);
  let config: RestoreConfig;
  try {
    config = parseRestoreConfig(input, deps.env, availableParallelism());
  } catch (error) {
    core.setFailed(errorMessage(error));
    return;
  }
  const run: RestoreRun = { database: config.database, region: config.region, durationsMs: {} };
  const session: RestoreSession = { teardown: new Teardown((what, error) => core.warning(`Could not ${what}: ${errorMessage(error)}`)) };
  const stopOnSignal = onCancel(session, run, deps);
  try {
    await restore(config, session, run, { state: deps.state, log, setSecret: core.setSecret, env: deps.env, newClient: deps.newClient, run: deps.run, ahead });
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
    await writeSummary(run, deps.env);
  }
}

function writeSummary(run: RestoreRun, env: NodeJS.ProcessEnv): Promise<void> {
  return writeJobSummary(() => restoreSummaryMarkdown(run), env);
}

/** A cancelled job: the teardown first (runner/cancellation.ts: pg_restore, the private folder, the rule), then the summary and the exit. */
function onCancel(session: RestoreSession, run: RestoreRun, deps: MainDeps): () => void {
  return onCancellation({
    teardown: session.teardown,
    signals: deps.signals,
    exit: deps.exit,
    onSignal: (signal) => {
      log.endSection();
      core.warning(`Received ${signal}: stopping pg_restore, removing the private folder and the firewall rule.`);
    },
    afterTeardown: async (signal) => {
      run.failedPhase ??= "restore";
      run.error = `Cancelled by ${signal}.`;
      await writeSummary(run, deps.env);
      core.setFailed(`The restore was cancelled (${signal}).`);
    },
  });
}
