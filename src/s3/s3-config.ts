import type { Env, Inputs } from "../inputs.js";
import { insecureUrlProblem } from "../urls.js";
import { type KeepPolicy, parseKeep } from "./keep.js";

export type LockMode = "GOVERNANCE" | "COMPLIANCE";

/** Credentials read from the standard AWS variables once, masked at once; never inputs, never passed on to a child. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Where the client connects, and as whom: all `createS3Client` needs. */
export interface S3Location {
  bucket: string;
  /** Empty means AWS (the SDK resolves the regional endpoint). */
  endpoint?: string;
  region: string;
  credentials: S3Credentials;
}

/** The S3 destination (`s3-url` set), parsed once with the other inputs. */
export interface S3Config extends S3Location {
  /** Empty, or ends with `/`: objects are `<prefix><database>-<UTC stamp><ext>`. */
  prefix: string;
  /** `<database>-<UTC stamp>`: the object's name before its extension (rotation reads the stamp back). */
  baseName: string;
  keep?: KeepPolicy;
  lock?: { days: number; mode: LockMode };
}

export const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const LOCK_MODES: readonly LockMode[] = ["GOVERNANCE", "COMPLIANCE"];
/** 100 years: S3 accepts longer, but a longer one is surely a typo. */
const MAX_LOCK_DAYS = 36_500;

/**
 * The `s3-*` inputs. Credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN
 * (what configure-aws-credentials or `env:` from secrets set), and from nowhere else: no profile
 * file, no instance metadata, so the destination is exactly the one the workflow names.
 */
export function s3Inputs({ text, fail }: Inputs, env: Env, baseName: string): { s3?: S3Config } {
  const url = text("s3-url");
  const others = ["s3-endpoint", "s3-region", "s3-keep", "s3-object-lock-days", "s3-object-lock-mode"].filter((name) => text(name));
  if (!url) {
    for (const name of others) fail(name, "needs `s3-url` (the destination it configures), e.g. `s3://my-backups/scalingo/`.");
    return {};
  }
  const location = parseS3Url(url, fail);
  const { endpoint, region } = endpointInputs(text, fail, env);

  let keep: KeepPolicy | undefined;
  if (text("s3-keep")) {
    try {
      keep = parseKeep(text("s3-keep"));
    } catch (error) {
      fail("s3-keep", (error as Error).message);
    }
  }
  return {
    s3: { ...location, endpoint, region, keep, baseName, lock: lockInputs(text, fail), credentials: credentialsFrom(env, fail, "s3-url") },
  };
}

/** `s3-endpoint` and `s3-region`, read alike by the backup (`s3-url`) and the restore (`s3-uri`). */
export function endpointInputs(text: Inputs["text"], fail: Inputs["fail"], env: Env): { endpoint?: string; region: string } {
  const endpoint = text("s3-endpoint").replace(/\/+$/, "") || undefined;
  if (endpoint) {
    const problem = insecureUrlProblem(endpoint);
    if (problem) fail("s3-endpoint", problem);
  }
  const region = text("s3-region") || env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint ? "us-east-1" : "");
  if (!region) fail("s3-region", "is required for AWS (the bucket's region, e.g. eu-west-3), or set AWS_REGION.");
  return { ...(endpoint ? { endpoint } : {}), region };
}

function parseS3Url(url: string, fail: Inputs["fail"]): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  const bucket = match?.[1] ?? "";
  if (!match || !BUCKET.test(bucket)) {
    fail("s3-url", `"${url}" is not s3://<bucket>/<prefix>/ (a bucket name: 3 to 63 lower-case letters, digits, '.' and '-').`);
    return { bucket, prefix: "" };
  }
  let prefix = match[2] ?? "";
  if (prefix && !prefix.endsWith("/")) prefix += "/";
  if (/[\r\n\\]|\/\//.test(prefix) || prefix.startsWith("/"))
    fail("s3-url", `the prefix "${prefix}" holds an empty folder name, a backslash or a line break: use s3://${bucket}/folder/`);
  return { bucket, prefix };
}

function lockInputs(text: Inputs["text"], fail: Inputs["fail"]): S3Config["lock"] {
  const daysText = text("s3-object-lock-days");
  const modeText = (text("s3-object-lock-mode") || "GOVERNANCE").toUpperCase() as LockMode;
  if (!LOCK_MODES.includes(modeText)) fail("s3-object-lock-mode", `"${text("s3-object-lock-mode")}" is not GOVERNANCE or COMPLIANCE.`);
  if (!daysText) {
    if (text("s3-object-lock-mode")) fail("s3-object-lock-mode", "needs `s3-object-lock-days` (how long each backup stays locked).");
    return undefined;
  }
  const days = Number(daysText);
  if (!/^\d+$/.test(daysText) || days < 1 || days > MAX_LOCK_DAYS) {
    fail("s3-object-lock-days", `"${daysText}" is not a whole number of days from 1 to ${MAX_LOCK_DAYS}.`);
    return undefined;
  }
  return { days, mode: modeText };
}

/** Where the credentials come from: the standard AWS variables, and nowhere else. */
export const CREDENTIAL_VARIABLES = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] as const;

/** Both entry points mask the credentials before the inputs are parsed, whatever else is wrong. */
export function maskCredentials(env: Env, setSecret: (value: string) => void): void {
  for (const name of CREDENTIAL_VARIABLES) {
    const value = env[name]?.trim();
    if (value) setSecret(value);
  }
}

export function credentialsFrom(env: Env, fail: Inputs["fail"], input: string): S3Credentials {
  const accessKeyId = env.AWS_ACCESS_KEY_ID?.trim() ?? "";
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY?.trim() ?? "";
  const sessionToken = env.AWS_SESSION_TOKEN?.trim() || undefined;
  if (!accessKeyId || !secretAccessKey)
    fail(
      input,
      "needs credentials in the environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), set by aws-actions/configure-aws-credentials or from secrets in `env:`. They are never inputs.",
    );
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}
