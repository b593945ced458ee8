// The action's upload step through the real @actions/artifact client against the emulator: the
// errors it tells apart, the one retry under another name, the name taken from the file, and the
// GHES test held to the client's own.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DefaultArtifactClient, FilesNotFoundError, GHESNotSupportedError } from "@actions/artifact";
import { describe, expect, it } from "vitest";
import { type ArtifactPlan, isGhes, planArtifact, uploadArtifact } from "../src/artifact/artifact.js";
import { canRetryAs, classify } from "../src/artifact/upload-errors.js";
import { parseConfig } from "../src/config.js";
import type { ArtifactEmulator } from "./emulators/artifact.js";
import { artifactEmulatorPerTest } from "./emulators/artifact-per-test.js";

let emu: ArtifactEmulator;
let dir: string;
artifactEmulatorPerTest("artifact-upload-", (e, d) => {
  emu = e;
  dir = d;
});

const warnings: string[] = [];
const log = { info: () => undefined, warning: (m: string) => warnings.push(m) };
const plan = (baseName: string, extension = ".dump"): ArtifactPlan => ({ client: new DefaultArtifactClient(), baseName, extension, log });

async function dumpFile(name: string, bytes = Buffer.from("PGDMP fake dump")): Promise<string> {
  const folder = join(dir, `d-${Math.random().toString(36).slice(2)}`);
  await mkdir(folder, { mode: 0o700 });
  await writeFile(join(folder, name), bytes, { mode: 0o600 });
  return join(folder, name);
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );
}

describe("the upload step", () => {
  it("uploads under the artifact's name through a link the upload removes, with the client's digest", async () => {
    const bytes = Buffer.from("x".repeat(1000));
    const file = await dumpFile("shop-20260101T000000Z.dump", bytes);
    const scratch = new Set<string>();
    const up = await uploadArtifact({ ...plan("nightly"), retentionDays: 3 }, file, scratch);
    expect(up).toMatchObject({ name: "nightly.dump", size: 1000, digest: createHash("sha256").update(bytes).digest("hex") });
    const stored = emu.artifacts.get("nightly.dump");
    expect(stored).toMatchObject({ id: up.id, finalized: true });
    expect(await readFile(stored?.path as string)).toEqual(bytes);
    expect(Date.parse(stored?.expiresAt as string)).toBeGreaterThan(Date.now() + 2 * 86_400_000);
    expect(await readdir(join(file, ".."))).toEqual(["shop-20260101T000000Z.dump"]);
    expect(scratch.size).toBe(0);
  });

  it("retries once as <name>-retry when the attempt burnt the name (finalize refused)", async () => {
    const file = await dumpFile("nightly.dump");
    emu.failNext(/FinalizeArtifact$/, 403);
    const up = await uploadArtifact(plan("nightly"), file, new Set());
    expect(up.name).toBe("nightly-retry.dump");
    expect(warnings.pop()).toMatch(/nightly\.dump failed: .*\(403\).*Retrying once as nightly-retry\.dump/s);
    expect(emu.artifacts.get("nightly.dump")?.finalized).toBe(false);
  });

  it("does not retry a name taken before, and says how to make it unique", async () => {
    const file = await dumpFile("taken.dump");
    await uploadArtifact(plan("taken"), file, new Set());
    const error = await failure(new DefaultArtifactClient().uploadArtifact("taken.dump", [file], join(file, ".."), { skipArchive: true }));
    expect([classify(error), canRetryAs(error)]).toEqual(["name-taken", false]);
    await expect(uploadArtifact(plan("taken"), file, new Set())).rejects.toThrow(/already exists in the run.*run_attempt.*The dump is still at/s);
    expect(emu.artifacts.has("taken-retry.dump")).toBe(false);
  });

  it("tells a full artifact storage apart, and does not retry it", async () => {
    const file = await dumpFile("full.dump");
    emu.failNext(/CreateArtifact$/, 403, 1, "insufficient usage to create artifact");
    const error = await failure(new DefaultArtifactClient().uploadArtifact("full.dump", [file], join(file, ".."), { skipArchive: true }));
    expect([classify(error), canRetryAs(error)]).toEqual(["quota", false]);
    emu.failNext(/CreateArtifact$/, 403, 1, "insufficient usage to create artifact");
    await expect(uploadArtifact(plan("full"), file, new Set())).rejects.toThrow(/artifact storage is full/);
  });

  it("tells an unreachable service apart (NetworkError)", async () => {
    const file = await dumpFile("far.dump");
    process.env.ACTIONS_RESULTS_URL = "http://127.0.0.1:9/"; // discard port: connection refused
    const error = await failure(new DefaultArtifactClient().uploadArtifact("far.dump", [file], join(file, ".."), { skipArchive: true }));
    expect(classify(error)).toBe("network");
  });
});

describe("artifact access, checked before anything is opened", () => {
  const config = parseConfig((n) => ({ "api-token": "t", database: "db" })[n] ?? "", { RUNNER_TEMP: "/tmp" }, new Date(), 2);

  it("needs the runtime token and results URL, and refuses GHES", () => {
    const env = { ACTIONS_RUNTIME_TOKEN: "x", ACTIONS_RESULTS_URL: "http://127.0.0.1/", GITHUB_SERVER_URL: "https://github.com" };
    expect(planArtifact(config, env, log).extension).toBe(".dump");
    expect(() => planArtifact(config, { ...env, ACTIONS_RUNTIME_TOKEN: "" }, log)).toThrow(/inside a GitHub Actions job/);
    expect(() => planArtifact(config, { ...env, GITHUB_SERVER_URL: "https://github.acme.internal" }, log)).toThrow(/Enterprise Server/);
  });

  it("isGhes says what the client says", async () => {
    for (const server of ["https://github.com", "https://acme.ghe.com", "http://github.localhost", "https://github.acme.internal", "https://GitHub.com/"]) {
      process.env.GITHUB_SERVER_URL = server;
      // No file: the client refuses GHES first, and otherwise fails on the missing file before any request.
      const error = await failure(new DefaultArtifactClient().uploadArtifact("x", [], dir, { skipArchive: true }));
      expect(error instanceof GHESNotSupportedError, server).toBe(isGhes(server));
      if (!isGhes(server)) expect(error).toBeInstanceOf(FilesNotFoundError);
    }
    expect(emu.requests).toEqual([]);
  });
});
