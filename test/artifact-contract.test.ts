// The action uploads without @actions/artifact (src/results-service.ts, src/upload.ts). These
// tests hold it to the official client: both upload the same file to the same emulator, and the
// requests must match in everything but the names, block ids and timing.
import { createHash, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DefaultArtifactClient } from "@actions/artifact";
import { describe, expect, it } from "vitest";
import { expiryFor, resultsService } from "../src/artifact/results-service.js";
import { ArtifactUpload } from "../src/artifact/upload.js";
import type { ArtifactEmulator } from "./emulators/artifact.js";
import { artifactEmulatorPerTest } from "./emulators/artifact-per-test.js";

let emu: ArtifactEmulator;
let dir: string;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
artifactEmulatorPerTest("artifact-contract-", (e, d) => {
  emu = e;
  dir = d;
});

/** The parts of a request both clients must agree on. */
function shape(t: ArtifactEmulator["trace"][number]) {
  const h = t.headers;
  const twirp = t.path.startsWith("/twirp/");
  return {
    method: t.method,
    path: twirp ? t.path : t.path.replace(/^\/[^?]*/, "<blob>"),
    contentType: twirp ? h["content-type"] : undefined,
    authorization: h.authorization?.split(" ")[0],
    xmsVersion: h["x-ms-version"],
    blobContentType: h["x-ms-blob-content-type"],
    bodyKeys: t.body ? Object.keys(t.body).sort() : undefined,
    bodyTypes: t.body ? Object.values(t.body).map((v) => typeof v) : undefined,
  };
}

async function ours(file: string, name: string, retentionDays?: number) {
  const { expiresAt } = expiryFor(retentionDays, undefined, new Date());
  const upload = await ArtifactUpload.start({
    service: resultsService(process.env),
    name,
    file,
    ...(expiresAt ? { expiresAt } : {}),
    setSecret: () => undefined,
  });
  return upload.complete();
}

describe("the action's uploader against @actions/artifact 6.2.1", () => {
  it("sends the same Twirp calls and Azure block requests, and stores the same bytes", async () => {
    const bytes = randomBytes(20 * 1024 * 1024 + 123); // three 8 MiB blocks, the last one partial
    await writeFile(join(dir, "official.dump"), bytes);
    await writeFile(join(dir, "ours.dump"), bytes);

    const official = await new DefaultArtifactClient().uploadArtifact("x", [join(dir, "official.dump")], dir, { skipArchive: true, retentionDays: 5 });
    const theirs = emu.trace.splice(0);
    const mine = await ours(join(dir, "ours.dump"), "ours.dump", 5);
    const ourTrace = emu.trace.splice(0);

    // Same calls in the same order, once block order is set aside (both send blocks concurrently).
    const order = (ts: typeof theirs) => ts.map(shape).map((s) => JSON.stringify(s));
    expect(order(ourTrace).sort()).toEqual(order(theirs).sort());
    expect(ourTrace.map((t) => t.path.split("?comp=")[1] ?? t.path.split("/").pop())).toEqual([
      "CreateArtifact",
      "block",
      "block",
      "block",
      "blocklist",
      "FinalizeArtifact",
    ]);

    // The Twirp bodies carry the same values, names apart.
    const bodies = (ts: typeof theirs) => ts.filter((t) => t.body).map((t) => ({ ...t.body, name: undefined, expires_at: undefined }));
    expect(bodies(ourTrace)).toEqual(bodies(theirs));
    const expiry = (ts: typeof theirs) => Date.parse(String(ts[0]?.body?.expires_at));
    expect(Math.abs(expiry(ourTrace) - expiry(theirs))).toBeLessThan(60_000);

    // Both artifacts hold the file, and both clients report the same digest and size.
    expect(mine.digest).toBe(official.digest);
    expect(mine.digest).toBe(sha256(bytes));
    expect(mine.size).toBe(official.size);
    const stored = emu.artifacts.get("ours.dump");
    expect(stored).toMatchObject({ id: mine.id, finalized: true, mimeType: "application/octet-stream", size: bytes.length });
    expect((await readFile(stored?.path as string)).equals(bytes)).toBe(true);
  });

  it("names the tar format's type as the official client does", async () => {
    await writeFile(join(dir, "a.tar"), randomBytes(1000));
    await writeFile(join(dir, "b.tar"), randomBytes(1000));
    await new DefaultArtifactClient().uploadArtifact("x", [join(dir, "a.tar")], dir, { skipArchive: true });
    await ours(join(dir, "b.tar"), "b.tar");
    expect(emu.artifacts.get("b.tar")?.mimeType).toBe(emu.artifacts.get("a.tar")?.mimeType);
    const creates = emu.trace.filter((t) => t.path.endsWith("/CreateArtifact")).map((t) => t.body);
    expect(creates[1]).toEqual({ ...creates[0], name: "b.tar" });
  });

  it("refuses GitHub Enterprise Server and a missing runtime token before any request, as the official client does", async () => {
    expect(() => resultsService({ ...process.env, GITHUB_SERVER_URL: "https://ghes.example.com" })).toThrow(/Enterprise Server/);
    expect(() => resultsService({ ...process.env, ACTIONS_RUNTIME_TOKEN: "" })).toThrow(/only be uploaded inside a GitHub Actions job/);
    expect(() => resultsService({ ...process.env, ACTIONS_RUNTIME_TOKEN: "a.e30.b" })).toThrow(/no Actions.Results scope/);
    expect(emu.trace).toEqual([]);
  });

  it("reports the service's own words when the name is taken", async () => {
    await writeFile(join(dir, "c.dump"), randomBytes(10));
    await ours(join(dir, "c.dump"), "c.dump");
    await expect(ours(join(dir, "c.dump"), "c.dump")).rejects.toThrow(/409: an artifact with this name already exists/);
  });
});
