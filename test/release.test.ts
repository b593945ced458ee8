// Releases: the Release workflow's shape, and the scripts it shares with a release by hand
// (script/check-version, script/release-notes, script/release), run for real in throwaway git
// repositories with a bare "remote".
import { execFile } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT } from "./support/runner.js";
import { read, type YamlMap } from "./support/workflow-check.js";

const exec = promisify(execFile);
type Job = YamlMap & { steps: YamlMap[]; permissions?: YamlMap; needs?: string | string[] };
const workflow = (file: string) => parse(read(file)) as YamlMap & { on: YamlMap; jobs: Record<string, Job> };

describe("release.yml", () => {
  const release = workflow("release.yml");

  it("runs on a vX.Y.Z tag push or a dispatch with the version, with no permission by default", () => {
    expect(release.on.push).toEqual({ tags: ["v[0-9]+.[0-9]+.[0-9]+"] });
    expect((release.on.workflow_dispatch as { inputs: YamlMap }).inputs.version).toMatchObject({ required: true });
    expect(release.permissions).toEqual({});
  });

  it("releases only after the tests and the dist/ check passed", () => {
    const check = release.jobs.check.steps.map((s) => String(s.run ?? "")).join("\n");
    expect(check).toMatch(/bash \.ci\/run[\s\S]*npm run build[\s\S]*git diff --exit-code/);
    expect(release.jobs.release.needs).toContain("check");
    expect(release.jobs.tag.needs).toContain("check");
  });

  it("asks for exactly what the release needs, in the job that needs it", () => {
    expect(release.jobs.release.permissions).toEqual({ contents: "write", "id-token": "write", attestations: "write", packages: "write" });
    expect(release.jobs.tag.permissions).toEqual({ contents: "write", actions: "write" });
    for (const id of ["version", "check"]) expect(release.jobs[id]?.permissions).toEqual({ contents: "read" });
  });

  it("attests dist/, creates the release, publishes the package, then moves the major tag, in that order", () => {
    const steps = release.jobs.release.steps;
    const at = (match: (s: YamlMap) => boolean) => steps.findIndex(match);
    const attest = at((s) => String(s.uses).startsWith("actions/attest-build-provenance@"));
    const create = at((s) => /gh release create/.test(String(s.run)));
    const publish = at((s) => String(s.uses).startsWith("actions/publish-immutable-action@"));
    const move = at((s) => /git push --force origin "refs\/tags\/\$MAJOR"/.test(String(s.run)));
    expect(steps[attest]?.with).toEqual({ "subject-path": "dist/**/*.js" });
    expect([attest, create, publish, move].every((i) => i >= 0)).toBe(true);
    expect([attest, create, publish, move]).toEqual([...[attest, create, publish, move]].sort((a, b) => a - b));
  });

  it("calls only scripts that exist and are executable", () => {
    const scripts = [...read("release.yml").matchAll(/\b(script\/[a-z-]+)/g)].map((m) => m[1] as string);
    expect(scripts).toEqual(expect.arrayContaining(["script/check-version", "script/release-notes"]));
    for (const script of scripts) expect(() => accessSync(join(REPO_ROOT, script), constants.X_OK), script).not.toThrow();
  });
});

describe("codeql.yml and dependabot.yml", () => {
  it("CodeQL analyses JavaScript/TypeScript and may upload its findings", () => {
    const codeql = workflow("codeql.yml");
    const init = codeql.jobs.analyze.steps.find((s) => String(s.uses).startsWith("github/codeql-action/init@"));
    expect(init?.with).toMatchObject({ languages: "javascript-typescript" });
    expect(codeql.jobs.analyze.permissions).toMatchObject({ "security-events": "write" });
  });

  it("Dependabot updates npm (the @actions toolkit first, then production and development) and the workflows' actions", () => {
    const config = parse(readFileSync(join(REPO_ROOT, ".github/dependabot.yml"), "utf8")) as { updates: YamlMap[] };
    expect(config.updates.map((u) => u["package-ecosystem"])).toEqual(["npm", "github-actions"]);
    const groups = config.updates[0]?.groups as Record<string, YamlMap>;
    expect(Object.keys(groups)).toEqual(["actions-toolkit", "production-dependencies", "development-dependencies"]);
    expect(groups["actions-toolkit"]?.patterns).toEqual(["@actions/*"]);
  });
});

