import { isIPv4 } from "node:net";
import * as path from "node:path";
import { Encrypter } from "age-encryption";
import { DEFAULT_IP_LOOKUP_URLS, DEFAULT_PG_DUMP_ARGS, LABEL_PREFIX } from "./constants.js";
import { InputError } from "./errors.js";
import { parsePgDumpArgs, reservedArgsProblem, setsSnapshot } from "./postgres/pg-dump-options.js";
import type { LookupPolicy } from "./runner/public-ip.js";
import { looksLikeOwnLabel } from "./scalingo/firewall.js";
import { insecureUrlProblem } from "./urls.js";
import { parseWords } from "./words.js";

export type SslModeInput = "require" | "verify-ca" | "verify-full";
const SSL_MODE_INPUTS: readonly SslModeInput[] = ["require", "verify-ca", "verify-full"];

export type DumpFormat = "custom" | "directory" | "tar" | "plain";
export const FORMATS: readonly DumpFormat[] = ["custom", "directory", "tar", "plain"];

/** `list`: the archive is readable; `restore`: it restores into a throwaway local server; `false`: no check. */
export type VerifyLevel = "list" | "restore" | "false";
export const VERIFY_LEVELS: readonly VerifyLevel[] = ["list", "restore", "false"];

/** Every input, parsed and validated once; the rest of the action receives only this. */
export interface Config {
  apiToken: string;
  database: string;
  region: string;
  authUrl: string;
  runnerIp?: string;
  ipLookupUrls: string[];
  /** Answers from user-configured lookup URLs are trusted once they parse as IPv4. */
  ipLookupUrlsCustom: boolean;
  /** `agree` for the built-in providers (two must give the same address), `first` for the user's own. */
  ipLookupPolicy: LookupPolicy;
  /** This job's label, without the creation time the firewall module appends. */
  ruleLabel: string;
  /** `owner/repo`: the stale-rule sweep only ever removes this repository's own rules. */
  repository: string;
  reachableTimeoutMs: number;
  staleRuleAgeMs: number;
  format: DumpFormat;
  compress?: string;
  /** pg_dump --jobs, directory format only; already resolved from 0 = one per CPU, at most MAX_DEFAULT_JOBS. */
  jobs?: number;
  pgDumpArgs: string[];
  pgDumpVersion: "auto" | number;
  /** Where pg_dump writes: a file, or a directory for the directory format. */
  dumpPath: string;
  verify: VerifyLevel;
  /** With `verify: restore`: compare every dumped table's rows in pg_dump's snapshot with the restored ones. */
  verifyRowCounts: boolean;
  /** Stricter than the URI's sslmode when set; never weaker (checked once the URI is known). */
  sslMode?: SslModeInput;
  /** CA to verify the server with: PEM text, an absolute file path, or "system" (the OS roots). */
  sslRootCert?: string;
  /** pg_restore --jobs for the restore check: the runner's cores. */
  restoreJobs: number;
  /** Where the restore check's throwaway server gets its folder: RUNNER_TEMP. */
  tempDir: string;
  upload: boolean;
  artifactName: string;
  retentionDays?: number;
  encryptionRecipients: string[];
  /** An unencrypted upload from a public repository, on purpose. */
  allowUnencryptedPublic: boolean;
}

/**
 * `jobs: 0` is one worker per CPU, but each worker is a connection to the production database: on a
 * 64-core runner that would be 64. Four keep a 2-4 core hosted runner busy; more must be asked for.
 */
export const MAX_DEFAULT_JOBS = 4;

export type InputReader = (name: string) => string;
type Env = Record<string, string | undefined>;

