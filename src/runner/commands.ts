import { getExecOutput } from "@actions/exec";

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
}

/** Runs a program without a shell; tests replace it to observe what would run (apt, sudo). */
export type CommandRunner = (file: string, args: string[], options?: CommandOptions) => Promise<CommandResult>;

/**
 * Through @actions/exec, like every action: the command line is logged and output streamed as it
 * comes. A program that cannot be started answers 127, as a shell would, instead of throwing.
 */
export const runCommand: CommandRunner = async (file, args, options = {}) => {
  try {
    const result = await getExecOutput(file, args, { env: childEnv(options.env ?? {}), ignoreReturnCode: true, silent: options.silent ?? false });
    return { code: result.exitCode, stdout: result.stdout, stderr: result.stderr };
  } catch (error) {
    return { code: 127, stdout: "", stderr: error instanceof Error ? error.message : String(error) };
  }
};

/**
 * The environment every child process gets: what programs need to run, plus `extra`, and nothing
 * else. The runner's environment holds INPUT_API-TOKEN, ACTIONS_RUNTIME_TOKEN and sometimes the
 * OIDC request token; no child (pg_dump, sudo, apt and its maintainer scripts) needs them.
 */
export function childEnv(extra: Record<string, string>): Record<string, string> {
  const keep = ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PGSSLROOTCERT"];
  const env: Record<string, string> = {};
  for (const key of keep) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}
