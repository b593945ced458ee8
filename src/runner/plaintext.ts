import { removeQuietly } from "./files.js";

// Plaintext the run writes (the dump, its folder, its tar, a decompressed copy): every path is
// known to the post step before the file exists, so a killed main leaves nothing post cannot find.

/**
 * The set of files and folders that are not a finished backup yet. Every change is saved at once
 * (`persist`), so what post reads is what main knew. Paths are added before the file is created
 * exclusively and dropped when the creation finds something there (not this run's), and when the
 * file is finished (the backup kept), so post never removes a file that existed before the run,
 * nor a finished one.
 */
export class PlaintextFiles extends Set<string> {
  constructor(private readonly persist: (paths: string[]) => void = () => undefined) {
    super();
  }

  override add(target: string): this {
    if (this.has(target)) return this;
    super.add(target);
    this.persist([...this]);
    return this;
  }

  override delete(target: string): boolean {
    const had = super.delete(target);
    if (had) this.persist([...this]);
    return had;
  }
}

/** Removes the listed files and folders (main's set, or what post read from the saved state). */
export async function removePlaintext(paths: Iterable<string>): Promise<void> {
  await Promise.all([...paths].map((target) => removeQuietly(target)));
}

/** The paths main saved; anything unreadable counts as none. */
export function parseSavedPaths(saved: string): string[] {
  try {
    const paths: unknown = JSON.parse(saved || "[]");
    return Array.isArray(paths) ? paths.filter((p): p is string => typeof p === "string" && p.length > 0) : [];
  } catch {
    return [];
  }
}
