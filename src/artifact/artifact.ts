import { type ArtifactClient, DefaultArtifactClient } from "@actions/artifact";
import { type DumpFormat, extensionOf } from "../naming.js";
import type { Log } from "../types.js";
import { ADVICE, canRetryAs, uploadError } from "./upload-errors.js";
import { namedCopy } from "./upload-name.js";

// The artifact step of a backup: its name, its retention, the upload through @actions/artifact and
// the one retry under another name. backup.ts decides when; this module decides how.

export interface ArtifactPlan {
  client: Pick<ArtifactClient, "uploadArtifact">;
  /** `<artifact-name>`, without extension. */
  baseName: string;
  /** What follows the name: the format's extension, `.age` when encrypted. */
  extension: string;
  retentionDays?: number;
  log: Log;
}

export interface ArtifactEnv {
  ACTIONS_RUNTIME_TOKEN?: string;
  ACTIONS_RESULTS_URL?: string;
  GITHUB_SERVER_URL?: string;
}

export interface Uploaded {
  id: number;
  /** The artifact's name: the uploaded file's name, extension included. */
  name: string;
  size: number;
  /** sha256 (hex) of the bytes uploaded, computed by @actions/artifact as it sent them. */
  digest: string;
}

/**
 * GitHub Enterprise Server has no artifact service @actions/artifact v2+ can use. The same test as
 * the package's own (`isGhes` in its internal config module, which it does not export; a test
 * holds this one to the client's GHESNotSupportedError).
 */
export function isGhes(serverUrl: string | undefined): boolean {
  const host = new URL(serverUrl || "https://github.com").hostname.trimEnd().toUpperCase();
  return !(host === "GITHUB.COM" || host.endsWith(".GHE.COM") || host.endsWith(".LOCALHOST"));
}

/** Checked before anything is opened: without artifact access the backup could not be kept. */
/** The inputs that name and keep the artifact. */
export interface ArtifactOptions {
  format: DumpFormat;
  compress?: string;
  encryptionRecipients: string[];
  artifactName: string;
  retentionDays?: number;
}

export function planArtifact(config: ArtifactOptions, env: ArtifactEnv, log: Log, client: ArtifactPlan["client"] = new DefaultArtifactClient()): ArtifactPlan {
  if (!env.ACTIONS_RUNTIME_TOKEN || !env.ACTIONS_RESULTS_URL) {
    throw uploadError("ACTIONS_RUNTIME_TOKEN or ACTIONS_RESULTS_URL is missing: artifacts can only be uploaded inside a GitHub Actions job.");
  }
  if (isGhes(env.GITHUB_SERVER_URL)) {
    throw uploadError(ADVICE.ghes);
  }
  const extension = (config.format === "directory" ? ".tar" : extensionOf(config.format, config.compress)) + (config.encryptionRecipients.length ? ".age" : "");
  return { client, baseName: config.artifactName, extension, log, ...(config.retentionDays ? { retentionDays: config.retentionDays } : {}) };
}

/**
 * Uploads the finished file as one artifact holding it as is (`skipArchive`: no zip around an
 * already-compressed dump). The service takes the name when an upload starts, so an attempt that
 * fails after that burns it: the one retry uses `<name>-retry`. `scratch` holds, while they exist,
 * the folders to delete if the run is cancelled.
 */
export async function uploadArtifact(plan: ArtifactPlan, file: string, scratch: Set<string>): Promise<Uploaded> {
  const name = `${plan.baseName}${plan.extension}`;
  plan.log.info(`Uploading artifact ${name}...`);
  try {
    return await uploadAs(plan, file, name, scratch);
  } catch (error) {
    if (!canRetryAs(error)) throw uploadError(error, { name, file });
    const retry = `${plan.baseName}-retry${plan.extension}`;
    plan.log.warning(`${uploadError(error, { name, file }).message}\nRetrying once as ${retry} (the failed attempt may have taken the name).`);
    try {
      return await uploadAs(plan, file, retry, scratch);
    } catch (again) {
      throw uploadError(again, { name: retry, file });
    }
  }
}

async function uploadAs(plan: ArtifactPlan, file: string, name: string, scratch: Set<string>): Promise<Uploaded> {
  const named = await namedCopy(file, name);
  if (named.temporary) scratch.add(named.dir);
  try {
    const options = { skipArchive: true, ...(plan.retentionDays ? { retentionDays: plan.retentionDays } : {}) };
    const result = await plan.client.uploadArtifact(name, [named.file], named.dir, options);
    if (result.id === undefined || !result.digest) throw new Error("@actions/artifact answered without an artifact id or digest");
    return { id: result.id, name, size: result.size ?? 0, digest: result.digest };
  } finally {
    await named.remove();
    scratch.delete(named.dir);
  }
}

/** The artifact's page, when the run is known (GitHub sets these on every runner). */
export function artifactUrl(id: number, env: { GITHUB_SERVER_URL?: string; GITHUB_REPOSITORY?: string; GITHUB_RUN_ID?: string }): string | undefined {
  if (!env.GITHUB_REPOSITORY || !env.GITHUB_RUN_ID) return undefined;
  return `${env.GITHUB_SERVER_URL ?? "https://github.com"}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}/artifacts/${id}`;
}