const TRUE = ["true", "True", "TRUE"];
const FALSE = ["false", "False", "FALSE"];
const DATABASE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/;
// pg_dump --compress: a level, or method[:detail] where detail is a level or key=value list.
const COMPRESS = /^(\d|(gzip|lz4|zstd|none)(:[a-z0-9=,_-]+)?)$/;
const ARTIFACT_NAME_FORBIDDEN = /["<>|*?:\\/\r\n]/;

/** `20261125T030405Z`: sortable, and safe in file and artifact names. */
export function utcStamp(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

export function parseConfig(read: InputReader, env: Env, now: Date, cpuCount: number): Config {
  const problems: string[] = [];
  const fail = (input: string, message: string) => problems.push(`\`${input}\`: ${message}`);
  const text = (name: string) => read(name).trim();

  const apiToken = read("api-token").trim();
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression shown to the user, not a template
  if (!apiToken) fail("api-token", "is required: pass the Scalingo API token from a secret, e.g. `${{ secrets.SCALINGO_API_TOKEN }}`.");
  else if (/\s/.test(apiToken)) fail("api-token", "contains white space: check the secret holds only the token.");

  const database = text("database");
  if (!database) fail("database", "is required: the Dedicated Resources database ID, as in `scalingo --database <id>`.");
  else if (!DATABASE_ID.test(database)) fail("database", `"${database}" is not a database ID (letters, digits, '-' and '_', up to 100).`);

  const region = text("region") || "osc-fr1";
  if (!REGION.test(region)) fail("region", `"${region}" is not a region name such as osc-fr1 or osc-secnum-fr1.`);

  const authUrl = parseServiceUrl(text("auth-url") || "https://auth.scalingo.com", "auth-url", fail);

  const runnerIp = text("runner-ip") || undefined;
  if (runnerIp && !isIPv4(runnerIp)) fail("runner-ip", `"${runnerIp}" is not an IPv4 address (Scalingo firewall rules are IPv4 only).`);

  const lookupLines = lines(read("ip-lookup-urls"));
  const ipLookupUrls = lookupLines.length ? lookupLines : [...DEFAULT_IP_LOOKUP_URLS];
  for (const url of lookupLines) parseServiceUrl(url, "ip-lookup-urls", fail);

  const ruleLabel = text("rule-label") || defaultRuleLabel(env);
  if (/[\r\n]/.test(ruleLabel) || ruleLabel.length > 200) fail("rule-label", "must be one line of at most 200 characters.");
  // A custom label in the default format would pass for another run's leftover in the sweep of
  // the repository it names: that format is reserved for the default labels.
  else if (text("rule-label") && looksLikeOwnLabel(ruleLabel))
    fail("rule-label", `"${ruleLabel}" is in the action's own default format, reserved for its default labels: choose another label, or leave it empty.`);

  const reachableTimeout = integer(text("reachable-timeout"), 300, 1, 3600, "reachable-timeout", "seconds", fail);
  const staleRuleAge = integer(text("stale-rule-age"), 720, 0, 525_600, "stale-rule-age", "minutes (0 disables)", fail);
  if (staleRuleAge > 0 && staleRuleAge < MIN_STALE_RULE_AGE_MINUTES)
    fail(
      "stale-rule-age",
      `"${staleRuleAge}" is too short: a rule younger than ${MIN_STALE_RULE_AGE_MINUTES} minutes (the longest job on GitHub-hosted runners) may belong to a run still going. Use 0 (off) or at least ${MIN_STALE_RULE_AGE_MINUTES}; self-hosted runners: more than your longest job.`,
    );

  const format = (text("format") || "custom") as DumpFormat;
  if (!FORMATS.includes(format)) fail("format", `"${format}" is not one of ${FORMATS.join(", ")}.`);

  const compress = text("compress") || undefined;
  if (compress && !COMPRESS.test(compress))
    fail("compress", `"${compress}" is not a pg_dump compression: a level 0-9, or gzip[:N], lz4[:N], zstd[:N] or none.`);

  const jobsInput = integer(text("jobs"), 0, 0, 64, "jobs", `parallel workers (0 = one per CPU, at most ${MAX_DEFAULT_JOBS})`, fail);
  if (jobsInput > 1 && format !== "directory")
    fail("jobs", `parallel workers need \`format: directory\`; got format "${format}". Remove \`jobs\` or use the directory format.`);
  const jobs = format === "directory" ? jobsInput || Math.min(MAX_DEFAULT_JOBS, Math.max(1, cpuCount)) : undefined;

  let pgDumpArgs: string[] = [];
  try {
    pgDumpArgs = parseWords(read("pg-dump-args").trim() || DEFAULT_PG_DUMP_ARGS);
    const problem = reservedArgsProblem(parsePgDumpArgs(pgDumpArgs));
    if (problem) fail("pg-dump-args", problem);
  } catch (error) {
    fail("pg-dump-args", (error as Error).message);
  }

  const versionText = text("pg-dump-version") || "auto";
  const pgDumpVersion = versionText === "auto" ? "auto" : Number(versionText);
  if (pgDumpVersion !== "auto" && !(Number.isInteger(pgDumpVersion) && pgDumpVersion >= 10 && pgDumpVersion <= 40)) {
    fail("pg-dump-version", `"${versionText}" is not \`auto\` or a PostgreSQL major version such as 17.`);
  }

  const stamp = utcStamp(now);
  const baseName = `${database || "database"}-${stamp}`;
  const runnerTemp = env.RUNNER_TEMP || env.TMPDIR || "/tmp";
  const pathInput = text("path");
  const dumpPath = pathInput
    ? path.resolve(env.GITHUB_WORKSPACE || process.cwd(), pathInput)
    : path.join(runnerTemp, "scalingo-pg-dump", baseName + extensionOf(format, compress));

  const verify = verifyLevel(text("verify"), fail);
  const verifyRowCounts = boolean(text("verify-row-counts"), false, "verify-row-counts", fail);
  if (verifyRowCounts && verify !== "restore")
    fail("verify-row-counts", `compares the dump with its restored copy: it needs \`verify: restore\` (verify is "${verify}").`);
  if (verifyRowCounts && setsSnapshot(parsePgDumpArgs(pgDumpArgs)))
    fail("pg-dump-args", "--snapshot is set by the action when `verify-row-counts` is true (the rows are counted in that snapshot): remove it.");
  const sslMode = (text("ssl-mode") || undefined) as SslModeInput | undefined;
  if (sslMode && !SSL_MODE_INPUTS.includes(sslMode)) fail("ssl-mode", `"${sslMode}" is not one of ${SSL_MODE_INPUTS.join(", ")} (empty: the URI's).`);
  const sslRootCert = parseRootCert(read("ssl-root-cert").trim(), env, fail);
  const upload = boolean(text("upload"), true, "upload", fail);
  const allowUnencryptedPublic = boolean(text("allow-unencrypted-public"), false, "allow-unencrypted-public", fail);

  const artifactName = text("artifact-name") || baseName;
  if (text("artifact-name") && ARTIFACT_NAME_FORBIDDEN.test(artifactName))
    fail("artifact-name", `"${artifactName}" contains a character artifact names reject: " : < > | * ? \\ / or a line break.`);

  const retentionText = text("retention-days");
  const retentionDays = retentionText ? integer(retentionText, 0, 1, 90, "retention-days", "days", fail) : undefined;

  const encryptionRecipients = lines(read("encryption-recipients"));
  for (const recipient of encryptionRecipients) {
    try {
      new Encrypter().addRecipient(recipient);
    } catch {
      fail("encryption-recipients", `"${recipient.slice(0, 24)}..." is not an age recipient (a public key starting with age1, one per line).`);
    }
  }

  if (problems.length) throw new InputError(problems);
  return {
    apiToken,
    database,
    region,
    authUrl,
    runnerIp,
    ipLookupUrls,
    ipLookupUrlsCustom: lookupLines.length > 0,
    ipLookupPolicy: lookupLines.length > 0 ? "first" : "agree",
    ruleLabel,
    repository: repositoryOf(env),
    reachableTimeoutMs: reachableTimeout * 1000,
    staleRuleAgeMs: staleRuleAge * 60_000,
    format,
    compress,
    jobs,
    pgDumpArgs,
    pgDumpVersion,
    dumpPath,
    verify,
    verifyRowCounts,
    restoreJobs: Math.max(1, Math.min(cpuCount, 8)),
    tempDir: runnerTemp,
    upload,
    artifactName,
    retentionDays,
    encryptionRecipients,
    allowUnencryptedPublic,
    ...(sslMode ? { sslMode } : {}),
    ...(sslRootCert ? { sslRootCert } : {}),
  };
}

/** Jobs on GitHub-hosted runners end after 6 hours: an own rule older than that belongs to a dead run. */
export const MIN_STALE_RULE_AGE_MINUTES = 360;

function repositoryOf(env: Env): string {
  return env.GITHUB_REPOSITORY || "local";
}

/** `scalingo-pg-dump <owner/repo> run <run_id>/<attempt> job <job>`: unique per job attempt. */
export function defaultRuleLabel(env: Env): string {
  const repo = repositoryOf(env);
  return `${LABEL_PREFIX} ${repo} run ${env.GITHUB_RUN_ID || "0"}/${env.GITHUB_RUN_ATTEMPT || "1"} job ${env.GITHUB_JOB || "job"}`;
}

/**
 * The file's extension. pg_dump compresses a plain dump as a whole (gzip, lz4 or zstd stream), so
 * it is named for what opens it; archive formats compress inside and keep their name.
 */
export function extensionOf(format: DumpFormat, compress?: string): string {
  if (format === "plain") return `.sql${PLAIN_SUFFIX[compressionMethod(compress)]}`;
  return { custom: ".dump", directory: "", tar: ".tar" }[format];
}

export type CompressionMethod = "none" | "gzip" | "lz4" | "zstd";
const PLAIN_SUFFIX: Record<CompressionMethod, string> = { none: "", gzip: ".gz", lz4: ".lz4", zstd: ".zst" };

/**
 * What `compress` makes pg_dump use on a plain dump: empty is pg_dump's default for plain
 * (none), a level 1-9 is gzip, `0` and `none` are none, otherwise the method named.
 */
export function compressionMethod(compress: string | undefined): CompressionMethod {
  if (!compress || compress === "0" || compress.startsWith("none")) return "none";
  if (/^\d$/.test(compress)) return "gzip";
  return compress.split(":")[0] as CompressionMethod;
}

function lines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

type Fail = (input: string, message: string) => void;

function integer(value: string, fallback: number, min: number, max: number, input: string, unit: string, fail: Fail): number {
  if (!value) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    fail(input, `"${value}" is not a whole number from ${min} to ${max} (${unit}).`);
    return fallback;
  }
  return n;
}

/** `true` stays an alias of `list`, today's check, so existing workflows keep their meaning. */
function verifyLevel(value: string, fail: Fail): VerifyLevel {
  if (!value || TRUE.includes(value)) return "list";
  if (FALSE.includes(value)) return "false";
  if ((VERIFY_LEVELS as readonly string[]).includes(value)) return value as VerifyLevel;
  fail("verify", `"${value}" is not one of list (or true), restore, false.`);
  return "list";
}

function boolean(value: string, fallback: boolean, input: string, fail: Fail): boolean {
  if (!value) return fallback;
  if (TRUE.includes(value)) return true;
  if (FALSE.includes(value)) return false;
  fail(input, `"${value}" is not true or false.`);
  return fallback;
}

/** The API token travels to these URLs (Basic auth): see insecureUrlProblem. */
function parseServiceUrl(value: string, input: string, fail: Fail): string {
  const problem = insecureUrlProblem(value);
  if (problem) fail(input, problem);
  return value.replace(/\/+$/, "");
}

/** PEM text is kept as is, `system` too; anything else is a file, relative to the workspace. */
function parseRootCert(value: string, env: Env, fail: Fail): string | undefined {
  if (!value || value === "system") return value || undefined;
  if (value.includes("-----BEGIN")) {
    if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(value))
      fail("ssl-root-cert", "holds PEM text but no complete certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----).");
    return value;
  }
  if (/[\r\n]/.test(value)) {
    fail("ssl-root-cert", "is neither PEM text, a file path, nor `system`.");
    return undefined;
  }
  return path.resolve(env.GITHUB_WORKSPACE || process.cwd(), value);
}
