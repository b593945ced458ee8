import type { Log } from "../types.js";
import type { RestoreConfig } from "./config.js";
import { type ObtainedDump, obtainLocal } from "./prepare.js";

/** The dump on the runner, from wherever the inputs say, with its manifest: before anything is opened. */
export async function obtainDump(config: RestoreConfig, folder: string, log: Log, env: NodeJS.ProcessEnv): Promise<ObtainedDump & { description: string }> {
  const { source } = config;
  // Each remote source's client is loaded only for that source (a chunk of its own): the AWS SDK,
  // and @actions/artifact with its Azure SDK, are most of the bundle, and parsing them cost every
  // restore about half a second before its first step.
  if (source.kind === "s3") {
    const { obtainFromS3 } = await import("./s3-download.js");
    return obtainFromS3(source.object, { folder, identity: config.decryptionIdentity }, log);
  }
  if (source.kind !== "path") {
    const { obtainArtifact } = await import("./download.js");
    return obtainArtifact(source, { folder, identity: config.decryptionIdentity, repository: config.repository }, { env, log });
  }
  const dump = await obtainLocal(source.path, config.decryptionIdentity);
  log.info(`Restoring ${source.path}${dump.manifest ? " (with its manifest)" : ""}.`);
  return { ...dump, description: `\`${source.path}\`` };
}
