import * as path from "node:path";
import pg from "pg";
import type { DumpFormat } from "../config.js";
import { ActionError } from "../errors.js";
import { type CommandRunner, LONG_TIMEOUT_SECONDS, runCommand } from "../runner/commands.js";
import type { ThrowawayServer } from "./throwaway-server.js";

export interface RestoredTable {
  schema: string;
  name: string;
  rows: number;
  /** pg_table_size: heap and TOAST, without indexes */
  bytes: number;
}

/** Lines of the restore tool's own error output kept in the failure message (all of it is in the log). */
const ERROR_LINES = 30;

/** A client of the throwaway server, over its Unix socket. */
export function localClient(server: ThrowawayServer, database: string): pg.Client {
  const client = new pg.Client({ host: server.env.PGHOST, port: Number(server.env.PGPORT), user: server.env.PGUSER, database });
  client.on("error", () => undefined);
  return client;
}

async function withClient<T>(server: ThrowawayServer, database: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = localClient(server, database);
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function createDatabase(server: ThrowawayServer, database: string): Promise<void> {
  await withClient(server, "postgres", async (c) => {
    await c.query(`CREATE DATABASE ${c.escapeIdentifier(database)}`);
  });
}

/**
 * Restores with the dump's own major: pg_restore for archives (in parallel where the format allows
 * it: not tar), psql for plain SQL. Ownership, privileges and tablespaces name roles and places of
 * the production server that a fresh server lacks (pg_dump never dumps roles): the archive formats
 * skip them, as the README's restore instructions do. Any error fails the check, in the tool's words.
 */
export async function restoreDump(o: {
  format: DumpFormat;
  /** the dump file, or the directory of the directory format */
  source: string;
  binDir: string;
  server: ThrowawayServer;
  database: string;
  jobs: number;
  run?: CommandRunner;
}): Promise<void> {
  const run = o.run ?? runCommand;
  const env = { ...o.server.env, PGDATABASE: o.database };
  if (o.format === "plain") {
    // Stops at the first error: what follows would only fail in its wake.
    const args = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password", "-o", "/dev/null", "-f", o.source];
    const result = await run(path.join(o.binDir, "psql"), args, {
      env: { ...env, PGOPTIONS: "-c client_min_messages=warning" },
      timeoutSeconds: LONG_TIMEOUT_SECONDS,
    });
    if (result.code !== 0) throw restoreError("psql", result.code, result.stderr);
    return;
  }
  const jobs = o.format === "tar" ? [] : [`--jobs=${o.jobs}`];
  const args = ["--no-owner", "--no-privileges", "--no-tablespaces", "--no-password", ...jobs, `--dbname=${o.database}`, o.source];
  const result = await run(path.join(o.binDir, "pg_restore"), args, { env, timeoutSeconds: LONG_TIMEOUT_SECONDS });
  // pg_restore goes on after an error and exits 1 at the end with "errors ignored on restore: N":
  // every failed object is listed, not only the first.
  if (result.code !== 0) throw restoreError("pg_restore", result.code, result.stderr);
}

function restoreError(tool: string, code: number, stderr: string): ActionError {
  const lines = stderr.trim().split("\n");
  const shown = lines.slice(0, ERROR_LINES).join("\n");
  const more = lines.length > ERROR_LINES ? `\n... ${lines.length - ERROR_LINES} more line(s) in the log.` : "";
  const space = /No space left on device/i.test(stderr) ? "\nThe runner's disk is full: the restored database needs several times the dump's size." : "";
  return new ActionError("restore", `The dump does not restore: ${tool} exited with code ${code}:\n${shown}${more}${space}`);
}

/**
 * Every table of the restored database with its exact row count (count(*), not statistics) and
 * size, counted on `jobs` connections at once, largest first so the long counts start early.
 */
export async function restoredTables(server: ThrowawayServer, database: string, jobs: number): Promise<RestoredTable[]> {
  const tables = await withClient(server, database, async (c) => {
    const { rows } = await c.query<{ schema: string; name: string; bytes: string }>(
      `SELECT n.nspname AS schema, c.relname AS name, pg_table_size(c.oid) AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
       ORDER BY pg_table_size(c.oid) DESC, 1, 2`,
    );
    return rows.map((r) => ({ schema: r.schema, name: r.name, bytes: Number(r.bytes), rows: 0 }));
  });
  let next = 0;
  const worker = () =>
    withClient(server, database, async (c) => {
      for (let table = tables[next++]; table; table = tables[next++]) {
        const { rows } = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${c.escapeIdentifier(table.schema)}.${c.escapeIdentifier(table.name)}`);
        table.rows = Number(rows[0]?.n);
      }
    });
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, tables.length)) }, worker));
  return tables;
}

/** pg_database_size of the restored database: what the check wrote on the runner's disk. */
export async function withDatabaseSize(server: ThrowawayServer, database: string): Promise<number> {
  return withClient(server, database, async (c) => {
    const { rows } = await c.query<{ bytes: string }>("SELECT pg_database_size(current_database()) AS bytes");
    return Number(rows[0]?.bytes);
  });
}
