// Proves the artifact emulator answers what the REAL @actions/artifact client expects: every upload
// here goes through DefaultArtifactClient, Twirp client and Azure SDK included, as in the action.
import { createHash, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DefaultArtifactClient } from "@actions/artifact";
import { describe, expect, it } from "vitest";
import type { ArtifactEmulator } from "./artifact.js";
import { artifactEmulatorPerTest } from "./artifact-per-test.js";

let emu: ArtifactEmulator;
let dir: string;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
artifactEmulatorPerTest("artifact-test-", (e, d) => {
  emu = e;
  dir = d;
});

async function randomFile(name: string, size: number): Promise<{ path: string; bytes: Buffer }> {
  const bytes = randomBytes(size);
  const path = join(dir, name);
  await writeFile(path, bytes);
  return { path, bytes };
}

describe("artifact emulator driven by @actions/artifact", () => {
  it("stores a skipArchive upload byte for byte, across several 8 MiB blocks", async () => {
    const { path, bytes } = await randomFile("shop-20250101T000000Z.dump", 20 * 1024 * 1024 + 123);
    const result = await new DefaultArtifactClient().uploadArtifact("ignored", [path], dir, { skipArchive: true });

    // With skipArchive the artifact takes the file's base name, whatever name was passed.
    const stored = emu.artifacts.get("shop-20250101T000000Z.dump");
    expect(stored).toMatchObject({ id: result.id, size: bytes.length, finalized: true, mimeType: "application/octet-stream" });
    expect(result.digest).toBe(sha256(bytes));
    expect(result.size).toBe(bytes.length);
    expect(stored?.sha256).toBe(sha256(bytes));
    expect((await readFile(stored?.path as string)).equals(bytes)).toBe(true);
    expect(result.id).toBeGreaterThan(2 ** 31); // ids come back as int64 strings
    const ops = emu.requests.map((r) => `${r.method} ${r.path.replace(/^\/productionresultssa0\/.*\?/, "blob?")} ${r.status}`);
    expect(ops).toEqual([
      "POST /twirp/github.actions.results.api.v1.ArtifactService/CreateArtifact 200",
      "PUT blob?comp=block 201",
      "PUT blob?comp=block 201",
      "PUT blob?comp=block 201",
      "PUT blob?comp=blocklist 201",
      "POST /twirp/github.actions.results.api.v1.ArtifactService/FinalizeArtifact 200",
    ]);
  });

  it("stores a zipped upload under the given name", async () => {
    const a = await randomFile("a.bin", 300_000);
    const b = await randomFile("b.txt", 1000);
    const result = await new DefaultArtifactClient().uploadArtifact("logs", [a.path, b.path], dir, { compressionLevel: 0 });
    const stored = emu.artifacts.get("logs");
    expect(stored).toMatchObject({ id: result.id, finalized: true, mimeType: "application/zip", size: result.size });
    const zip = await readFile(stored?.path as string);
    expect(zip.subarray(0, 4).toString("latin1")).toBe("PK\x03\x04");
    expect(sha256(zip)).toBe(result.digest);
  });

  it("uploads an empty file (no block at all, size left out of FinalizeArtifact)", async () => {
    const { path } = await randomFile("empty.sql", 0);
    const result = await new DefaultArtifactClient().uploadArtifact("empty.sql", [path], dir, { skipArchive: true });
    expect(emu.artifacts.get("empty.sql")).toMatchObject({ size: 0, finalized: true, sha256: sha256(Buffer.alloc(0)) });
    expect(result.digest).toBe(sha256(Buffer.alloc(0)));
  });

  it("answers 409 for a name already used in the run", async () => {
    const { path } = await randomFile("twice.dump", 10);
    const client = new DefaultArtifactClient();
    await client.uploadArtifact("twice.dump", [path], dir, { skipArchive: true });
    await expect(client.uploadArtifact("twice.dump", [path], dir, { skipArchive: true })).rejects.toThrow(
      /\(409\) Conflict: an artifact with this name already exists/,
    );
  });

  it("keeps names per workflow run: another run's token may use the same name, an unknown token is refused", async () => {
    const { path } = await randomFile("nightly.dump", 10);
    await new DefaultArtifactClient().uploadArtifact("nightly.dump", [path], dir, { skipArchive: true });
    const other = emu.newRun();
    const saved = process.env.ACTIONS_RUNTIME_TOKEN;
    try {
      process.env.ACTIONS_RUNTIME_TOKEN = other.runtimeToken;
      const again = await new DefaultArtifactClient().uploadArtifact("nightly.dump", [path], dir, { skipArchive: true });
      expect(emu.artifacts.get("nightly.dump")).toMatchObject({ id: again.id, finalized: true });
      const [head, payload] = other.runtimeToken.split(".");
      process.env.ACTIONS_RUNTIME_TOKEN = `${head}.${payload}.forged`;
      await expect(new DefaultArtifactClient().uploadArtifact("forged.dump", [path], dir, { skipArchive: true })).rejects.toThrow(/\(401\)/);
    } finally {
      process.env.ACTIONS_RUNTIME_TOKEN = saved;
    }
  });

  it("keeps the expiry computed from retentionDays", async () => {
    const { path } = await randomFile("kept.dump", 10);
    await new DefaultArtifactClient().uploadArtifact("kept.dump", [path], dir, { skipArchive: true, retentionDays: 5 });
    const expiresAt = Date.parse(emu.artifacts.get("kept.dump")?.expiresAt as string);
    expect(Math.abs(expiresAt - (Date.now() + 5 * 86_400_000))).toBeLessThan(3_600_000);
    const { path: p2 } = await randomFile("default.dump", 10);
    await new DefaultArtifactClient().uploadArtifact("default.dump", [p2], dir, { skipArchive: true });
    expect(emu.artifacts.get("default.dump")?.expiresAt).toBeUndefined();
  });

  it("injects faults: a 503 is retried by the client, a 403 on finalize burns the name", async () => {
    const { path } = await randomFile("flaky.dump", 10);
    const client = new DefaultArtifactClient();
    emu.failNext(/CreateArtifact$/, 503);
    await client.uploadArtifact("flaky.dump", [path], dir, { skipArchive: true }); // retried after 3 s
    expect(emu.requests.filter((r) => r.path.endsWith("CreateArtifact")).map((r) => r.status)).toEqual([503, 200]);

    const { path: p2 } = await randomFile("burnt.dump", 10);
    emu.failNext(/FinalizeArtifact$/, 403);
    await expect(client.uploadArtifact("burnt.dump", [p2], dir, { skipArchive: true })).rejects.toThrow(/\(403\)/);
    expect(emu.artifacts.get("burnt.dump")?.finalized).toBe(false);
    await expect(client.uploadArtifact("burnt.dump", [p2], dir, { skipArchive: true })).rejects.toThrow(/\(409\)/);
  });

  it("injects blob faults: the Azure SDK retries a 503 on a block with the same block id", async () => {
    const { path, bytes } = await randomFile("retried.dump", 9 * 1024 * 1024);
    emu.failNext(/\?comp=block$/, 503);
    const result = await new DefaultArtifactClient().uploadArtifact("retried.dump", [path], dir, { skipArchive: true });
    expect(emu.requests.filter((r) => r.path.endsWith("?comp=block")).map((r) => r.status)).toEqual([503, 201, 201]);
    expect(emu.artifacts.get("retried.dump")).toMatchObject({ size: bytes.length, sha256: sha256(bytes), id: result.id });
  });

  it("refuses a wrong runtime token, foreign backend IDs and a bad SAS", async () => {
    const url = `${emu.resultsUrl}twirp/github.actions.results.api.v1.ArtifactService/CreateArtifact`;
    const post = (token: string, body: object) =>
      fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await post("nope", {})).status).toBe(401);
    const foreign = await post(emu.runtimeToken, { workflow_run_backend_id: "x", workflow_job_run_backend_id: "y", name: "n" });
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ code: "permission_denied" });

    const { signed_upload_url } = (await (await post(emu.runtimeToken, idsFromToken(emu.runtimeToken, "n"))).json()) as { signed_upload_url: string };
    const forged = new URL(signed_upload_url);
    forged.searchParams.set("sig", "forged");
    const put = await fetch(forged, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob" }, body: "x" });
    expect(put.status).toBe(403);
    expect(put.headers.get("x-ms-error-code")).toBe("AuthenticationFailed");
    // Put Blob (one request, which uploadStream never sends) with the genuine SAS commits at once.
    const whole = await fetch(signed_upload_url, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob" }, body: "x" });
    expect([whole.status, whole.headers.get("etag") !== null]).toEqual([201, true]);
    expect(emu.artifacts.get("n")).toMatchObject({ size: 1, sha256: sha256(Buffer.from("x")) });
  });
});

function idsFromToken(token: string, name: string) {
  const payload = JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString()) as { scp: string };
  const [, run, job] = (payload.scp.split(" ").find((s) => s.startsWith("Actions.Results:")) as string).split(":");
  return { workflow_run_backend_id: run, workflow_job_run_backend_id: job, name };
}
