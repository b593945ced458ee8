import { isIPv4 } from "node:net";
import * as path from "node:path";
import { recipientProblem } from "./artifact/encrypt.js";
import { DEFAULT_IP_LOOKUP_URLS, DEFAULT_PG_DUMP_ARGS } from "./constants.js";
import { duration } from "./duration.js";
import { InputError } from "./errors.js";
import { boolean, type Env, FALSE, type Fail, type InputReader, type Inputs, integer, lines, rootCert, serviceUrl, TRUE } from "./inputs.js";
import { type DumpFormat, extensionOf, repositoryOf, runOf, utcStamp } from "./naming.js";
import { DEFAULT_AFTER_LEVEL } from "./postgres/compression.js";
import { parsePgDumpArgs, reservedArgsProblem, setsSnapshot } from "./postgres/pg-dump-options.js";
import { missingSeedFlags } from "./postgres/pg-dump-seed.js";
import { mirrorProblem, PGDG_MIRROR_ENV } from "./postgres/pgdg-mirror.js";
import type { LookupPolicy } from "./runner/public-ip.js";
import { type S3Config, s3Inputs } from "./s3/s3-config.js";
import { looksLikeOwnLabel } from "./scalingo/rule-label.js";
import { parseWords } from "./words.js";

export type SslModeInput = "require" | "verify-ca" | "verify-full";
const SSL_MODE_INPUTS: readonly SslModeInput[] = ["require", "verify-ca", "verify-full"];

export type { DumpFormat, InputReader };
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
  /** The user's `rule-label`, sent as given; absent: the default label (scalingo/rule-label.ts). */
  ruleLabel?: string;
  /** Run id, attempt and job, for people reading the default label. */
  run: { runId: string; attempt: string; job: string };
  /** `owner/repo`: the stale-rule sweep only ever removes this repository's own rules. */
  repository: string;
  reachableTimeoutMs: number;
  staleRuleAgeMs: number;
  format: DumpFormat;
  compress?: string;
  /** `compress-after`: the gzip level applied to a directory dump's data files once the rule is removed; pg_dump writes them uncompressed. */
  compressAfter?: number;
  /** pg_dump --jobs, directory format only; already resolved from 0 = one per CPU, at most MAX_DEFAULT_JOBS. */
  jobs?: number;
  /** `pg-dump-args` (or the defaults it replaces), then `pg-dump-extra-args`. */
  pgDumpArgs: string[];
  pgDumpVersion: "auto" | number;
  /** Where pg_dump writes: a file, or a directory for the directory format. */
  dumpPath: string;
  /** New attempts from scratch when pg_dump loses its connection (a restart, a failover); 0 = none. */
  dumpRetries: number;
  /** How long pg_dump (every attempt, and the waits between them) may keep the rule open. */
  dumpTimeoutMs: number;
  verify: VerifyLevel;
  /** With `verify: restore`: compare every dumped table's rows in pg_dump's snapshot with the restored ones. */
  verifyRowCounts: boolean;
  /** Stricter than the URI's sslmode when set; never weaker (checked once the URI is known). */
  sslMode?: SslModeInput;
  /** CA to verify the server with: PEM text, an absolute file path, "system" (the OS roots) or "scalingo" (the region's CA, fetched). */
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
  /** Valid inputs worth a warning (a replacing `pg-dump-args` that drops a default flag). */
  warnings: string[];
  /** The S3 destination, when `s3-url` is set (src/s3). */
  s3?: S3Config;
}

/**
 * `jobs: 0` is one worker per CPU, but each worker is a connection to the production database: on a
 * 64-core runner that would be 64. Four keep a 2-4 core hosted runner busy; more must be asked for.
 */
export const MAX_DEFAULT_JOBS = 4;

