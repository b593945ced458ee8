// Names the action gives to what it creates: the dump's file and its extension (the rule's label: scalingo/rule-label.ts).

export type DumpFormat = "custom" | "directory" | "tar" | "plain";
export type CompressionMethod = "none" | "gzip" | "lz4" | "zstd";

/** `20261125T030405Z`: sortable, and safe in file and artifact names. */
export function utcStamp(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

export function repositoryOf(env: Record<string, string | undefined>): string {
  return env.GITHUB_REPOSITORY || "local";
}

/** What the default rule label says about the run, for people: run id, attempt and job (see rule-label.ts). */
export function runOf(env: Record<string, string | undefined>): { runId: string; attempt: string; job: string } {
  return { runId: env.GITHUB_RUN_ID || "0", attempt: env.GITHUB_RUN_ATTEMPT || "1", job: env.GITHUB_JOB || "job" };
}

/**
 * The file's extension. pg_dump compresses a plain dump as a whole (gzip, lz4 or zstd stream), so
 * it is named for what opens it; archive formats compress inside and keep their name.
 */
export function extensionOf(format: DumpFormat, compress?: string): string {
  if (format === "plain") return `.sql${PLAIN_SUFFIX[compressionMethod(compress)]}`;
  return { custom: ".dump", directory: "", tar: ".tar" }[format];
}

const PLAIN_SUFFIX: Record<CompressionMethod, string> = { none: "", gzip: ".gz", lz4: ".lz4", zstd: ".zst" };

/**
 * What `compress` makes pg_dump use on a plain dump: empty is pg_dump's default for plain
 * (none), a level 1-9 is gzip, `0` and `none` are none, otherwise the method named.
 */
export function compressionMethod(compress: string | undefined): CompressionMethod {
  if (!compress || compress === "0" || compress.startsWith("none")) return "none";
  if (/^\d$/.test(compress)) return "gzip";
  return compress.split(":")[0] as CompressionMethod;
}
