// The files a backup writes hold every row of production: each is created private (0600, folders
// 0700) BEFORE anything writes into it, whatever the umask, and never over something that exists.
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrivate, exists, prepareDumpDir, readTail, removeQuietly, sha256File } from "../src/runner/files.js";

const execFileP = promisify(execFile);
const FILES_TS = path.join(import.meta.dirname, "../src/runner/files.ts");
const mode = async (target: string) => (await stat(target)).mode & 0o777;

describe("files the backup writes", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "files-test-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /**
   * createPrivate in a child whose umask is `umask`, then a writer that opens the file as pg_dump
   * does (an existing file, truncated): the mode seen before and after the write. A mutation
   * test's active mutant is passed on, so the child runs the code this process runs.
   */
  async function createUnderUmask(umask: string, target: string, kind: "file" | "dir") {
    const script = `import { createPrivate } from ${JSON.stringify(FILES_TS)};
      import { statSync, writeFileSync } from "node:fs";
      await createPrivate(process.argv[1], process.argv[2]);
      const before = statSync(process.argv[1]);
      if (process.argv[2] === "file") writeFileSync(process.argv[1], "COPY public.accounts FROM stdin;\\n");
      console.log(JSON.stringify({ before: before.mode & 0o777, size: before.size, after: statSync(process.argv[1]).mode & 0o777 }));`;
    const active = (globalThis as { __stryker__?: { activeMutant?: string } }).__stryker__?.activeMutant;
    const { stdout } = await execFileP(
      "sh",
      ["-c", `umask ${umask} && exec "$0" --import tsx --input-type=module -e "$1" "$2" "$3"`, process.execPath, script, target, kind],
      { env: { ...process.env, ...(active ? { __STRYKER_ACTIVE_MUTANT__: active } : {}) } },
    );
    return JSON.parse(stdout) as { before: number; size: number; after: number };
  }

  it("the dump file is 0600 and empty before pg_dump writes, and stays 0600 while it writes, whatever the umask", async () => {
    for (const umask of ["000", "022", "0277"]) {
      const file = path.join(dir, `dump-${umask}.dump`);
      expect(await createUnderUmask(umask, file, "file"), `umask ${umask}`).toEqual({ before: 0o600, size: 0, after: 0o600 });
      expect(await readFile(file, "utf8")).toBe("COPY public.accounts FROM stdin;\n");
    }
  });

  it("a folder (the directory format's dump) is 0700, whatever the umask", async () => {
    for (const umask of ["000", "0277"]) {
      const folder = path.join(dir, `dir-${umask}`);
      expect((await createUnderUmask(umask, folder, "dir")).before, `umask ${umask}`).toBe(0o700);
    }
  });

  it("in this process too: 0600 file, 0700 folder", async () => {
    await createPrivate(path.join(dir, "here.dump"), "file");
    await createPrivate(path.join(dir, "here-dir"), "dir");
    expect(await mode(path.join(dir, "here.dump"))).toBe(0o600);
    expect((await stat(path.join(dir, "here.dump"))).size).toBe(0);
    expect(await mode(path.join(dir, "here-dir"))).toBe(0o700);
  });

  it("never takes over what exists: a file, a folder, or a symlink (dangling too), left as they were", async () => {
    const file = path.join(dir, "existing.dump");
    await writeFile(file, "someone's data", { mode: 0o644 });
    await expect(createPrivate(file, "file")).rejects.toMatchObject({ code: "EEXIST" });
    expect(await readFile(file, "utf8")).toBe("someone's data");
    expect(await mode(file)).toBe(0o644);
    const folder = path.join(dir, "existing-dir");
    await mkdir(folder, { mode: 0o755 });
    await chmod(folder, 0o755);
    await expect(createPrivate(folder, "dir")).rejects.toMatchObject({ code: "EEXIST" });
    expect(await mode(folder)).toBe(0o755);
    const link = path.join(dir, "link.dump");
    const target = path.join(dir, "elsewhere", "target");
    await symlink(target, link);
    await expect(createPrivate(link, "file")).rejects.toMatchObject({ code: "EEXIST" });
    expect(await exists(target)).toBe(false);
    // lstat: a dangling symlink is something a write would follow, so it exists.
    expect(await exists(link)).toBe(true);
    expect(await exists(path.join(dir, "nothing-here"))).toBe(false);
  });

  it("the dump's folders it creates are 0700, each level; a folder that exists keeps its mode", async () => {
    const base = path.join(dir, "tree");
    await mkdir(base, { mode: 0o755 });
    await chmod(base, 0o755);
    await prepareDumpDir(path.join(base, "a", "b", "backup.dump"));
    expect(await mode(path.join(base, "a"))).toBe(0o700);
    expect(await mode(path.join(base, "a", "b"))).toBe(0o700);
    expect(await mode(base)).toBe(0o755);
    await chmod(path.join(base, "a", "b"), 0o750);
    await prepareDumpDir(path.join(base, "a", "b", "other.dump"));
    expect(await mode(path.join(base, "a", "b"))).toBe(0o750);
  });

  it("sha256 of varied bytes over several chunks and an odd tail: each chunk hashed once, in order", async () => {
    const file = path.join(dir, "varied.bin");
    const content = randomBytes(3 * (1 << 20) + 12_345);
    await writeFile(file, content);
    expect(await sha256File(file)).toBe(createHash("sha256").update(content).digest("hex"));
    await writeFile(file, "");
    expect(await sha256File(file)).toBe(createHash("sha256").digest("hex"));
    await removeQuietly(file);
  });

  it("sha256 and the tail of a file larger than the hashing buffer; removal that never throws", async () => {
    const file = path.join(dir, "big.bin");
    const content = Buffer.concat([Buffer.alloc((1 << 20) + 5, 7), Buffer.from("the end\n")]);
    await writeFile(file, content);
    expect(await sha256File(file)).toBe(createHash("sha256").update(content).digest("hex"));
    expect(await readTail(file, 8)).toBe("the end\n");
    expect(await readTail(path.join(dir, "here.dump"), 100)).toBe("");
    await removeQuietly(file);
    await removeQuietly(path.join(dir, "tree"));
    await removeQuietly(undefined);
    await removeQuietly(path.join(dir, "never-there"));
    expect(await exists(file)).toBe(false);
    expect(await exists(path.join(dir, "tree"))).toBe(false);
  });
});
