// Everything .github/workflows/e2e-runners.yml runs on GitHub's runners, run here: the world script
// started as the workflow starts it (inputs into $GITHUB_OUTPUT), the bundled action with those
// inputs (uploading to the artifact emulator instead of GitHub's service), then the restore check
// the second job runs on the downloaded artifact, and the world stopped.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ArtifactEmulator, startArtifactEmulator } from "../emulators/artifact.js";
import { createRunnerContext, REPO_ROOT, type RunnerContext, runStep } from "../support/runner.js";
import { parseFileCommands } from "../support/runner-parse.js";
import { processAlive } from "../support/runner-world.js";
import { describeStep } from "./world.js";

const exec = promisify(execFile);
const tsx = (script: string, args: string[], env: Record<string, string>) =>
  exec(process.execPath, ["--import", "tsx", join(REPO_ROOT, "test/support", script), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    maxBuffer: 1 << 24,
  });

describe("the runner workflow's scripts, run locally", () => {
  let dir = "";
  let env: Record<string, string> = {};
  let inputs: Record<string, string> = {};
  let artifacts: ArtifactEmulator;
  let ctx: RunnerContext;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "runner-world-"));
    env = { WORLD_DIR: join(dir, "world"), GITHUB_OUTPUT: join(dir, "output") };
    await writeFile(env.GITHUB_OUTPUT as string, "");
    await tsx("runner-world.ts", ["start"], env);
    inputs = parseFileCommands(await readFile(env.GITHUB_OUTPUT as string, "utf8"), "GITHUB_OUTPUT");
    artifacts = await startArtifactEmulator();
    ctx = await createRunnerContext({ artifact: artifacts });
  });
  afterAll(async () => {
    await tsx("runner-world.ts", ["stop"], env).catch(() => undefined);
    await Promise.allSettled([artifacts?.close(), ctx?.cleanup()]);
    await rm(dir, { recursive: true, force: true });
  });

  it("start prints the action's inputs as step outputs and leaves the world running", async () => {
    expect(Object.keys(inputs)).toEqual(["api-token", "database", "auth-url", "ip-lookup-urls", "reachable-timeout"]);
    expect(inputs["auth-url"]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const { pid } = JSON.parse(await readFile(join(env.WORLD_DIR as string, "world.json"), "utf8")) as { pid: number };
    expect(processAlive(pid)).toBe(true);
  });

  it("the action backs the world's database up with those inputs, and the restore check finds the fixture intact", async () => {
    const name = "e2e-local-1";
    const main = await runStep(ctx, "main", { ...inputs, "artifact-name": name, "retention-days": "1" });
    expect(main.code, describeStep(main)).toBe(0);
    // The name the workflow's restore job downloads: the file's, extension included.
    expect(main.outputs["artifact-name"]).toBe(`${name}.dump`);
    const post = await runStep(ctx, "post", inputs, { state: main.state });
    expect(post.code, describeStep(post)).toBe(0);
    const stored = artifacts.artifacts.get(`${name}.dump`);
    expect(stored?.finalized).toBe(true);

    const check = await tsx("restore-check.ts", [stored?.path as string], {});
    expect(check.stdout).toMatch(/The restored dump matches the fixture/);
    expect(check.stdout).not.toMatch(/DIFFERENT/);
  });

  it("the restore check fails on a damaged dump", async () => {
    const stored = [...artifacts.artifacts.values()][0];
    const damaged = join(dir, "damaged", "e2e.dump");
    await mkdir(join(dir, "damaged"));
    await copyFile(stored?.path as string, damaged);
    await truncate(damaged, Math.floor((stored?.size ?? 0) / 2));
    // A folder, as actions/download-artifact leaves it: the script finds the one file inside.
    await expect(tsx("restore-check.ts", [join(dir, "damaged")], {})).rejects.toThrow(/pg_restore failed/);
  });

  it("stop ends the world and removes its state", async () => {
    const statePath = join(env.WORLD_DIR as string, "world.json");
    const { pid } = JSON.parse(await readFile(statePath, "utf8")) as { pid: number };
    await tsx("runner-world.ts", ["stop"], env);
    expect(processAlive(pid)).toBe(false);
    expect(existsSync(statePath)).toBe(false);
  });
});
