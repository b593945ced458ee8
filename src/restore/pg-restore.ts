import * as path from "node:path";
import { ActionError } from "../errors.js";
import type { DumpFormat } from "../naming.js";
import { type Connection, libpqEnv } from "../postgres/connection.js";
import { type CommandRunner, LONG_TIMEOUT_SECONDS, runCommand } from "../runner/commands.js";

// pg_restore (psql for plain SQL) of the dump's major, as the target's own role, with the
// connection in PG* variables (never in argv). A fresh database is restored with workers; a named
// target in one transaction, cleaned first, so a failure leaves it as it was.

export interface RestorePlan {
  format: DumpFormat;
  source: string;
  /** The client's folder: pg_restore and psql of the dump's major. */
  binDir: string;
  connection: Connection;
  database: string;
  /** Over a named, existing database: --clean --if-exists --single-transaction. */
  over: boolean;
  jobs: number;
  args: string[];
  signal?: AbortSignal;
  /** Told the process's pid once spawned (the record post stops a leftover by). */
  onSpawn?: (pid: number | undefined) => void;
  run?: CommandRunner;
  log(message: string): void;
}

/** The restore's own argv (no connection in it): what the tests and the log show. */
export function restoreArgv(p: Omit<RestorePlan, "connection" | "run" | "signal" | "onSpawn" | "log">): { tool: "pg_restore" | "psql"; args: string[] } {
  if (p.format === "plain") {
    // A plain dump holds its own DROP statements (the backup's default --clean --if-exists).
    return {
      tool: "psql",
      args: ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password", ...(p.over ? ["--single-transaction"] : []), "-o", "/dev/null", "-f", p.source],
    };
  }
  // tar archives cannot be read by workers; one transaction cannot be split between them.
  const jobs = p.over || p.format === "tar" || p.jobs <= 1 ? [] : [`--jobs=${p.jobs}`];
  const over = p.over ? ["--clean", "--if-exists", "--single-transaction"] : [];
  // Only the database's name: host, role and password come in PG* variables.
  return { tool: "pg_restore", args: [...p.args, ...over, ...jobs, "--no-password", `--dbname=${p.database}`, p.source] };
}

export async function runRestore(p: RestorePlan): Promise<void> {
  const { tool, args } = restoreArgv(p);
  const env = { ...libpqEnv(p.connection), PGDATABASE: p.database, ...(tool === "psql" ? { PGOPTIONS: "-c client_min_messages=warning" } : {}) };
  const run = p.run ?? runCommand;
  const file = path.join(p.binDir, tool);
  // Silent: a failed COPY or constraint quotes row values (DETAIL, CONTEXT), which stay off the log.
  p.log(`Running ${file} ${args.join(" ")}`);
  const stoppable = p.signal ? { signal: p.signal, ...(p.onSpawn ? { onSpawn: p.onSpawn } : {}) } : {};
  const result = await run(file, args, { env, silent: true, timeoutSeconds: LONG_TIMEOUT_SECONDS, ...stoppable });
  if (result.code !== 0) throw new ActionError("restore", `${tool} exited with code ${result.code}:\n${withoutValues(result.stderr)}`);
}

/** Lines that may quote a row's values (DETAIL: Key (id)=(5), CONTEXT: COPY ... line 3: "...") stay on the runner. */
export function withoutValues(stderr: string): string {
  const lines = stderr
    .trim()
    .split("\n")
    .filter((line) => !/^\s*(DETAIL|CONTEXT|LINE \d+|HINT):|^\s*\^\s*$|^\s{4,}/.test(line.replace(/^(pg_restore|psql):\s*(error:\s*)?/, "")));
  const shown = lines.slice(0, 30);
  return `${shown.join("\n")}${lines.length > shown.length ? `\n... ${lines.length - shown.length} more line(s).` : ""}`;
}
