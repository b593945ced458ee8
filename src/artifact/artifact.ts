import { type Config, extensionOf } from "../config.js";
import { errorMessage } from "../errors.js";
import type { Log } from "../types.js";
import { expiryFor, type ResultsEnv, type ResultsService, resultsService } from "./results-service.js";
import { ArtifactUpload, type Uploaded, uploadError } from "./upload.js";

// The artifact step of a backup: its name, its retention, the upload during the dump, and the one
// retry under another name. backup.ts decides when; this module decides how.

export interface ArtifactPlan {
  service: ResultsService;
  /** `<artifact-name>`, without extension. */
  baseName: string;
  /** What follows the name: the format's extension, `.age` when encrypted. */
  extension: string;
  expiresAt?: Date;
  setSecret(secret: string): void;
  log: Log;
}

export type ArtifactEnv = ResultsEnv & { GITHUB_RETENTION_DAYS?: string };

/** Checked before anything is opened: without artifact access the backup could not be kept. */
export function planArtifact(config: Config, env: ArtifactEnv, deps: { setSecret(s: string): void; log: Log }): ArtifactPlan {
  const service = resultsService(env);
  const { expiresAt, cappedTo } = expiryFor(config.retentionDays, Number(env.GITHUB_RETENTION_DAYS) || undefined, new Date());
  if (cappedTo) deps.log.warning(`\`retention-days\` is above this repository's maximum; the artifact is kept ${cappedTo} days.`);
  const extension = (config.format === "directory" ? ".tar" : extensionOf(config.format)) + (config.encryptionRecipients.length ? ".age" : "");
  return { service, baseName: config.artifactName, extension, setSecret: deps.setSecret, log: deps.log, ...(expiresAt ? { expiresAt } : {}) };
}

/** Whether pg_dump writes the artifact's very bytes: then they can go up while it writes them. */
export function uploadsDuringDump(config: Config): boolean {
  return config.upload && config.format !== "directory" && config.encryptionRecipients.length === 0;
}

function start(plan: ArtifactPlan, suffix: string, file: string): Promise<ArtifactUpload> {
  const o = { service: plan.service, name: `${plan.baseName}${suffix}${plan.extension}`, file, setSecret: plan.setSecret };
  return ArtifactUpload.start(plan.expiresAt ? { ...o, expiresAt: plan.expiresAt } : o);
}

/** The upload during the dump only saves time: if it cannot start, the upload after the dump does it all. */
export async function followDump(plan: ArtifactPlan, file: string, dumpDone: Promise<unknown>): Promise<ArtifactUpload | undefined> {
  try {
    const upload = await start(plan, "", file);
    upload.follow(dumpDone);
    return upload;
  } catch (error) {
    plan.log.warning(`Could not start uploading during the dump (${errorMessage(error)}); the upload starts when the dump is done.`);
    return undefined;
  }
}

/**
 * Completes the upload the dump started, or uploads the finished file. The service takes a name
 * when an upload starts, so a failed attempt burns it: the one retry uses `<name>-retry`.
 */
export async function uploadArtifact(plan: ArtifactPlan, file: string, early?: Promise<ArtifactUpload | undefined>): Promise<Uploaded> {
  plan.log.info(`Uploading artifact ${plan.baseName}${plan.extension}...`);
  let uploaded: Uploaded;
  try {
    uploaded = await ((await early) ?? (await start(plan, "", file))).complete();
  } catch (error) {
    plan.log.warning(`${uploadError(error, file).message}\nRetrying once under another artifact name.`);
    try {
      uploaded = await (await start(plan, "-retry", file)).complete();
    } catch (again) {
      throw uploadError(again, file);
    }
  }
  const during = uploaded.blocks - uploaded.stagedAtFinish;
  if (during > 0) plan.log.info(`${during} of ${uploaded.blocks} blocks were uploaded while pg_dump ran.`);
  return uploaded;
}

/** The artifact's page, when the run is known (GitHub sets these on every runner). */
export function artifactUrl(id: number, env: { GITHUB_SERVER_URL?: string; GITHUB_REPOSITORY?: string; GITHUB_RUN_ID?: string }): string | undefined {
  if (!env.GITHUB_REPOSITORY || !env.GITHUB_RUN_ID) return undefined;
  return `${env.GITHUB_SERVER_URL ?? "https://github.com"}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}/artifacts/${id}`;
}
