// Object names: `<prefix><database>-<UTC yyyymmddThhmmssZ><ext>` for the dump, and the same name
// plus `.manifest.json` (`.manifest.json.age` when encrypted) for its manifest. Rotation recognises only this database's own names: other
// databases, other tools' objects and anything renamed by hand under the same prefix are never touched.

const MANIFEST_SUFFIX = String.raw`\.manifest\.json(?:\.age)?`;

/** Extensions the action writes: .dump, .tar, .sql[.gz|.lz4|.zst], each optionally .age; or none then .tar. */
const EXTENSION = String.raw`(?:\.dump|\.tar|\.sql(?:\.gz|\.lz4|\.zst)?)?(?:\.tar)?(?:\.age)?`;
const STAMP = String.raw`(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z`;

export function dumpKey(prefix: string, baseName: string, extension: string): string {
  return `${prefix}${baseName}${extension}`;
}

/** One backup found under the prefix: its time (from its name), and the keys that make it up. */
export interface StoredBackup {
  at: Date;
  keys: string[];
}

/**
 * Groups the listed keys into this database's backups, by time: a dump and its manifest go
 * together (either may be missing, after an interrupted run); every other key is left out.
 */
export function ownBackups(keys: readonly string[], prefix: string, database: string): StoredBackup[] {
  const pattern = new RegExp(`^${escapeRegExp(prefix)}${escapeRegExp(database)}-${STAMP}${EXTENSION}(?:${MANIFEST_SUFFIX})?$`);
  const byTime = new Map<number, string[]>();
  for (const key of keys) {
    const m = pattern.exec(key);
    if (!m) continue;
    const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
    const at = Date.UTC(y, mo - 1, d, h, mi, s);
    if (Number.isNaN(at) || new Date(at).getUTCDate() !== d) continue;
    byTime.set(at, [...(byTime.get(at) ?? []), key]);
  }
  return [...byTime].map(([at, group]) => ({ at: new Date(at), keys: group.sort() }));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}
