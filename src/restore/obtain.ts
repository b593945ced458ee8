import type { Log } from "../types.js";
import type { RestoreConfig } from "./config.js";
import { obtainArtifact } from "./download.js";
import { type ObtainedDump, obtainLocal } from "./prepare.js";
import { obtainFromS3 } from "./s3-download.js";

/** The dump on the runner, from wherever the inputs say, with its manifest: before anything is opened. */
export async function obtainDump(config: RestoreConfig, folder: string, log: Log, env: NodeJS.ProcessEnv): Promise<ObtainedDump & { description: string }> {
  const { source } = config;
  if (source.kind === "s3") return obtainFromS3(source.object, { folder, identity: config.decryptionIdentity }, log);
  if (source.kind !== "path") return obtainArtifact(source, { folder, identity: config.decryptionIdentity, repository: config.repository }, { env, log });
  const dump = await obtainLocal(source.path, config.decryptionIdentity);
  log.info(`Restoring ${source.path}${dump.manifest ? " (with its manifest)" : ""}.`);
  return { ...dump, description: `\`${source.path}\`` };
}
