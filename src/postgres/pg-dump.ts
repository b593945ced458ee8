import { spawn } from "node:child_process";
import { statfs } from "node:fs/promises";
import * as path from "node:path";
import { ActionError } from "../errors.js";
import type { DumpFormat } from "../naming.js";
import { childEnv } from "../runner/commands.js";

const FORMAT_FLAG: Record<DumpFormat, string> = { custom: "c", directory: "d", tar: "t", plain: "p" };

/** zstd, lz4 and the method:detail syntax arrived in pg_dump 16; older ones take a level only. */
export function compressProblem(compress: string | undefined, major: number, format: DumpFormat): string | undefined {
  if (!compress) return undefined;
  if (format === "tar" && compress !== "none" && compress !== "0")
    return "`compress`: the tar format cannot be compressed by pg_dump; use the custom or directory format.";
  if (major < 16 && !/^\d$/.test(compress)) return `\`compress\`: "${compress}" needs pg_dump 16 or later (this one is ${major}); use a level 0-9 (gzip).`;
  return undefined;
}

/**
 * pg_dump waits for a share lock on every table it dumps; without a limit, a lock held elsewhere (a
 * migration, VACUUM FULL) keeps it waiting, and the firewall open, for as long as that lasts.
 * Three minutes let a short migration finish; `pg-dump-args` may set another value.
 */
export const DEFAULT_LOCK_WAIT_TIMEOUT_MS = 180_000;

/**
 * libpq's TCP settings, as a connection string of its own: libpq has no environment variable for
 * them, and this word holds no host, user or password (those stay in the environment, which
 * libpq reads for every key the string leaves out). Without them a black-holed session keeps
 * pg_dump, and the firewall rule, waiting for about two hours (the kernel's keepalive defaults);
 * with them it fails within about two minutes, a failure the retry treats as a lost connection.
 */
export const KEEPALIVE_CONNINFO = "keepalives=1 keepalives_idle=60 keepalives_interval=10 keepalives_count=6 tcp_user_timeout=120000";

export function pgDumpArgs(config: { format: DumpFormat; jobs?: number; compress?: string; pgDumpArgs: string[] }, outputPath: string): string[] {
  const ownLockWait = config.pgDumpArgs.some((a) => a.startsWith("--lock-wait-timeout"));
  return [
    `--format=${FORMAT_FLAG[config.format]}`,
    `--file=${outputPath}`,
    ...(config.jobs ? [`--jobs=${config.jobs}`] : []),
    ...(config.compress ? [`--compress=${config.compress}`] : []),
    // Never prompt: a missing password must fail, not hang the job.
    "--no-password",
    `--dbname=${KEEPALIVE_CONNINFO}`,
    ...(ownLockWait ? [] : [`--lock-wait-timeout=${DEFAULT_LOCK_WAIT_TIMEOUT_MS}`]),
    ...config.pgDumpArgs,
  ];
}

export interface DumpRun {
  /** The process id, for the record the post step stops a leftover pg_dump by. */
  pid?: number;
  done: Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Starts pg_dump with the connection in the environment only. Its stderr (warnings, errors) is
 * forwarded line by line and its tail kept for the error message.
 *
 * A plain spawn, not @actions/exec like the other commands: a cancelled job must stop pg_dump
 * within the runner's grace period, which needs the child's handle to signal it, and exec gives
 * none (it only resolves when the program exits).
 */
export function startPgDump(pgDump: string, args: string[], connectionEnv: Record<string, string>, log: (line: string) => void): DumpRun {
  const child = spawn(pgDump, args, { env: childEnv(connectionEnv), stdio: ["ignore", "ignore", "pipe"] });
  const tail: string[] = [];
  let partial = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      log(line);
      tail.push(line);
      if (tail.length > 15) tail.shift();
    }
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on("error", (error) => reject(new ActionError("dump", `Could not start ${pgDump}: ${error.message}`)));
    child.on("close", async (code, signal) => {
      if (partial) tail.push(partial);
      if (code === 0) return resolve();
      const reason = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const space = /No space left|could not write/i.test(tail.join("\n")) ? await freeSpaceNote(args) : "";
      reject(new ActionError("dump", `pg_dump ${reason}:\n${tail.join("\n")}${space}`));
    });
  });
  return { pid: child.pid, done, kill: (signal) => child.kill(signal) };
}

async function freeSpaceNote(args: string[]): Promise<string> {
  const file = args.find((a) => a.startsWith("--file="))?.slice("--file=".length);
  if (!file) return "";
  try {
    const fs = await statfs(path.dirname(file));
    return `\nFree space left in ${path.dirname(file)}: ${Math.round((fs.bavail * fs.bsize) / 1e6)} MB. Use a compression (\`compress\`), a dump \`path\` on a larger disk, or a bigger runner.`;
  } catch {
    return "";
  }
}
