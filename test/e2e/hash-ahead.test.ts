import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashAheadOf, sha256Of, startHashAhead } from "../../src/restore/hash-ahead.js";
import { createRunnerContext, REPO_ROOT, startStep } from "../support/runner.js";

// The restore's entry starts the dump's sha256 on a worker thread that runs the bundled entry
// itself (src/restore/hash-ahead.ts). The thread here is the bundle's, as on the runner.
const ENTRY = new URL(`file://${path.join(REPO_ROOT, "dist", "restore-main", "index.js")}`);
const RESTORE_DIR = path.join(REPO_ROOT, "restore");

describe("the dump's sha256, started before the restore action loads", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "hash-ahead-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("the thread's hash is the file's, and the dump's checks take it without reading the file again", async () => {
    const file = path.join(dir, "once.dump");
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(file, bytes);
    const ahead = hashAheadOf(file, {}, ENTRY);
    expect(ahead).toBeDefined();
    try {
      const expected = createHash("sha256").update(bytes).digest("hex");
      expect(await ahead?.sha256()).toBe(expected);
      // Changed after the thread read it: a second read would see other bytes.
      await writeFile(file, "other bytes");
      expect(await sha256Of(file, ahead)).toBe(expected);
    } finally {
      await ahead?.stop();
    }
  });

  it("a FIFO, a missing file or an empty input start no thread (a blocked read could not be stopped)", async () => {
    const fifo = path.join(dir, "never.fifo");
    await promisify(execFile)("mkfifo", [fifo]);
    expect(hashAheadOf(fifo, {}, ENTRY)).toBeUndefined();
    expect(hashAheadOf(path.join(dir, "missing.dump"), {}, ENTRY)).toBeUndefined();
    expect(hashAheadOf("  ", {}, ENTRY)).toBeUndefined();
  });

  it("a relative path is the workspace's, as config.ts resolves it", async () => {
    await writeFile(path.join(dir, "relative.dump"), "relative");
    const ahead = hashAheadOf("relative.dump", { GITHUB_WORKSPACE: dir }, ENTRY);
    try {
      expect(ahead?.file).toBe(path.join(dir, "relative.dump"));
      expect(await ahead?.sha256()).toBe(createHash("sha256").update("relative").digest("hex"));
    } finally {
      await ahead?.stop();
    }
  });

  it("a file the thread could not read is read again here, and that error is the one reported", async () => {
    const missing = path.join(dir, "missing.dump");
    const ahead = startHashAhead(missing, ENTRY);
    await expect(ahead.sha256()).rejects.toThrow(/ENOENT/);
    await expect(sha256Of(missing, ahead)).rejects.toMatchObject({ code: "ENOENT", path: missing });
  });

  it("another file than the thread's is hashed here", async () => {
    const one = path.join(dir, "one.dump");
    const other = path.join(dir, "other.dump");
    await writeFile(one, "one");
    await writeFile(other, "other");
    const ahead = startHashAhead(one, ENTRY);
    try {
      expect(await sha256Of(other, ahead)).toBe(createHash("sha256").update("other").digest("hex"));
    } finally {
      await ahead.stop();
    }
  });

  it("refused inputs end the step at once, the thread stopped in the middle of a long hash", async () => {
    // 20 GiB of holes: about 15 s of hashing for one core, nothing on disk.
    const big = path.join(dir, "big.dump");
    await promisify(execFile)("truncate", ["-s", "20G", big]);
    const ctx = await createRunnerContext({ actionDir: RESTORE_DIR });
    const step = startStep(ctx, "main", { path: big, database: "my-db" });
    const started = Date.now();
    try {
      const main = await step.done;
      expect(main.code).toBe(1);
      expect(main.errors.join("\n")).toMatch(/`api-token`: is required/);
      // A step that waited for the thread's end would take the whole hash.
      expect(Date.now() - started).toBeLessThan(6_000);
    } finally {
      step.child.kill("SIGKILL");
      await ctx.cleanup();
    }
  });
});
