import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
/** Every bundle `npm run build` writes: the backup's main and post, the restore action's. */
const ENTRIES = ["main", "post", "restore-main", "restore-post"];

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
      const args = ["ncc", "build", `src/bin/${entry}.ts`, "-o", path.join(out, entry), "--license", "licenses.txt", "--quiet"];
      await run("npx", args, { cwd: root, maxBuffer: 1 << 26 });
      const fresh = await readFile(path.join(out, entry, "index.js"), "utf8");
      const committed = await readFile(path.join(root, "dist", entry, "index.js"), "utf8").catch(() => "");
      if (fresh !== committed) stale.push(`dist/${entry}/index.js`);
    }
    return stale;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
