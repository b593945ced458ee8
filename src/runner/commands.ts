import { spawn } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import { exec } from "@actions/exec";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** Added to the reduced environment every child gets (see childEnv). */
  env?: Record<string, string>;
  /** Keep the command and its output out of the log (probes whose failure is an answer). */
  silent?: boolean;
  /** Seconds before the command is stopped: TERM, then KILL `KILL_AFTER_SECONDS` later. */
  timeoutSeconds?: number;
  /** Stops the command at once when aborted (the install, when the wait for the database failed). */
  signal?: AbortSignal;
  /** Each chunk of stdout, instead of collecting it (a decompressed dump is far too big to keep). */
  onStdout?: (chunk: Buffer) => void;
  /** Told the child's pid as soon as it is spawned, so it can be recorded for the post step (with `signal` only). */
  onSpawn?: (pid: number | undefined) => void;
}

/** Runs a program without a shell; tests replace it to observe what would run (apt, sudo). */
export type CommandRunner = (file: string, args: string[], options?: CommandOptions) => Promise<CommandResult>;

/** Probes and local commands answer in seconds; the slow ones (apt) say how long they may take. */
export const DEFAULT_TIMEOUT_SECONDS = 120;
/**
 * For work whose length grows with the database (tar, restore): GitHub's limit for a whole job.
 * The firewall is closed by then; this only ends a hang.
 */
export const LONG_TIMEOUT_SECONDS = 6 * 3600;
export const KILL_AFTER_SECONDS = 10;
/** What coreutils `timeout` exits with when the time ran out (124), or when TERM was not enough (137). */
const TIMED_OUT = [124, 137];

/**
 * Through @actions/exec, like every action: the command line is logged and output streamed as it
 * comes. A program that cannot be started answers 127, as a shell would, instead of throwing.
 * @actions/exec has no timeout and no handle on the child, so on Linux the command runs under
 * coreutils `timeout`; a command that must stop on `signal` needs the handle: see spawnCommand.
 */
export const runCommand: CommandRunner = async (file, args, options = {}) => {
  const seconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  if (options.signal) return spawnCommand(file, args, options);
  const [bin, argv] = bounded(file, args, seconds);
  const out = new StringDecoder("utf8");
  const err = new StringDecoder("utf8");
  let stdout = "";
  let stderr = "";
  try {
    const code = await exec(bin, argv, {
      env: childEnv(options.env ?? {}),
      ignoreReturnCode: true,
      silent: options.silent ?? false,
      listeners: {
        stdout: (data) => {
          if (options.onStdout) options.onStdout(data);
          else stdout += out.write(data);
        },
        stderr: (data) => {
          stderr += err.write(data);
        },
      },
    });
    return withTimeoutNote({ code, stdout: stdout + out.end(), stderr: stderr + err.end() }, bin !== file, seconds);
  } catch (error) {
    return { code: 127, stdout: "", stderr: error instanceof Error ? error.message : String(error) };
  }
};

/**
 * The same, in a plain spawn: @actions/exec gives no handle to stop a child, and a stalled apt or
 * curl must stop as soon as the run fails elsewhere, not when its timeout ends. The child leads its
 * own process group so the stop reaches what it started (apt's download methods, dpkg).
 */
