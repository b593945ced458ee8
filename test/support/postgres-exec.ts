// Child processes and temporary places for the PostgreSQL test harness (postgres.ts).
import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

/** The OS user Debian's package creates; root cannot run initdb or postgres itself. */
export const SERVER_OS_USER = "postgres";

// The caller's PG* variables (PGSSLMODE, PGPASSWORD...) must not leak into the harness's own tools.
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PG")));

export interface RunOptions {
  cwd?: string;
  input?: string;
  /** root cannot run initdb/postgres: run through runuser as the server's OS user */
  asServerUser?: boolean;
}

export function run(command: string, args: string[], options: RunOptions = {}): Promise<string> {
  const [cmd, argv] = options.asServerUser ? ["runuser", ["-u", SERVER_OS_USER, "--", command, ...args]] : [command, args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: options.cwd, env: childEnv, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const stdout = Buffer.concat(out).toString("utf8");
      if (code === 0) return resolve(stdout);
      const stderr = Buffer.concat(err).toString("utf8").trim();
      reject(new Error(`${path.basename(command)} ${signal ?? `exited ${code}`}: ${stderr || stdout.trim()}`));
    });
    child.stdin.on("error", () => {}); // EPIPE when the tool dies early; "close" reports why
    child.stdin.end(options.input ?? "");
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** As root the server runs as `postgres`, which must be able to traverse every parent of its dirs. */
export async function tempBase(asRoot: boolean): Promise<string> {
  const base = tmpdir();
  if (!asRoot) return base;
  for (let dir = path.resolve(base); ; dir = path.dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) return "/tmp";
    if (dir === path.dirname(dir)) return base;
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
