import * as path from "node:path";
import { type ArtifactPlan, uploadArtifact } from "../artifact/artifact.js";
import type { Report } from "../report/report.js";
import { removeQuietly } from "../runner/files.js";
import { manifestFrom, manifestName, writeManifestFile } from "./manifest.js";

// The backup's last step: the manifest beside the finished dump, and in its own small artifact
// named after the dump's, so that a restore finds one from the other.

/** `<dump file>.manifest.json[.age]`: beside the dump, so `path` restores find it too. */
export function manifestPathFor(dumpFile: string, encrypted: boolean): string {
  return path.join(path.dirname(dumpFile), manifestName(path.basename(dumpFile), encrypted));
}

/**
 * Writes the manifest for the finished `file` (its sha256 known) and uploads it when `artifacts`
 * is set. The dump's name is the artifact's when it was uploaded (a retry renames it).
 */
export async function recordManifest(
  report: Report,
  o: { file: string; compress?: string | undefined; recipients: readonly string[]; artifacts?: ArtifactPlan | undefined; partial: Set<string>; now: Date },
): Promise<void> {
  const encrypted = o.recipients.length > 0;
  const dumpName = report.artifactName ?? path.basename(o.file);
  const file = manifestPathFor(o.file, encrypted);
  o.partial.add(file);
  try {
    await writeManifestFile(file, manifestFrom(report, { name: dumpName, compress: o.compress, now: o.now }), o.recipients);
  } catch (error) {
    // EEXIST: a file the action did not write is never replaced, nor removed.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") await removeQuietly(file);
    throw error;
  } finally {
    o.partial.delete(file);
  }
  report.manifestPath = file;
  if (!o.artifacts) return;
  const plan = { ...o.artifacts, baseName: `${dumpName}.manifest`, extension: `.json${encrypted ? ".age" : ""}` };
  const uploaded = await uploadArtifact(plan, file, o.partial);
  report.manifestArtifactName = uploaded.name;
}
