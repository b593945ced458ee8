import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
/** Every bundle `npm run build` writes: the backup's main and post, the restore action's. */
export const ENTRIES = ["main", "post", "restore-main", "restore-post"];

/**
 * `npm run build`'s ncc command for one entry. A lazily imported module becomes a chunk of its own
 * (`<id>.index.js`), and ncc's license plugin writes one file per chunk: named after the chunk, so
 * that no chunk's licenses overwrite another's.
 */
export const nccBuildArgs = (entry: string, out: string) => ["ncc", "build", `src/bin/${entry}.ts`, "-o", out, "--license", "licenses-[name].txt", "--quiet"];

/** The files of a bundle's folder whose content differs between a fresh build and dist/ (missing or extra ones too). */
export async function differingFiles(fresh: string, committed: string): Promise<string[]> {
  const names = [...new Set([...(await readdir(fresh)), ...(await readdir(committed).catch(() => []))])].sort();
  const differ: string[] = [];
  for (const name of names) {
    const [a, b] = await Promise.all([
      readFile(path.join(fresh, name), "utf8").catch(() => undefined),
      readFile(path.join(committed, name), "utf8").catch(() => undefined),
    ]);
    if (a === undefined || a !== b) differ.push(name);
  }
  return differ;
}

// The end-to-end tests run dist/, as the runner does. A dist/ built before the last edit of src/
// would test old code and pass: this setup builds a fresh bundle first and stops the run at once
// when dist/ differs from it (the check-dist workflow's comparison, not file times).
export default async function setup(): Promise<void> {
  const differ = await staleBundles();
  if (differ.length) throw new Error(`${differ.join(" and ")} differ from a fresh build of src/: run \`npm run build\` before the end-to-end tests.`);
}

/** The bundles under `root`/dist that differ from a fresh build of `root`/src (the bench warns with it). */
export async function staleBundles(root = process.cwd()): Promise<string[]> {
  const out = await mkdtemp(path.join(tmpdir(), "fresh-dist-"));
  try {
    const stale: string[] = [];
    // One build at a time: the machine running the tests has two cores.
    for (const entry of ENTRIES) {
      await run("npx", nccBuildArgs(entry, path.join(out, entry)), { cwd: root, maxBuffer: 1 << 26 });
      const differ = await differingFiles(path.join(out, entry), path.join(root, "dist", entry));
      stale.push(...differ.filter((name) => name.endsWith(".js")).map((name) => `dist/${entry}/${name}`));
    }
    return stale;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