describe("release scripts", () => {
  let dir = "";
  const env = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" };
  const git = async (cwd: string, ...args: string[]) => (await exec("git", args, { cwd, env })).stdout.trim();
  /** Runs a script of the clone; resolves with its exit code and both streams. */
  const script = (name: string, ...args: string[]) =>
    exec(join(dir, "work", "script", name), args, { cwd: join(dir, "work"), env }).then(
      ({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
  const remoteTags = async () =>
    Object.fromEntries(
      (await git(dir, "ls-remote", "--tags", "remote.git"))
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("\t").reverse()),
    );

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "release-"));
    await git(dir, "init", "--quiet", "--bare", "--initial-branch=main", "remote.git");
    await git(dir, "clone", "--quiet", "remote.git", "work");
    const work = join(dir, "work");
    await mkdir(join(work, "script"));
    for (const name of ["release", "check-version", "release-notes"]) await copyFile(join(REPO_ROOT, "script", name), join(work, "script", name));
    // A project whose build writes dist/index.js from src.txt, as ncc writes dist/ from src/.
    await writeFile(join(work, "package.json"), JSON.stringify({ scripts: { build: "mkdir -p dist && cp src.txt dist/index.js" } }));
    await writeFile(join(work, "src.txt"), "v1 code\n");
    await mkdir(join(work, "dist"));
    await writeFile(join(work, "dist/index.js"), "v1 code\n");
    await writeFile(join(work, "RELEASES.md"), "# Releases\n\n## v1.1.0\n\nBetter.\n\n## v1.0.0\n\nFirst.\n");
    await git(work, "add", ".");
    await git(work, "commit", "--quiet", "-m", "v1");
    await git(work, "tag", "v1.0.0");
    await git(work, "push", "--quiet", "origin", "main", "v1.0.0");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("check-version accepts a newer vX.Y.Z, prints its major, and refuses anything else", async () => {
    expect(await script("check-version", "v1.1.0")).toEqual({ code: 0, out: "v1\n" });
    expect(await script("check-version", "v1.0.0")).toEqual({ code: 0, out: "v1\n" }); // a re-run of the tag itself
    for (const [version, reason] of [
      ["v0.9.0", /not newer than the latest release, v1\.0\.0/],
      ["1.2.0", /not a release version/],
      ["v1.2", /not a release version/],
      ["v1.02.0", /not a release version/],
      ["v1.2.0-rc.1", /not a release version/],
    ] as const) {
      const result = await script("check-version", version);
      expect(result.code, version).toBe(1);
      expect(result.out, version).toMatch(reason);
    }
  });

  it("release-notes prints one version's section of RELEASES.md, and fails without one", async () => {
    expect(await script("release-notes", "v1.1.0")).toEqual({ code: 0, out: "Better.\n" });
    expect(await script("release-notes", "v1.0.0")).toEqual({ code: 0, out: "First.\n" });
    expect((await script("release-notes", "v2.0.0")).code).toBe(1);
  });

  it("release tags, pushes, and moves the major tag to the new release", async () => {
    const result = await script("release", "v1.1.0");
    expect(result.out).toMatch(/Moved v1 to v1\.1\.0/);
    const head = await git(join(dir, "work"), "rev-parse", "HEAD");
    const tags = await remoteTags();
    expect(tags["refs/tags/v1.1.0^{}"]).toBe(head); // annotated, on HEAD
    expect(tags["refs/tags/v1"]).toBe(head); // lightweight, on the same commit
  });

  it.each([
    ["a dirty tree", async (work: string) => writeFile(join(work, "src.txt"), "edited\n"), "v1.1.0", /working tree is not clean/],
    [
      "a dist/ older than src/",
      async (work: string) => {
        await writeFile(join(work, "src.txt"), "v1.1 code\n");
        await git(work, "commit", "--quiet", "-am", "src only");
        await git(work, "push", "--quiet", "origin", "main");
      },
      "v1.1.0",
      /dist\/ does not match a fresh build/,
    ],
    ["a commit not pushed", async (work: string) => git(work, "commit", "--quiet", "--allow-empty", "-m", "local"), "v1.1.0", /HEAD is not on origin\/main/],
    ["an older version", async () => undefined, "v0.9.0", /not newer/],
    ["a version without release notes", async () => undefined, "v1.2.0", /add a "## v1\.2\.0" section/],
  ])("release refuses %s and pushes nothing", async (_name, setup, version, reason) => {
    await setup(join(dir, "work"));
    const before = await remoteTags();
    const result = await script("release", version);
    expect(result.code).not.toBe(0);
    expect(result.out).toMatch(reason);
    expect(await remoteTags()).toEqual(before);
  });
});
