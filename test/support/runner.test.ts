// Checks the runner simulation with a stand-in action (action.yml + dist/{main,post}/index.js) that
// uses the real @actions/core v3, so the file formats parsed are the ones the bundle will write.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startArtifactEmulator } from "../emulators/artifact.js";
import { allWrittenText, createRunnerContext, REPO_ROOT, type RunnerContext, runStep, startStep } from "./runner.js";

const CORE = pathToFileURL(join(REPO_ROOT, "node_modules/@actions/core/lib/core.js")).href;
const ARTIFACT = pathToFileURL(join(REPO_ROOT, "node_modules/@actions/artifact/lib/artifact.js")).href;

const ACTION_YML = `name: stand-in
inputs:
  api-token:
    required: true
  region:
    description: "Scalingo region"
    default: 'osc-fr1'
  reachable-timeout:
    default: 300 # seconds
  pg-dump-args:
    default: |
      --clean
      --no-owner
runs:
  using: node24
  main: dist/main/index.js
  post: dist/post/index.js
`;

const MAIN = `import * as core from ${JSON.stringify(CORE)};
import { writeFileSync } from "node:fs";
// The token itself must not reach an output file: the secret scan below would (rightly) find it.
const inputs = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("INPUT_"))
  .map(([k, v]) => [k, k === "INPUT_API-TOKEN" ? \`<\${v.length} chars>\` : v]));
core.setSecret(core.getInput("api-token", { required: true }));
core.setOutput("inputs", JSON.stringify(inputs));
core.setOutput("multi", "line1\\nline2\\n");
core.setOutput("cwd", process.cwd());
core.setOutput("leaked-env", String(process.env.ONLY_IN_TEST_PROCESS));
core.saveState("ruleId", "r-42");
core.saveState("MixedCase", "kept");
core.warning("public repository");
core.error("bad 100% thing\\nsecond line");
await core.summary.addHeading("Backup").write();
writeFileSync(process.env.RUNNER_TEMP + "/note.txt", "written by the step");
if (process.env.MODE === "upload") {
  const { DefaultArtifactClient } = await import(${JSON.stringify(ARTIFACT)});
  const file = process.env.RUNNER_TEMP + "/db-20250101T000000Z.dump";
  writeFileSync(file, "dump bytes");
  const r = await new DefaultArtifactClient().uploadArtifact("x", [file], process.env.RUNNER_TEMP, { skipArchive: true, retentionDays: 7 });
  core.setOutput("artifact-id", String(r.id));
}
if (process.env.MODE === "wait") {
  process.on("SIGINT", () => { console.log("got SIGINT"); process.exit(3); });
  console.log("ready");
  setInterval(() => {}, 1000);
}
if (process.env.MODE === "stubborn") {
  process.on("SIGINT", () => console.log("ignoring SIGINT"));
  process.on("SIGTERM", () => { console.log("got SIGTERM"); process.exit(4); });
  console.log("ready");
  setInterval(() => {}, 1000);
}
`;

const POST = `import * as core from ${JSON.stringify(CORE)};
core.setOutput("state", JSON.stringify(Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("STATE_")))));
core.setOutput("token", core.getInput("api-token"));
`;

let actionDir: string;
let ctx: RunnerContext;

beforeAll(async () => {
  actionDir = await mkdtemp(join(tmpdir(), "stand-in-action-"));
  await writeFile(join(actionDir, "action.yml"), ACTION_YML);
  for (const [entry, code] of [
    ["main", MAIN],
    ["post", POST],
  ] as const) {
    await mkdir(join(actionDir, "dist", entry), { recursive: true });
    await writeFile(join(actionDir, "dist", entry, "index.js"), code);
    await writeFile(join(actionDir, "dist", entry, "package.json"), '{"type":"module"}'); // as ncc writes it
  }
  ctx = await createRunnerContext({ actionDir, artifact: { resultsUrl: "http://127.0.0.1:1/", runtimeToken: "t.o.k" } });
});

afterAll(async () => {
  await ctx?.cleanup();
  await rm(actionDir, { recursive: true, force: true });
});

