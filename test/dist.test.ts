import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

// The runner executes dist/, not src/: a stale bundle would ship old behaviour.
describe("dist/", () => {
  it.each(["main", "post", "restore-main", "restore-post"])(
    "%s matches a fresh build of src/",
    async (entry) => {
      const out = await mkdtemp(path.join(tmpdir(), `dist-${entry}-`));
      try {
        await run("npx", ["ncc", "build", `src/bin/${entry}.ts`, "-o", out, "--license", "licenses.txt", "--quiet"], { maxBuffer: 1 << 26 });
        for (const file of ["index.js", "package.json", "licenses.txt"]) {
          const fresh = await readFile(path.join(out, file), "utf8");
          const committed = await readFile(path.join("dist", entry, file), "utf8");
          expect(committed === fresh, `dist/${entry}/${file} is out of date: run \`npm run build\` and commit dist/`).toBe(true);
        }
      } finally {
        await rm(out, { recursive: true, force: true });
      }
      // ncc takes a minute on a loaded 2-core machine; a bound that fails under load proves nothing.
    },
    600_000,
  );
});
