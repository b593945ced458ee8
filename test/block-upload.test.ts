// BlockUpload against the artifact emulator's blob store, through the Azure SDK: a file uploaded
// while it is being written, including the rewrite of bytes already uploaded that pg_dump's
// custom format does when it ends, must be committed as the final file.
import { createHash, randomBytes } from "node:crypto";
import { open, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type BlockStore, BlockUpload, blockId } from "../src/artifact/block-upload.js";
import { resultsService } from "../src/artifact/results-service.js";
import { azureBlockStore } from "../src/artifact/upload.js";
import type { ArtifactEmulator } from "./emulators/artifact.js";
import { artifactEmulatorPerTest } from "./emulators/artifact-per-test.js";

const B = 64 * 1024; // small blocks, so a few hundred KiB exercise everything
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

let emu: ArtifactEmulator;
let dir: string;
artifactEmulatorPerTest("block-upload-", (e, d) => {
  emu = e;
  dir = d;
});

function service() {
  return resultsService({ ACTIONS_RUNTIME_TOKEN: emu.runtimeToken, ACTIONS_RESULTS_URL: emu.resultsUrl });
}

/** Writes `blocks` full blocks with pauses, then `tail` bytes, then overwrites `patches` in place: a writer like pg_dump -Fc. */
async function writeLikePgDump(file: string, o: { blocks: number; tail: number; patches: number[] }): Promise<Buffer> {
  const content = randomBytes(o.blocks * B + o.tail);
  const handle = await open(file, "w");
  try {
    for (let k = 0; k < o.blocks; k++) {
      await handle.write(content, k * B, B, k * B);
      await sleep(15);
    }
    await sleep(150); // every full block is staged by now
    await handle.write(content, o.blocks * B, o.tail, o.blocks * B);
    for (const at of o.patches) {
      content.write("REWRITTEN", at);
      await handle.write(content, at, 9, at);
    }
  } finally {
    await handle.close();
  }
  return content;
}

async function committedAndFinalized(name: string, size: number, digest: string) {
  const id = await service().finalize(name, size, digest); // the emulator checks size and sha256 against the blob
  const stored = emu.artifacts.get(name);
  expect(stored).toMatchObject({ id, finalized: true, size, sha256: digest });
  return readFile(stored?.path as string);
}

describe("BlockUpload", () => {
  it("uploads a file while it is written and re-stages exactly the blocks rewritten afterwards", async () => {
    const file = join(dir, "growing.dump");
    const url = await service().create("growing.dump", "application/octet-stream");
    const upload = new BlockUpload(file, azureBlockStore(url, "application/octet-stream"), { blockSize: B, pollMs: 5 });
    const writer = writeLikePgDump(file, { blocks: 10, tail: 1000, patches: [20, 5 * B + 3] });
    upload.follow(writer);
    const content = await writer;
    const stagedBefore = emu.requests.filter((r) => r.path.endsWith("?comp=block")).length;
    const done = await upload.finish();

    expect(stagedBefore).toBe(10); // every full block went up while the file grew
    expect(done).toMatchObject({ size: content.length, blocks: 11, sha256: sha256(content) });
    expect(done.stagedAtFinish).toBe(3); // block 0 and block 5 changed; block 10 is the tail
    expect(emu.requests.filter((r) => r.path.endsWith("?comp=block")).length).toBe(13);
    expect((await committedAndFinalized("growing.dump", content.length, done.sha256)).equals(content)).toBe(true);
  });

  it("uploads a finished file in one pass, and an empty one as an empty blob", async () => {
    const file = join(dir, "finished.dump");
    const content = randomBytes(3 * B + 1);
    await writeFile(file, content);
    const url = await service().create("finished.dump", "application/octet-stream");
    const done = await new BlockUpload(file, azureBlockStore(url, "application/octet-stream"), { blockSize: B }).finish();
    expect(done).toMatchObject({ blocks: 4, stagedAtFinish: 4, sha256: sha256(content) });
    expect((await committedAndFinalized("finished.dump", content.length, done.sha256)).equals(content)).toBe(true);

    await writeFile(join(dir, "empty.dump"), "");
    const emptyUrl = await service().create("empty.dump", "application/octet-stream");
    const empty = await new BlockUpload(join(dir, "empty.dump"), azureBlockStore(emptyUrl, "application/octet-stream"), { blockSize: B }).finish();
    expect(empty).toMatchObject({ size: 0, blocks: 0, sha256: sha256(Buffer.alloc(0)) });
  });

  it("survives a block answered 503 once: the Azure SDK retries it", async () => {
    const file = join(dir, "retried.dump");
    const content = randomBytes(2 * B + 5);
    await writeFile(file, content);
    const url = await service().create("retried.dump", "application/octet-stream");
    emu.failNext(/\?comp=block$/, 503, 1);
    const done = await new BlockUpload(file, azureBlockStore(url, "application/octet-stream"), { blockSize: B }).finish();
    expect(emu.requests.filter((r) => r.path.endsWith("?comp=block")).map((r) => r.status)).toContain(503);
    expect((await committedAndFinalized("retried.dump", content.length, done.sha256)).equals(content)).toBe(true);
  }, 30_000);
});

describe("BlockUpload's bookkeeping (an in-memory store)", () => {
  /** Records what was staged and committed, and can refuse one block. */
  function memoryStore(failOn?: string) {
    const blocks = new Map<string, Buffer>();
    let committed: Buffer | undefined;
    let peakInFlight = 0;
    let inFlight = 0;
    const store: BlockStore = {
      async stage(id, body) {
        peakInFlight = Math.max(peakInFlight, ++inFlight);
        await sleep(2);
        inFlight--;
        if (id === failOn) throw new Error("refused by the store");
        blocks.set(id, Buffer.from(body)); // the caller reuses its buffer afterwards
      },
      async commit(ids) {
        committed = Buffer.concat(ids.map((id) => blocks.get(id) as Buffer));
      },
    };
    return { store, committed: () => committed, peak: () => peakInFlight };
  }

  it("never has more blocks in flight than buffers, and reused buffers do not leak into other blocks", async () => {
    const file = join(dir, "pool.dump");
    const content = randomBytes(9 * 4096 + 7);
    await writeFile(file, content);
    const m = memoryStore();
    await new BlockUpload(file, m.store, { blockSize: 4096, concurrency: 3 }).finish();
    expect(m.peak()).toBe(3);
    expect(m.committed()?.equals(content)).toBe(true);
  });

  it("fails with the store's error and commits nothing when a block cannot be staged", async () => {
    const file = join(dir, "refused.dump");
    await writeFile(file, randomBytes(5 * 4096));
    const m = memoryStore(blockId(2));
    await expect(new BlockUpload(file, m.store, { blockSize: 4096 }).finish()).rejects.toThrow("refused by the store");
    expect(m.committed()).toBeUndefined();
  });

  it("fails at finish when staging failed while following", async () => {
    const file = join(dir, "refused-early.dump");
    const m = memoryStore(blockId(0));
    const upload = new BlockUpload(file, m.store, { blockSize: 4096, pollMs: 5 });
    const writer = (async () => {
      await writeFile(file, randomBytes(3 * 4096));
      await sleep(100);
    })();
    upload.follow(writer);
    await writer;
    await expect(upload.finish()).rejects.toThrow("refused by the store");
    expect(m.committed()).toBeUndefined();
  });
});
