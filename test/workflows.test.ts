// Every workflow in .github/workflows is checked before GitHub ever runs it: by the structural
// checker in test/support/workflow-check.ts and by actionlint.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { lintProblems } from "./support/actionlint.js";
import { REPO_ROOT } from "./support/runner.js";
import { checkWorkflow, read, workflowFiles, type YamlMap } from "./support/workflow-check.js";

const BROKEN = `
name: broken
jobs:
  build:
    steps:
      - uses: actions/checkout
      - uses: actions/setup-node@main
        run: npm ci
      - run: echo "\${{ github.sha "
      - id: backup
        uses: ./
        with:
          database: db
          colour: blue
      - run: echo "\${{ steps.backup.outputs.nope }} \${{ steps.later.outputs.x }}"
      - id: later
        run: echo
`;

describe("the workflow checker", () => {
  it("accepts a sound workflow", () => {
    const sound = `on:\n  push:\n  schedule:\n    - cron: "17 3 * * 1-5"\npermissions:\n  contents: read\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - id: s\n        uses: ./\n        with:\n          api-token: \${{ secrets.T }}\n          database: db\n      - if: \${{ always() && steps.s.outputs.dump-path != '' }}\n        run: echo "\${{ steps.s.outputs.dump-path }}"\n`;
    expect(checkWorkflow(sound)).toEqual([]);
  });

  it("fails a deliberately broken workflow, naming each mistake", () => {
    const problems = checkWorkflow(BROKEN);
    for (const expected of [
      /^"on" is missing$/,
      /jobs\.build: "runs-on" is missing/,
      /steps\[0\]\.uses: "actions\/checkout" must be owner\/repo/,
      /steps\[1\]: needs exactly one of "uses" and "run"/,
      /steps\[1\]\.uses: "actions\/setup-node@main" must be/,
      /steps\[2\]\.run: "\$\{\{" is not closed/,
      /steps\[3\]\.with: "colour" is not an input of action.yml/,
      /steps\[3\]\.with: required input "api-token" is missing/,
      /steps\[4\]: "nope" is not an output of action.yml/,
      /steps\[4\]: "steps.later" is not an earlier step/,
    ]) {
      expect(
        problems.some((p) => expected.test(p)),
        `${expected} in\n${problems.join("\n")}`,
      ).toBe(true);
    }
  });

  it.each([
    ["YAML that does not parse", "on: push\njobs:\n  a:\n    runs-on: [ubuntu-latest\n", /^YAML: /],
    ["no jobs", "on: push\n", /"jobs" must be a non-empty map/],
    ["a job without steps", "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n", /"steps" must be a non-empty list/],
    ["an unknown event", "on: nightly\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n", /unknown event "nightly"/],
    ["an impossible cron", 'on:\n  schedule:\n    - cron: "61 3 * * *"\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n', /minute "61"/],
    ["a misspelt step key", "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n        environment: {}\n", /unknown key "environment"/],
    [
      "an unknown permission",
      "on: push\npermissions:\n  content: read\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n",
      /unknown scope "content"/,
    ],
    ["an unbalanced if", "on: push\njobs:\n  a:\n    runs-on: x\n    if: (github.ref == 'main'\n    steps:\n      - run: echo\n", /unclosed "\("/],
    [
      "a duplicate step id",
      "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - id: s\n        run: echo\n      - id: s\n        run: echo\n",
      /used twice/,
    ],
    ["needs on a missing job", "on: push\njobs:\n  a:\n    needs: build\n    runs-on: x\n    steps:\n      - run: echo\n", /"build" is not another job/],
    [
      "a needs context not in needs",
      `on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo \${{ needs.b.result }}\n`,
      /"needs.b" is not in needs/,
    ],
  ])("fails %s", (_name, text, expected) => {
    const problems = checkWorkflow(text);
    expect(
      problems.some((p) => expected.test(p)),
      problems.join("\n"),
    ).toBe(true);
  });
});

describe.each(workflowFiles)(".github/workflows/%s", (file) => {
  it("passes the workflow checker", () => {
    expect(checkWorkflow(read(file))).toEqual([]);
  });

  it("passes actionlint", async () => {
    expect(await lintProblems(read(file), file)).toEqual([]);
  });
});

