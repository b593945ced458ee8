import * as core from "@actions/core";
import { errorMessage } from "../errors.js";
import type { Log } from "../types.js";

/**
 * The action's log through @actions/core: diagnostics as debug lines (shown when a run is re-run
 * with debug logging), and one collapsible group per sequential section of the story. GitHub's
 * groups do not nest, so a new section closes the previous one, and work that runs at the same
 * time shares one section: two groups open at once would file each other's lines.
 */
export function actionLog(): Required<Log> & { endSection(): void } {
  let open = false;
  const endSection = () => {
    if (open) core.endGroup();
    open = false;
  };
  return {
    info: core.info,
    warning: core.warning,
    debug: core.debug,
    section(title) {
      endSection();
      core.startGroup(title);
      open = true;
    },
    endSection,
  };
}

/** The job summary, when the runner gives one (GITHUB_STEP_SUMMARY); a failure to write it is a warning, never the step's failure. */
export async function writeJobSummary(markdown: () => string, env: NodeJS.ProcessEnv): Promise<void> {
  if (!env.GITHUB_STEP_SUMMARY) return;
  await core.summary
    .addRaw(markdown(), true)
    .write()
    .catch((error) => core.warning(`Could not write the job summary: ${errorMessage(error)}`));
}

/**
 * For the entry points: whatever escapes a step (a bug, or the runner's files gone) fails it with
 * one message a user can act on; the stack goes to the debug log, not to their eyes.
 */
export function failUnexpected(step: "main" | "post", error: unknown): void {
  if (error instanceof Error && error.stack) core.debug(error.stack);
  const next =
    step === "main"
      ? "If a firewall rule was added, the post step removes it."
      : "Check the database's firewall rules in the Scalingo dashboard and remove this run's rule if it is still there.";
  core.setFailed(
    `Unexpected error in the ${step} step: ${errorMessage(error)}. Please report it (with the debug log) at https://github.com/org/scalingo-pg-dump/issues. ${next}`,
  );
}
