import { type Config, firewallInputs, MAX_DEFAULT_JOBS, runnerTemp, scalingoInputs, tlsInputs } from "../config.js";
import { InputError } from "../errors.js";
import { boolean, type Env, type InputReader, type Inputs, integer } from "../inputs.js";
import { type S3Object, s3ObjectInputs } from "../s3/s3-source.js";
import { resolveInputPath } from "./input-path.js";
import { pgRestoreArgs } from "./pg-restore-options.js";

/** Where the dump comes from: a file on the runner, an artifact of a given run, the newest good run's, or S3. */
export type DumpSource =
  | { kind: "path"; path: string }
  | { kind: "s3"; object: S3Object }
  | { kind: "artifact"; name: string; runId: number; githubToken: string }
  | { kind: "latest"; namePrefix: string; workflow: string; githubToken: string };

/** Every input of the restore action, parsed and validated once (restore/action.yml). */
export interface RestoreConfig
  extends Pick<
    Config,
    | "apiToken"
    | "database"
    | "region"
    | "authUrl"
    | "runnerIp"
    | "ipLookupUrls"
    | "ipLookupUrlsCustom"
    | "ipLookupPolicy"
    | "ruleLabel"
    | "run"
    | "repository"
    | "reachableTimeoutMs"
    | "staleRuleAgeMs"
    | "sslMode"
    | "sslRootCert"
    | "tempDir"
  > {
  source: DumpSource;
  decryptionIdentity?: string;
  /** A named database to restore over (confirmed), or undefined: a fresh `restore_<UTC stamp>`. */
  target?: string;
  jobs: number;
  pgRestoreArgs: string[];
  dropAfter: boolean;
  /** `true`, `false`, or `auto` (the default: compare when the manifest has counts). */
  verifyRowCounts: "true" | "false" | "auto";
}

// A database name the action will quote anyway; this keeps names readable in logs and summaries.
const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;
const ARTIFACT_NAME_FORBIDDEN = /["<>|*?:\\/\r\n]/;
const WORKFLOW = /^[A-Za-z0-9._-]+\.ya?ml$|^\d+$/;

export function parseRestoreConfig(read: InputReader, env: Env, cpuCount: number): RestoreConfig {
  const problems: string[] = [];
  const inputs: Inputs = {
    raw: read,
    text: (name) => read(name).trim(),
    fail: (input, message) => problems.push(`\`${input}\`: ${message}`),
    warn: () => undefined,
  };
  const scalingo = scalingoInputs(inputs);
  const firewall = firewallInputs(inputs, env);
  const tls = tlsInputs(inputs, env);
  const source = sourceInputs(inputs, env);
  const target = targetInputs(inputs, cpuCount);
  const identity = read("decryption-identity").trim();
  if (identity && !/^AGE-SECRET-KEY-1[0-9A-Z]+$/.test(identity))
    inputs.fail("decryption-identity", "is not an age identity (one line starting with AGE-SECRET-KEY-1): pass the secret holding the backup's identity.");
  if (problems.length) throw new InputError(problems);
  return { ...scalingo, ...firewall, ...tls, source, ...target, ...(identity ? { decryptionIdentity: identity } : {}), tempDir: runnerTemp(env) };
}

function sourceInputs(inputs: Inputs, env: Env): DumpSource {
  const { text, fail } = inputs;
  const file = text("path");
  const name = text("artifact-name");
  const runId = text("run-id");
  const latest = boolean(text("latest"), false, "latest", fail);
  const workflow = text("workflow");
  const githubToken = text("github-token");
  const s3 = s3ObjectInputs(inputs, env);
  const chosen = [file && "`path`", runId && "`run-id`", latest && "`latest: true`", s3 && "`s3-uri`"].filter(Boolean);
  if (chosen.length !== 1) {
    fail(
      "path",
      `say which backup to restore, one of: \`path\` (a file on the runner), \`artifact-name\` with \`run-id\`, or \`latest: true\` with \`workflow\` and \`artifact-name\`, or \`s3-uri\` (a backup stored in S3)${chosen.length ? ` (got ${chosen.join(" and ")})` : ""}.`,
    );
    return { kind: "path", path: "" };
  }
  if (name && ARTIFACT_NAME_FORBIDDEN.test(name)) fail("artifact-name", `"${name}" contains a character artifact names reject.`);
  if (file || s3) {
    if (name) fail("artifact-name", `is for an artifact of another run: with \`${file ? "path" : "s3-uri"}\`, leave it empty.`);
    return s3 ? { kind: "s3", object: s3 } : { kind: "path", path: resolveInputPath(file, env) };
  }
  if (!name)
    fail(
      "artifact-name",
      `is required with ${latest ? "`latest`" : "`run-id`"}: the dump's artifact name${latest ? " (or its beginning)" : ""}, as the backup's \`artifact-name\` output gives it.`,
    );
  if (!githubToken)
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression shown to the user, not a template
    fail("github-token", "is required to download an artifact of another run: `${{ github.token }}` with `permissions: actions: read`.");
  if (!latest) {
    if (!/^\d{1,20}$/.test(runId)) fail("run-id", `"${runId}" is not a workflow run ID (digits, as in the run's URL).`);
    if (workflow) fail("workflow", "is for `latest: true`: with `run-id`, leave it empty.");
    return { kind: "artifact", name, runId: Number(runId), githubToken };
  }
  if (!WORKFLOW.test(workflow))
    fail("workflow", `${workflow ? `"${workflow}"` : "empty"}: with \`latest: true\`, the backup workflow's file name (e.g. backup.yml) or ID.`);
  return { kind: "latest", namePrefix: name, workflow, githubToken };
}

function targetInputs({ raw, text, fail }: Inputs, cpuCount: number) {
  const target = text("target-database-name") || undefined;
  const confirm = text("confirm");
  if (target && !DATABASE_NAME.test(target)) fail("target-database-name", `"${target}" is not a database name (letters, digits, _ $ -; up to 63).`);
  if (target && confirm !== target)
    fail(
      "confirm",
      `restoring over the existing database "${target}" replaces its contents: set \`confirm\` to the same name to do so${confirm ? ` (got "${confirm}")` : ""}. Without \`target-database-name\`, the action restores into a fresh database instead.`,
    );
  if (!target && confirm) fail("confirm", "confirms a `target-database-name`, which is empty: name the database to restore over, or remove `confirm`.");
  const dropAfter = boolean(text("drop-after"), false, "drop-after", fail);
  if (dropAfter && target) fail("drop-after", "drops the fresh database the action creates; it never drops a named target: remove one of the two.");
  const jobsInput = integer(text("jobs"), 0, 0, 64, "jobs", `pg_restore workers (0 = one per CPU, at most ${MAX_DEFAULT_JOBS})`, fail);
  if (target && jobsInput > 1)
    fail("jobs", "a restore over a named target runs in one transaction, which pg_restore cannot split between workers: remove `jobs`.");
  const jobs = target ? 1 : jobsInput || Math.min(MAX_DEFAULT_JOBS, Math.max(1, cpuCount));
  let args: string[] = [];
  try {
    args = pgRestoreArgs(raw("pg-restore-args"));
  } catch (error) {
    fail("pg-restore-args", (error as Error).message);
  }
  const counts = text("verify-row-counts") || "auto";
  if (!["true", "false", "auto"].includes(counts)) fail("verify-row-counts", `"${counts}" is not true, false or auto.`);
  return { ...(target ? { target } : {}), jobs, pgRestoreArgs: args, dropAfter, verifyRowCounts: counts as RestoreConfig["verifyRowCounts"] };
}
