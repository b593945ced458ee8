// Stand-ins for the programs the action runs, first on PATH: each copies the environment it was
// started with (/proc/self/environ, as the kernel handed it over) to a file, then either runs the
// real program or answers as a stub, so a test can read what every child received.
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";

export interface EnvSpy {
  /** Put this first on PATH. */
  binDir: string;
  /** Each captured start: the program's name and its environment. */
  captured(): Promise<{ name: string; env: Record<string, string> }[]>;
  remove(): Promise<void>;
}

/**
 * `programs`: name → the real program to run after capturing (absolute path), or a stub's shell
 * body (stdout and exit code), e.g. `echo "pg_dump (PostgreSQL) 99.0"`.
 */
export async function createEnvSpy(programs: Record<string, { exec: string } | { stub: string }>): Promise<EnvSpy> {
  const root = await mkdtemp(path.join(tmpdir(), "env-spy-"));
  const binDir = path.join(root, "bin");
  const outDir = path.join(root, "out");
  await Promise.all([mkdir(binDir), mkdir(outDir)]);
  for (const [name, how] of Object.entries(programs)) {
    const capture = `/bin/cat /proc/$$/environ > '${outDir}/${name}.'$$`;
    const then = "exec" in how ? `exec '${how.exec}' "$@"` : how.stub;
    const file = path.join(binDir, name);
    await writeFile(file, `#!/bin/sh\n${capture}\n${then}\n`);
    await chmod(file, 0o755);
  }
  return {
    binDir,
    async captured() {
      const files = await readdir(outDir);
      return Promise.all(
        files.map(async (f) => {
          const raw = await readFile(path.join(outDir, f), "utf8");
          const env = Object.fromEntries(
            raw
              .split("\0")
              .filter(Boolean)
              .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
          );
          return { name: f.replace(/\.\d+$/, ""), env };
        }),
      );
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

/** What no child may receive: the action's inputs, the runner's tokens. */
export function forbiddenVariables(env: Record<string, string>): string[] {
  return Object.keys(env).filter(
    (k) =>
      k.startsWith("INPUT_") ||
      k.startsWith("ACTIONS_") ||
      k === "GITHUB_TOKEN" ||
      k.startsWith("STATE_") ||
      k === "GITHUB_STATE" ||
      // The S3 destination's credentials: the action's own, never a child's.
      k.startsWith("AWS_"),
  );
}
