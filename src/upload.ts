import * as path from "node:path";
import { DefaultArtifactClient } from "@actions/artifact";
import * as tar from "tar";
import { ActionError, errorMessage } from "./errors.js";

/**
 * The directory format is a folder of already-compressed files: pack it into one uncompressed
 * tar, so it uploads as a single file and nothing is compressed twice.
 */
export async function packDirectory(dir: string, tarPath: string): Promise<void> {
  await tar.c({ cwd: path.dirname(dir), file: tarPath, portable: true }, [path.basename(dir)]);
}

export interface Uploaded {
  id: number;
  name: string;
  size: number;
  digest: string;
}

/**
 * Uploads one file as is (`skipArchive`): no zip around an already-compressed dump, and the
 * artifact downloads as the dump itself. With skipArchive the artifact takes the file's name.
 */
export async function uploadDump(file: string, retentionDays?: number): Promise<Uploaded> {
  try {
    const result = await new DefaultArtifactClient().uploadArtifact(path.basename(file), [file], path.dirname(file), { retentionDays, skipArchive: true });
    if (result.id === undefined || !result.digest) throw new Error("the artifact service returned no id or digest");
    return { id: result.id, name: path.basename(file), size: result.size ?? 0, digest: result.digest };
  } catch (error) {
    throw new ActionError(
      "upload",
      `Uploading the artifact failed: ${errorMessage(error)}. The dump is still at ${file} for a later step; check the job has the artifact permissions and the name is unique in the run (re-runs need a unique \`artifact-name\`).`,
    );
  }
}
