import { ActionError } from "../errors.js";
import { describeFailure } from "../report/failure.js";
import type { Report } from "../report/report.js";
import type { Log } from "../types.js";

// A restore check that fails does not make the night's dump worthless: its data is as pg_dump
// wrote it, it passed `verify: list`, and it may be the only copy of last night. Its failure is
// held while the dump is finished and uploaded, then thrown: the step still fails,
// `restore-verified` stays false, and the summary names the objects that failed. A dump whose
// table of contents cannot be read fails in `verify` (or its own phase) and is never uploaded.

/** Runs the restore check; a failure of the restore itself (errors, row counts) is returned, not thrown. */
export async function restoreCheckKeepingDump(check: () => Promise<void>, report: Report, log: Log): Promise<ActionError | undefined> {
  try {
    await check();
    return undefined;
  } catch (error) {
    if (!(error instanceof ActionError && error.phase === "restore")) throw error;
    // What comes next (pack, encrypt, upload) records its own failure, if any.
    report.failedPhase = undefined;
    report.restoreVerified = false;
    log.info("The restore check failed: the dump is kept and uploaded all the same (restore-verified false); the step fails after the upload.");
    return error;
  }
}

/** The held failure, once the dump is kept: it says where the dump went and what to do. */
export function keptDumpFailure(error: ActionError, report: Report): ActionError {
  const { text, detail } = describeFailure(error, "restore");
  const kept = report.artifactName ? `the artifact ${report.artifactName}` : report.dumpPath;
  return new ActionError("restore", `${text.replace(/:$/, ".")} The dump was kept all the same, as ${kept}, with restore-verified false.`, {
    ...(detail ? { detail } : {}),
    hint: "The night's dump is uploaded but did not restore cleanly: fix or exclude the objects named above (an object depending on something `pg-dump-args` left out, an extension or collation the runner lacks), and keep the previous nights until a run passes.",
  });
}