describe("actionlint itself", () => {
  it("fails the deliberately broken workflow", async () => {
    expect((await lintProblems(BROKEN, "broken.yml")).length).toBeGreaterThanOrEqual(3);
  });
});

describe("the project's workflows", () => {
  const load = (file: string) => parse(read(file)) as YamlMap & { jobs: Record<string, YamlMap & { steps: YamlMap[] }> };
  const allSteps = (file: string) => Object.values(load(file).jobs).flatMap((job) => job.steps);

  it("are test.yml, check-dist.yml and example-nightly-backup.yml", () => {
    expect(workflowFiles).toEqual(expect.arrayContaining(["check-dist.yml", "example-nightly-backup.yml", "test.yml"]));
  });

  it("test.yml runs .ci/run (npm ci, PostgreSQL, npm test) on push and pull_request with the action's Node", () => {
    const workflow = load("test.yml");
    expect(Object.keys(workflow.on as YamlMap)).toEqual(expect.arrayContaining(["push", "pull_request"]));
    const steps = allSteps("test.yml");
    expect(steps.find((s) => s.uses === "actions/setup-node@v5")?.with).toMatchObject({ "node-version-file": ".node-version" });
    expect(steps.map((s) => s.run)).toContain("bash .ci/run");
  });

  it("name one Node major everywhere: action.yml's runtime, .node-version, engines, and setup-node", () => {
    const runtime = /^ {2}using: node(\d+)$/m.exec(readFileSync(join(REPO_ROOT, "action.yml"), "utf8"))?.[1];
    expect(runtime).toBe("24");
    expect(readFileSync(join(REPO_ROOT, ".node-version"), "utf8").trim()).toBe(runtime);
    expect(JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).engines).toEqual({ node: `>=${runtime}` });
    for (const file of workflowFiles) {
      for (const step of allSteps(file).filter((s) => String(s.uses).startsWith("actions/setup-node@"))) {
        expect(step.with, `${file}: setup-node reads .node-version`).toMatchObject({ "node-version-file": ".node-version" });
      }
    }
  });

  it("check-dist.yml rebuilds dist/, compares it and uploads the fresh one on a mismatch", () => {
    const steps = allSteps("check-dist.yml");
    const runs = steps.map((s) => String(s.run ?? "")).join("\n");
    expect(runs).toMatch(/npm ci[\s\S]*npm run build[\s\S]*git diff --exit-code/);
    const upload = steps.find((s) => String(s.uses).startsWith("actions/upload-artifact@"));
    expect(upload?.if).toMatch(/failure\(\)/);
  });

  it("example-nightly-backup.yml runs nightly and on demand, never twice at once, with read-only contents", () => {
    const workflow = load("example-nightly-backup.yml");
    expect(Object.keys(workflow.on as YamlMap)).toEqual(["schedule", "workflow_dispatch"]);
    expect(workflow.permissions).toEqual({ contents: "read" });
    expect(workflow.concurrency).toMatchObject({ "cancel-in-progress": false });
    const backup = allSteps("example-nightly-backup.yml").find((s) => s.uses === "./");
    expect(backup?.id).toBe("backup");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a template
    expect(backup?.with).toMatchObject({ "api-token": "${{ secrets.SCALINGO_API_TOKEN }}" });
  });

  it("example-restore-drill.yml restores last night's backup monthly into a fresh database, checks it and drops it", () => {
    const workflow = load("example-restore-drill.yml");
    expect((workflow.on as { schedule: { cron: string }[] }).schedule[0]?.cron).toMatch(/^\d+ \d+ \d+ \* \*$/);
    expect(workflow.permissions).toEqual({ contents: "read", actions: "read" });
    const restore = allSteps("example-restore-drill.yml").find((s) => s.uses === "./restore");
    expect(restore?.with).toMatchObject({ latest: true, workflow: "example-nightly-backup.yml", "drop-after": true });
    expect(restore?.with).not.toHaveProperty("target-database-name");
  });

  it("pin every action to a release tag (a major, or a full version for 0.x actions) or a commit SHA, never a branch", () => {
    for (const file of workflowFiles) {
      for (const step of allSteps(file))
        if (step.uses && !String(step.uses).startsWith("./")) expect(String(step.uses), file).toMatch(/@(v\d+|v0\.\d+\.\d+|[0-9a-f]{40})$/);
    }
  });
});
