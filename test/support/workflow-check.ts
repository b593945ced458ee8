// A structural checker for GitHub workflow files: what GitHub rejects at load time, plus this
// action's own inputs and outputs for `uses: ./`. actionlint (test/support/actionlint.ts) checks
// the rest; the two disagree rarely, and each catches what the other does not.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseDocument } from "yaml";

const root = fileURLToPath(new URL("../..", import.meta.url));
export const workflowsDir = join(root, ".github", "workflows");
export const workflowFiles = readdirSync(workflowsDir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
export const read = (file: string) => readFileSync(join(workflowsDir, file), "utf8");

interface ActionMetadata {
  inputs: Record<string, { required?: boolean; default?: unknown }>;
  outputs: Record<string, unknown>;
}
const action = parse(readFileSync(join(root, "action.yml"), "utf8")) as ActionMetadata;

export type YamlMap = Record<string, unknown>;
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
export function checkWorkflow(text: string): string[] {
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
