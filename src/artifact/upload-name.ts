import { chmod, copyFile, link, mkdtemp, rm } from "node:fs/promises";
import * as path from "node:path";

export interface NamedFile {
  /** The file under the artifact's name, and the folder holding it (the upload's root). */
  file: string;
  dir: string;
  /** Whether `dir` is a folder made for the upload, which remove() deletes. */
  temporary: boolean;
  remove(): Promise<void>;
}

/**
 * With `skipArchive`, @actions/artifact names the artifact after the file's base name. When
 * `path` names the dump otherwise, the same bytes get the artifact's name in a private folder
 * beside it: a hard link (same file system, no copy), or a copy where links are refused.
 */
export async function namedCopy(file: string, name: string): Promise<NamedFile> {
  if (path.basename(file) === name) return { file, dir: path.dirname(file), temporary: false, remove: async () => undefined };
  const dir = await mkdtemp(path.join(path.dirname(file), "upload-"));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    await chmod(dir, 0o700);
    const named = path.join(dir, name);
    await link(file, named).catch(async () => {
      await copyFile(file, named);
      await chmod(named, 0o600);
    });
    return { file: named, dir, temporary: true, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
