import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { differingFiles, ENTRIES, nccBuildArgs } from "./support/fresh-dist.js";

const run = promisify(execFile);

// The runner executes dist/, not src/: a stale bundle would ship old behaviour.
describe("dist/", () => {
  it.each(ENTRIES)(
    "%s matches a fresh build of src/",
    async (entry) => {
      const out = await mkdtemp(path.join(tmpdir(), `dist-${entry}-`));
      try {
        await run("npx", nccBuildArgs(entry, out), { maxBuffer: 1 << 26 });
        // Every file: the entry, its lazily loaded chunks, each chunk's licenses; none missing, none left over.
        expect(await differingFiles(out, path.join("dist", entry)), `dist/${entry} is out of date: run \`npm run build\` and commit dist/`).toEqual([]);
      } finally {
        await rm(out, { recursive: true, force: true });
      }
      // ncc takes a minute on a loaded 2-core machine; a bound that fails under load proves nothing.
    },
    600_000,
  );

  it("the restore action loads @actions/artifact and the AWS SDK only for their sources, and ships every package's license", async () => {
    const dir = path.join("dist", "restore-main");
    const files = await readdir(dir);
    const entry = await readFile(path.join(dir, "index.js"), "utf8");
    const chunks = await Promise.all(files.filter((f) => /^\d+\.index\.js$/.test(f)).map((f) => readFile(path.join(dir, f), "utf8")));
    // The remote clients' code is in chunks, not in the file every `path` restore parses first.
    for (const client of ["DefaultArtifactClient", "GetObjectCommand"]) {
      expect(entry).not.toContain(client);
      expect(chunks.some((c) => c.includes(client))).toBe(true);
    }
    // One licenses file per chunk: together they name the entry's packages and the chunks' alike.
    const licenses = (await Promise.all(files.filter((f) => f.startsWith("licenses-")).map((f) => readFile(path.join(dir, f), "utf8")))).join("\n");
    for (const pkg of ["pg", "@actions/core", "age-encryption", "@actions/artifact", "@azure/storage-blob", "@aws-sdk/client-s3"])
      expect(licenses).toMatch(new RegExp(`^${pkg}$`, "m"));
  });
});