export function spawnCommand(file: string, args: string[], options: CommandOptions = {}): Promise<CommandResult> {
  const seconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const [bin, argv] = bounded(file, args, seconds);
  const log = !options.silent;
  if (log) process.stdout.write(`[command]${[file, ...args].join(" ")}\n`);
  return new Promise((resolve) => {
    if (options.signal?.aborted) return resolve({ code: 130, stdout: "", stderr: "not started: the run was stopped" });
    const child = spawn(bin, argv, { env: childEnv(options.env ?? {}), stdio: ["ignore", "pipe", "pipe"], detached: true });
    options.onSpawn?.(child.pid);
    let stdout = "";
    let stderr = "";
    let stopped = false;
    child.stdout.on("data", (data: Buffer) => {
      if (options.onStdout) options.onStdout(data);
      else stdout += data.toString();
      if (log) process.stdout.write(data);
    });
    child.stderr.on("data", (data: Buffer) => {
      stderr += data.toString();
      if (log) process.stderr.write(data);
    });
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        child.kill(signal);
      }
    };
    let killer: NodeJS.Timeout | undefined;
    const stop = () => {
      stopped = true;
      signalGroup("SIGTERM");
      killer = setTimeout(() => signalGroup("SIGKILL"), KILL_AFTER_SECONDS * 1000);
    };
    options.signal?.addEventListener("abort", stop, { once: true });
    const finish = (result: CommandResult) => {
      options.signal?.removeEventListener("abort", stop);
      clearTimeout(killer);
      resolve(result);
    };
    child.on("error", (error) => finish({ code: 127, stdout, stderr: error.message }));
    child.on("close", (code, signal) => {
      if (stopped) return finish({ code: code ?? 143, stdout, stderr: `${stderr}\nstopped: the run failed elsewhere` });
      finish(withTimeoutNote({ code: code ?? (signal === "SIGKILL" ? 137 : 143), stdout, stderr }, bin !== file, seconds));
    });
  });
}

/**
 * Linux runners all have `timeout` (coreutils, or BusyBox's in small containers, hence the short
 * options). Under sudo it goes inside, so it runs as root too: the runner's user may not be allowed
 * to signal the root processes it must stop. Elsewhere nothing slow runs (no install), so as is.
 */
function bounded(file: string, args: string[], seconds: number): [string, string[]] {
  if (process.platform !== "linux") return [file, args];
  const limit = ["-k", String(KILL_AFTER_SECONDS), String(seconds)];
  if (file === "sudo" && args[0] === "-n") return ["sudo", ["-n", ...preserveProxy(), "timeout", ...limit, ...args.slice(1)]];
  return ["timeout", [...limit, file, ...args]];
}

function withTimeoutNote(result: CommandResult, wasBounded: boolean, seconds: number): CommandResult {
  if (!wasBounded || !TIMED_OUT.includes(result.code)) return result;
  return { ...result, stderr: `${result.stderr}\ntimed out after ${seconds} s` };
}

/**
 * The environment every child process gets: what programs need to run, plus `extra`, and nothing
 * else. The runner's environment holds INPUT_API-TOKEN, ACTIONS_RUNTIME_TOKEN and sometimes the
 * OIDC request token; no child (pg_dump, sudo, apt and its maintainer scripts) needs them.
 */
export function childEnv(extra: Record<string, string>): Record<string, string> {
  // No PG* variable: pg_dump gets the connection's, decided once (postgres/tls.ts honours the
  // runner's PGSSLMODE, PGSSLROOTCERT, PGCHANNELBINDING and PGREQUIREAUTH there). APT_CONFIG:
  // apt's own configuration file, set by hosts that configure apt through it (proxies, mirrors, roots).
  // RUNNER_TRACKING_ID: the runner reaps the processes that carry it when the job ends ("Cleaning
  // up orphan processes"); a pg_dump, postgres or apt a killed step left behind must carry it too.
  const keep = ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "APT_CONFIG", "RUNNER_TRACKING_ID", ...PROXY_VARIABLES];
  const env: Record<string, string> = {};
  for (const key of keep) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * A runner behind a proxy reaches apt.postgresql.org only through it: curl and apt read these
 * (apt when no Acquire::*::Proxy is configured), so the install's children keep them.
 */
const PROXY_VARIABLES = ["https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"];

/**
 * sudo resets the environment; naming the proxy variables keeps them for root's curl and apt. By
 * name, not as `env https_proxy=...` words: a proxy URL may hold a password, and argv is public.
 */
function preserveProxy(): string[] {
  const present = PROXY_VARIABLES.filter((name) => process.env[name] !== undefined);
  return present.length ? [`--preserve-env=${present.join(",")}`] : [];
}