const DATABASE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/;
// pg_dump --compress: a level, or method[:detail] where detail is a level or key=value list.
const COMPRESS = /^(\d|(gzip|lz4|zstd|none)(:[a-z0-9=,_-]+)?)$/;
const ARTIFACT_NAME_FORBIDDEN = /["<>|*?:\\/\r\n]/;

/**
 * Every input at once, in the order action.yml lists them: each section reads its own, and all
 * problems are reported together, each naming its input (docs/design.md).
 */
export function parseConfig(read: InputReader, env: Env, now: Date, cpuCount: number): Config {
  const problems: string[] = [];
  const warnings: string[] = [];
  const inputs: Inputs = {
    raw: read,
    text: (name) => read(name).trim(),
    fail: (input, message) => problems.push(`\`${input}\`: ${message}`),
    warn: (message) => warnings.push(message),
  };
  const scalingo = scalingoInputs(inputs);
  const firewall = firewallInputs(inputs, env);
  const { baseName, ...dump } = dumpInputs(inputs, env, now, cpuCount, scalingo.database);
  const checks = checkInputs(inputs, env, dump.pgDumpArgs, cpuCount);
  const artifact = artifactInputs(inputs, baseName);
  const s3 = s3Inputs(inputs, env, baseName);
  if (problems.length) throw new InputError(problems);
  return { ...scalingo, ...firewall, ...dump, ...checks, ...artifact, ...s3, warnings };
}

export function scalingoInputs({ raw, text, fail }: Inputs) {
  const apiToken = raw("api-token").trim();
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression shown to the user, not a template
  if (!apiToken) fail("api-token", "is required: pass the Scalingo API token from a secret, e.g. `${{ secrets.SCALINGO_API_TOKEN }}`.");
  else if (/\s/.test(apiToken)) fail("api-token", "contains white space: check the secret holds only the token.");

  const database = text("database");
  if (!database) fail("database", "is required: the Dedicated Resources database ID, as in `scalingo --database <id>`.");
  else if (!DATABASE_ID.test(database)) fail("database", `"${database}" is not a database ID (letters, digits, '-' and '_', up to 100).`);

  const region = text("region") || "osc-fr1";
  if (!REGION.test(region)) fail("region", `"${region}" is not a region name such as osc-fr1 or osc-secnum-fr1.`);

  const authUrl = serviceUrl(text("auth-url") || "https://auth.scalingo.com", "auth-url", fail);

  const runnerIp = text("runner-ip") || undefined;
  if (runnerIp && !isIPv4(runnerIp)) fail("runner-ip", `"${runnerIp}" is not an IPv4 address (Scalingo firewall rules are IPv4 only).`);

  const lookupLines = lines(raw("ip-lookup-urls"));
  for (const url of lookupLines) serviceUrl(url, "ip-lookup-urls", fail);
  const custom = lookupLines.length > 0;
  return {
    apiToken,
    database,
    region,
    authUrl,
    runnerIp,
    ipLookupUrls: custom ? lookupLines : [...DEFAULT_IP_LOOKUP_URLS],
    ipLookupUrlsCustom: custom,
    ipLookupPolicy: (custom ? "first" : "agree") as LookupPolicy,
  };
}

export function firewallInputs({ text, fail }: Inputs, env: Env) {
  // Sent as given (labels that work today keep working): Scalingo decides, and a refusal names it.
  const ruleLabel = text("rule-label") || undefined;
  if (ruleLabel && (/[\r\n]/.test(ruleLabel) || ruleLabel.length > 200)) fail("rule-label", "must be one line of at most 200 characters.");
  // A custom label in the default format would pass for another run's leftover in the sweep of
  // the repository it names: that format is reserved for the default labels.
  else if (ruleLabel && looksLikeOwnLabel(ruleLabel))
    fail("rule-label", `"${ruleLabel}" is in the action's own default format, reserved for its default labels: choose another label, or leave it empty.`);

  // A bare number keeps each input's historical unit: seconds here, minutes for the sweep.
  const reachableTimeoutMs = duration(
    text("reachable-timeout"),
    { input: "reachable-timeout", bareUnit: "s", fallbackMs: 300_000, minMs: 1000, maxMs: 3_600_000 },
    fail,
  );
  const staleRuleAgeMs = duration(
    text("stale-rule-age"),
    { input: "stale-rule-age", bareUnit: "m", fallbackMs: 720 * MINUTE, minMs: 0, maxMs: 365 * 24 * 60 * MINUTE },
    fail,
  );
  if (staleRuleAgeMs > 0 && staleRuleAgeMs < MIN_STALE_RULE_AGE_MINUTES * MINUTE)
    fail(
      "stale-rule-age",
      `"${text("stale-rule-age")}" is too short: a rule younger than ${MIN_STALE_RULE_AGE_MINUTES} minutes (6h, the longest job on GitHub-hosted runners) may belong to a run still going. Use 0 (off) or at least ${MIN_STALE_RULE_AGE_MINUTES} (6h); self-hosted runners: more than your longest job.`,
    );
  return { ...(ruleLabel ? { ruleLabel } : {}), run: runOf(env), repository: repositoryOf(env), reachableTimeoutMs, staleRuleAgeMs };
}

function dumpInputs({ raw, text, fail, warn }: Inputs, env: Env, now: Date, cpuCount: number, database: string) {
  const format = (text("format") || "custom") as DumpFormat;
  if (!FORMATS.includes(format)) fail("format", `"${format}" is not one of ${FORMATS.join(", ")}.`);

  const compress = text("compress") || undefined;
  if (compress && !COMPRESS.test(compress))
    fail("compress", `"${compress}" is not a pg_dump compression: a level 0-9, or gzip[:N], lz4[:N], zstd[:N] or none.`);

  const compressAfter = compressAfterInput(boolean(text("compress-after"), false, "compress-after", fail), format, compress, fail);

  const jobsInput = integer(text("jobs"), 0, 0, 64, "jobs", `parallel workers (0 = one per CPU, at most ${MAX_DEFAULT_JOBS})`, fail);
  if (jobsInput > 1 && format !== "directory")
    fail("jobs", `parallel workers need \`format: directory\`; got format "${format}". Remove \`jobs\` or use the directory format.`);
  const jobs = format === "directory" ? jobsInput || Math.min(MAX_DEFAULT_JOBS, Math.max(1, cpuCount)) : undefined;

  // `pg-dump-args` replaces the defaults, `pg-dump-extra-args` adds to them (pg-dump-seed.ts).
  const replacing = raw("pg-dump-args").trim();
  const pgDumpArgs = [
    ...argsInput(replacing || DEFAULT_PG_DUMP_ARGS, "pg-dump-args", fail),
    ...argsInput(raw("pg-dump-extra-args"), "pg-dump-extra-args", fail),
  ];
  const missing = replacing ? missingSeedFlags(argsInput(replacing, "pg-dump-args", () => undefined)) : [];
  if (missing.length)
    warn(
      `\`pg-dump-args\` replaces the default arguments, and ${missing.join(" ")} ${missing.length > 1 ? "are" : "is"} not among yours. To add options to the defaults instead, put them in \`pg-dump-extra-args\` and leave \`pg-dump-args\` empty.`,
    );

  const versionText = text("pg-dump-version") || "auto";
  const pgDumpVersion: Config["pgDumpVersion"] = versionText === "auto" ? "auto" : Number(versionText);
  if (pgDumpVersion !== "auto" && !(Number.isInteger(pgDumpVersion) && pgDumpVersion >= 10 && pgDumpVersion <= 40)) {
    fail("pg-dump-version", `"${versionText}" is not \`auto\` or a PostgreSQL major version such as 17.`);
  }

  const dumpRetries = integer(text("dump-retries"), 1, 0, 10, "dump-retries", "new attempts when pg_dump loses its connection; 0 = none", fail);

  // A bare number is minutes; the default stays under the hosted runners' 6-hour job limit, so the
  // action, not the runner, stops pg_dump and closes the rule.
  const dumpTimeoutMs = duration(text("dump-timeout"), { input: "dump-timeout", bareUnit: "m", fallbackMs: 5 * HOUR, minMs: 1000, maxMs: 7 * 24 * HOUR }, fail);

  const baseName = `${database || "database"}-${utcStamp(now)}`;
  const pathInput = text("path");
  const dumpPath = pathInput
    ? path.resolve(env.GITHUB_WORKSPACE || process.cwd(), pathInput)
    : path.join(runnerTemp(env), "scalingo-pg-dump", baseName + extensionOf(format, compress));
  return {
    format,
    ...(compressAfter === undefined ? { compress } : { compressAfter }),
    jobs,
    pgDumpArgs,
    pgDumpVersion,
    dumpPath,
    dumpRetries,
    dumpTimeoutMs,
    baseName,
  };
}

/**
 * `compress-after: true`: pg_dump writes uncompressed while the rule is open, and the data files
 * are gzipped after it is removed; `compress` then gives that gzip level (default 6). Only the
 * directory format keeps one file per table that pg_restore reads compressed or not.
 */
function compressAfterInput(on: boolean, format: DumpFormat, compress: string | undefined, fail: Fail): number | undefined {
  if (!on) return undefined;
  if (format !== "directory") {
    fail("compress-after", `compresses a directory dump's files after the rule is removed: it needs \`format: directory\` (format is "${format}").`);
    return undefined;
  }
  if (!compress) return DEFAULT_AFTER_LEVEL;
  const level = /^(?:gzip:)?([1-9])$/.exec(compress)?.[1] ?? (compress === "gzip" ? String(DEFAULT_AFTER_LEVEL) : undefined);
  if (level === undefined) fail("compress", `with \`compress-after\`, "${compress}" is not a gzip level: use 1-9 (or gzip:N), or leave it empty for 6.`);
  return Number(level ?? DEFAULT_AFTER_LEVEL);
}

function checkInputs(inputs: Inputs, env: Env, pgDumpArgs: string[], cpuCount: number) {
  const { text, fail } = inputs;
  const verify = verifyLevel(text("verify"), fail);
  const verifyRowCounts = boolean(text("verify-row-counts"), false, "verify-row-counts", fail);
  if (verifyRowCounts && verify !== "restore")
    fail("verify-row-counts", `compares the dump with its restored copy: it needs \`verify: restore\` (verify is "${verify}").`);
  if (verifyRowCounts && setsSnapshot(parsePgDumpArgs(pgDumpArgs)))
    fail("pg-dump-args", "--snapshot is set by the action when `verify-row-counts` is true (the rows are counted in that snapshot): remove it.");
  // Read by the install while the rule propagates: refused now, before anything is opened.
  const mirror = mirrorProblem(env[PGDG_MIRROR_ENV]);
  if (mirror) fail(PGDG_MIRROR_ENV, mirror);
  return { verify, verifyRowCounts, restoreJobs: Math.max(1, Math.min(cpuCount, 8)), tempDir: runnerTemp(env), ...tlsInputs(inputs, env) };
}

/** `ssl-mode` and `ssl-root-cert`: the restore action reads them too (docs/design.md, TLS). */
export function tlsInputs({ raw, text, fail }: Inputs, env: Env): { sslMode?: SslModeInput; sslRootCert?: string } {
  const sslMode = (text("ssl-mode") || undefined) as SslModeInput | undefined;
  if (sslMode && !SSL_MODE_INPUTS.includes(sslMode)) fail("ssl-mode", `"${sslMode}" is not one of ${SSL_MODE_INPUTS.join(", ")} (empty: the URI's).`);
  const sslRootCert = rootCert(raw("ssl-root-cert").trim(), env, fail);
  return { ...(sslMode ? { sslMode } : {}), ...(sslRootCert ? { sslRootCert } : {}) };
}

function artifactInputs({ raw, text, fail }: Inputs, baseName: string) {
  const upload = boolean(text("upload"), true, "upload", fail);
  const allowUnencryptedPublic = boolean(text("allow-unencrypted-public"), false, "allow-unencrypted-public", fail);

  const artifactName = text("artifact-name") || baseName;
  if (text("artifact-name") && ARTIFACT_NAME_FORBIDDEN.test(artifactName))
    fail("artifact-name", `"${artifactName}" contains a character artifact names reject: " : < > | * ? \\ / or a line break.`);

  const retentionText = text("retention-days");
  const retentionDays = retentionText ? integer(retentionText, 0, 1, 90, "retention-days", "days", fail) : undefined;

  const encryptionRecipients = lines(raw("encryption-recipients"));
  encryptionRecipients.forEach((recipient, i) => {
    const problem = recipientProblem(recipient, i + 1);
    if (problem) fail("encryption-recipients", problem);
  });
  return { upload, allowUnencryptedPublic, artifactName, retentionDays, encryptionRecipients };
}

/** pg_dump arguments as pg_dump reads them; options the action sets itself, and operands, are refused. */
function argsInput(text: string, input: string, fail: Fail): string[] {
  if (!text.trim()) return [];
  try {
    const words = parseWords(text.trim());
    const problem = reservedArgsProblem(parsePgDumpArgs(words));
    if (problem) fail(input, problem);
    return words;
  } catch (error) {
    fail(input, (error as Error).message);
    return [];
  }
}

export function runnerTemp(env: Env): string {
  return env.RUNNER_TEMP || env.TMPDIR || "/tmp";
}

const HOUR = 3_600_000;

/** Jobs on GitHub-hosted runners end after 6 hours: an own rule older than that belongs to a dead run. */
export const MIN_STALE_RULE_AGE_MINUTES = 360;
const MINUTE = 60_000;

/** `true` stays an alias of `list`, today's check, so existing workflows keep their meaning. */
function verifyLevel(value: string, fail: Fail): VerifyLevel {
  if (!value || TRUE.includes(value)) return "list";
  if (FALSE.includes(value)) return "false";
  if ((VERIFY_LEVELS as readonly string[]).includes(value)) return value as VerifyLevel;
  fail("verify", `"${value}" is not one of list (or true), restore, false.`);
  return "list";
}
