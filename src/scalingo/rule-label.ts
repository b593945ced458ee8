import { repositoryOf } from "../naming.js";

// The one place that knows the label format of the action's own rules: how a default label is
// built, the creation time appended to it, and how the stale-rule sweep recognises one.

/** Every label this action writes starts with this; stale-rule cleanup recognises only its own format. */
export const LABEL_PREFIX = "scalingo-pg-dump";

/** `scalingo-pg-dump <owner/repo> run <run_id>/<attempt> job <job>`: unique per job attempt. */
export function defaultRuleLabel(env: Record<string, string | undefined>): string {
  const repo = repositoryOf(env);
  return `${LABEL_PREFIX} ${repo} run ${env.GITHUB_RUN_ID || "0"}/${env.GITHUB_RUN_ATTEMPT || "1"} job ${env.GITHUB_JOB || "job"}`;
}

/**
 * The label carries its creation time so that a later run can recognise, by this exact format
 * only, a rule whose run died without its post step, and tell how old it is.
 */
export function timedLabel(base: string, at: Date): string {
  return `${base} at ${at.toISOString().replace(/\.\d{3}Z$/, "Z")}`;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The action's own default label format, for one repository (`\S+` matches any). */
function ownLabelPattern(repository: string, timed: boolean): RegExp {
  const time = timed ? " at (\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ)" : "";
  return new RegExp(`^${LABEL_PREFIX} ${repository} run \\d+/\\d+ job \\S+${time}$`);
}

/** Whether a label (without its time) is in the action's own format, whatever the repository. */
export function looksLikeOwnLabel(label: string): boolean {
  return ownLabelPattern("\\S+", false).test(label);
}

/**
 * When a rule of this repository's own default format was created, from its label; undefined for
 * any other label, and for this job's own base label (`ownBase`), which is never stale.
 */
export function ownLabelCreatedAtMs(label: string, repository: string, ownBase: string): number | undefined {
  const match = ownLabelPattern(escapeRegExp(repository), true).exec(label);
  if (!match || label.startsWith(`${ownBase} at `)) return undefined;
  return Date.parse(match[1]);
}
