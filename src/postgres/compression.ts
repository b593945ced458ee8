import type { DumpFormat } from "../naming.js";

// What pg_dump compresses with. The firewall rule stays open for pg_dump's whole run, and at
// pg_dump's own default (gzip 6) most of that run is compression on the runner, not the server
// sending rows: the default is the lightest compression that keeps the dump about as small,
// chosen per pg_dump major by the benchmark on two datasets (docs/decisions.md, "Compression").

/**
 * pg_dump 15 and older compress with gzip only: the level with the shortest dump phase whose
 * output stays within 1.15x gzip 6's on both bench datasets. Levels 1 to 3 are zlib's fast
 * deflate, 4 and up its lazy-matching one, which costs about twice the CPU.
 */
export const DEFAULT_GZIP_LEVEL = 3;

/** pg_dump 16 brought lz4 and zstd; zstd at level 1 compresses about as well as gzip 6 for a fraction of its CPU. */
export const DEFAULT_MODERN_COMPRESSION = "zstd:1";
export const FIRST_MODERN_MAJOR = 16;

/** `compress-after` with no level given: the rule is closed by then, so size matters more than speed. */
export const DEFAULT_AFTER_LEVEL = 6;

/**
 * The `--compress` the action passes when `compress` is empty. The custom and directory formats
 * only: tar cannot be compressed by pg_dump, and a plain dump stays the uncompressed `.sql` its
 * name promises.
 */
export function defaultCompression(major: number, format: DumpFormat): string | undefined {
  if (format !== "custom" && format !== "directory") return undefined;
  return major >= FIRST_MODERN_MAJOR ? DEFAULT_MODERN_COMPRESSION : String(DEFAULT_GZIP_LEVEL);
}

export interface Compression {
  /** pg_dump's `--compress`; undefined passes none (pg_dump's own default). */
  pgDump?: string;
  /** `compress-after`: the gzip level for the directory's data files once the rule is closed. */
  afterLevel?: number;
  /** For the job summary: what was used and why. */
  description?: string;
}

/** The user's `compress` wins; else the default for this pg_dump major; `compress-after` dumps uncompressed. */
export function resolveCompression(
  config: { format: DumpFormat; compress?: string | undefined; compressAfter?: number | undefined },
  major: number,
): Compression {
  if (config.compressAfter !== undefined) {
    return {
      pgDump: "0",
      afterLevel: config.compressAfter,
      description: `gzip ${config.compressAfter}, after the rule was removed (pg_dump wrote uncompressed)`,
    };
  }
  if (config.compress) return { pgDump: config.compress, description: config.compress };
  const chosen = defaultCompression(major, config.format);
  return chosen ? { pgDump: chosen, description: `${chosen} (the action's default for pg_dump ${major})` } : {};
}
