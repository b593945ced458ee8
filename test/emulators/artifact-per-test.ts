// One fresh artifact emulator per test (names are unique per run, and a run is one emulator),
// a scratch folder for the files to upload, and the environment @actions/artifact reads at call
// time pointed at the emulator; the environment is restored after the file's tests.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { type ArtifactEmulator, startArtifactEmulator } from "./artifact.js";

export function artifactEmulatorPerTest(prefix: string, use: (emu: ArtifactEmulator, dir: string) => void): void {
  const savedEnv = { ...process.env };
  let emu: ArtifactEmulator | undefined;
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  beforeEach(async () => {
    await emu?.close();
    emu = await startArtifactEmulator();
    Object.assign(process.env, {
      ACTIONS_RUNTIME_TOKEN: emu.runtimeToken,
      ACTIONS_RESULTS_URL: emu.resultsUrl,
      GITHUB_SERVER_URL: "https://github.com",
      GITHUB_WORKSPACE: dir,
      NO_PROXY: "127.0.0.1,localhost",
      no_proxy: "127.0.0.1,localhost",
    });
    delete process.env.GITHUB_RETENTION_DAYS;
    use(emu, dir);
  });
  afterAll(async () => {
    await emu?.close();
    await rm(dir, { recursive: true, force: true });
    process.env = savedEnv;
  });
}