describe("runner simulation", () => {
  it("passes inputs as the runner does and parses outputs, state, summary, masks and errors", async () => {
    process.env.ONLY_IN_TEST_PROCESS = "x"; // must not reach the step
    const r = await runStep(ctx, "main", { "api-token": "tk-secret-123", region: "osc-secnum-fr1", "extra input": "e" });
    delete process.env.ONLY_IN_TEST_PROCESS;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.outputs.inputs as string)).toEqual({
      "INPUT_API-TOKEN": "<13 chars>", // dashes kept
      INPUT_REGION: "osc-secnum-fr1", // given value wins over the default
      "INPUT_REACHABLE-TIMEOUT": "300", // default from action.yml
      "INPUT_PG-DUMP-ARGS": "--clean\n--no-owner\n",
      INPUT_EXTRA_INPUT: "e", // spaces become underscores
    });
    expect(r.outputs.multi).toBe("line1\nline2\n");
    expect(r.outputs.cwd).toBe(ctx.env.GITHUB_WORKSPACE);
    expect(r.outputs["leaked-env"]).toBe("undefined");
    expect(r.state).toEqual({ ruleId: "r-42", MixedCase: "kept" });
    expect(r.summary).toBe("<h1>Backup</h1>\n");
    expect(r.masks).toEqual(["tk-secret-123"]);
    expect(r.errors).toEqual(["bad 100% thing\nsecond line"]);
    expect(r.warnings).toEqual(["public repository"]);
    expect(r.stdout).toMatch(/^::add-mask::tk-secret-123$/m);

    const text = await allWrittenText(ctx, [r]);
    expect(text).toContain("written by the step");
    expect(text).toContain("event.json");
    expect(text).not.toContain("tk-secret-123"); // only in the consumed ::add-mask:: line
  });

  it("gives the post step its saved state as STATE_ variables and the inputs again", async () => {
    const main = await runStep(ctx, "main", { "api-token": "tk" });
    const post = await runStep(ctx, "post", { "api-token": "tk" }, { state: main.state });
    expect(post.code).toBe(0);
    expect(JSON.parse(post.outputs.state as string)).toEqual({ STATE_ruleId: "r-42", STATE_MixedCase: "kept" });
    expect(post.outputs.token).toBe("tk");
    expect(post.state).toEqual({}); // fresh GITHUB_STATE file per step
  });

  it("writes the event payload and runner environment", async () => {
    const event = JSON.parse(await readFile(ctx.env.GITHUB_EVENT_PATH as string, "utf8"));
    expect(event.repository).toMatchObject({ full_name: "acme/shop", private: true });
    expect(ctx.env).toMatchObject({ ACTIONS_RUNTIME_TOKEN: "t.o.k", ACTIONS_RESULTS_URL: "http://127.0.0.1:1/", GITHUB_RUN_ATTEMPT: "1", RUNNER_OS: "Linux" });
    const unknown = await createRunnerContext({ repositoryPrivate: null });
    const payload = JSON.parse(await readFile(unknown.env.GITHUB_EVENT_PATH as string, "utf8"));
    expect(payload.repository.private).toBeUndefined();
    await unknown.cleanup();
  });

  it("gives the step what the real @actions/artifact client needs, under Node 24", async () => {
    const emu = await startArtifactEmulator();
    const job = await createRunnerContext({ actionDir, artifact: emu });
    try {
      const r = await runStep(job, "main", { "api-token": "tk" }, { env: { MODE: "upload" } });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const stored = emu.artifacts.get("db-20250101T000000Z.dump");
      expect(stored).toMatchObject({ finalized: true, size: 10 });
      expect(r.outputs["artifact-id"]).toBe(String(stored?.id));
      // The client masks the SAS signature because the service answers signed_upload_url (snake_case).
      expect(r.masks.length).toBeGreaterThanOrEqual(2);
      // The runner masks the log itself (the client's ::debug:: lines print the signed URL raw),
      // so what must never hold a masked value is what the step leaves on disk.
      const files = await allWrittenText(job, []);
      for (const mask of r.masks) expect(files).not.toContain(mask);
    } finally {
      await job.cleanup();
      await emu.close();
    }
  });

  it("delivers SIGINT to the step", async () => {
    const step = startStep(ctx, "main", { "api-token": "tk" }, { env: { MODE: "wait" } });
    await step.waitFor(/^ready$/m);
    step.child.kill("SIGINT");
    const r = await step.done;
    expect(r.stdout).toContain("got SIGINT");
    expect(r.code).toBe(3);
    expect(r.state.ruleId).toBe("r-42"); // state saved before the signal is kept
  });

  it("cancels like the runner: SIGTERM 7.5 s after an ignored SIGINT", async () => {
    const step = startStep(ctx, "main", { "api-token": "tk" }, { env: { MODE: "stubborn" } });
    await step.waitFor(/^ready$/m);
    const started = Date.now();
    const r = await step.cancel();
    expect(Date.now() - started).toBeGreaterThanOrEqual(7_400);
    expect(r.stdout).toMatch(/ignoring SIGINT[\s\S]*got SIGTERM/);
    expect(r.code).toBe(4);
  });

  it("rejects waitFor when the step ends without the pattern", async () => {
    const step = startStep(ctx, "main", { "api-token": "tk" });
    await expect(step.waitFor(/never printed/)).rejects.toThrow(/ended without printing/);
    expect((await step.done).code).toBe(0);
  });
});
