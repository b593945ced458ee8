import { execFile } from "node:child_process";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program without a shell; tests replace it to observe what would run (apt, sudo). */
export type CommandRunner = (file: string, args: string[], env?: Record<string, string>) => Promise<CommandResult>;

export const runCommand: CommandRunner = (file, args, env) =>
  new Promise((resolve) => {
    execFile(file, args, { env: env ?? process.env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 127) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr || (error && !stderr ? error.message : "")) });
    });
  });

/**
 * The environment for pg_dump and pg_restore: what they need to run plus the connection, and
 * nothing else, so the API token in INPUT_API-TOKEN never reaches a child process.
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
