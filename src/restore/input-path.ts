import * as path from "node:path";

/** The `path` input as a file: relative to the workspace, as `actions/checkout` leaves it (config.ts and the entry's hash-ahead.ts agree on it). */
export function resolveInputPath(input: string, env: NodeJS.ProcessEnv): string {
  return path.resolve(env.GITHUB_WORKSPACE || process.cwd(), input);
}
