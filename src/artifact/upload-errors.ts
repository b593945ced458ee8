import { FilesNotFoundError, GHESNotSupportedError, NetworkError, UsageError } from "@actions/artifact";
import { ActionError, errorMessage } from "../errors.js";

// What went wrong with an upload, in words a user can act on. @actions/artifact throws its own
// classes where it can, but wraps every results-service failure into a plain
// `Failed to <Method>: ...` Error: those are told apart by the words the client itself writes.

/** The first line of UsageError's message, which the client also puts in wrapped errors. */
const QUOTA = new UsageError().message.split("\n")[0] as string;
/** NetworkError's message before the code it names. */
const NETWORK = new NetworkError("").message.split(":")[0] as string;

export type UploadFailure = "ghes" | "quota" | "name-taken" | "network" | "other";

export function classify(error: unknown): UploadFailure {
  const message = errorMessage(error);
  if (error instanceof GHESNotSupportedError) return "ghes";
  if (error instanceof UsageError || message.includes(QUOTA)) return "quota";
  // The service answers 409 when the run already has an artifact of that name (taken before this attempt).
  if (/^Failed to CreateArtifact: .*\(409\)/s.test(message)) return "name-taken";
  if (error instanceof NetworkError || message.includes(NETWORK)) return "network";
  return "other";
}

/** Whether another name may succeed: not when the name was taken before, nor when nothing can be uploaded. */
export function canRetryAs(error: unknown): boolean {
  const kind = classify(error);
  return !(error instanceof FilesNotFoundError) && kind !== "ghes" && kind !== "quota" && kind !== "name-taken";
}

export const ADVICE: Record<UploadFailure, string> = {
  ghes: "GitHub Enterprise Server does not support this artifact service: set `upload: false` and store `dump-path` yourself.",
  quota: "The account's artifact storage is full: delete old artifacts or raise its storage limit.",
  "name-taken":
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression shown to the user, not a template
    "An artifact of this name already exists in the run, typically on a re-run with a fixed `artifact-name`: make it unique, e.g. append `-${{ github.run_attempt }}`.",
  network: "The runner could not reach GitHub's artifact service: check its network access (and proxy settings) to GitHub.",
  other: "Check the job has artifact access and the retention is allowed by the repository.",
};

/** The ActionError a failed upload ends with; `at` names the artifact and where the dump still is. */
export function uploadError(error: unknown, at?: { name: string; file: string }): ActionError {
  if (!at) return new ActionError("upload", errorMessage(error));
  const kind = classify(error);
  return new ActionError(
    "upload",
    `Uploading the artifact ${at.name} failed: ${errorMessage(error).trim()}\n${ADVICE[kind]} The dump is still at ${at.file} for a later step.`,
  );
}
