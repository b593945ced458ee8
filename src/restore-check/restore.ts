import { readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";
import type { DumpFormat } from "../config.js";
import { ActionError } from "../errors.js";
import { type CommandResult, type CommandRunner, LONG_TIMEOUT_SECONDS, runCommand } from "../runner/commands.js";
import { localClient, withClient } from "./local-client.js";
import { addScriptObjects, addSqlstates, describeFailures, pgRestoreFailures, psqlFailures } from "./restore-errors.js";
import { extensionNames, listFile, parseToc, planRestore, type TocEntry } from "./restore-plan.js";
import type { ThrowawayServer } from "./throwaway-server.js";

export { localClient };

export interface RestoredTable {
  schema: string;
  name: string;
  rows: number;
  /** pg_table_size: heap and TOAST, without indexes */
  bytes: number;
}

/**
 * The role the dump is restored as: the production role's name (policies, `OWNER TO` and code
 * that names it find it), no SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS, member of
 * no role (so not of pg_read_server_files, pg_write_server_files or pg_execute_server_program),
 * owner of the restore database. Code the dump brings runs with this role's rights only.
 */
export async function createRestoreRole(server: ThrowawayServer, role: string, database: string): Promise<void> {
  await withClient(server, "postgres", async (c) => {
    const name = c.escapeIdentifier(role);
    await c.query(`CREATE ROLE ${name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`);
    await c.query(`CREATE DATABASE ${c.escapeIdentifier(database)} OWNER ${name}`);
  });
}

/** Objects the restore left out (EVENT TRIGGER, PUBLICATION, SUBSCRIPTION): the summary lists them as not checked. */
export type NotChecked = Pick<TocEntry, "type" | "schema" | "name">;

interface RestoreOptions {
  format: DumpFormat;
  /** the dump file, or the directory of the directory format */
  source: string;
  binDir: string;
  server: ThrowawayServer;
  /** the restore role's name (the production role's) */
  role: string;
  database: string;
  jobs: number;
  run?: CommandRunner;
}

/**
 * Restores with the dump's own major, as the restore role: pg_restore for archives in three steps
 * (schemas as the role; untrusted extensions the runner has, as the superuser; the rest as the
 * role, in parallel where the format allows it: not tar), psql for plain SQL (one script: it cannot
 * be split, so it runs whole as the role). Ownership, privileges and tablespaces name roles and
 * places of the production server that a fresh server lacks: the archive formats skip them.
 */
export async function restoreDump(o: RestoreOptions): Promise<NotChecked[]> {
  if (o.format === "plain") {
    await restorePlain(o);
    return [];
  }
  const run = o.run ?? runCommand;
  const pgRestore = path.join(o.binDir, "pg_restore");
  const listed = await run(pgRestore, ["--list", o.source], { silent: true });
  if (listed.code !== 0) throw await restoreError(o, "pg_restore", listed, []);
  const entries = parseToc(listed.stdout);
  const plan = planRestore(entries, await untrustedAvailable(o.server, o.database, extensionNames(entries)));
  const steps: [TocEntry[], string, string[]][] = [
    [plan.schemas, o.role, []],
    [plan.extensions, o.server.superuser, []],
    [plan.rest, o.role, o.format === "tar" ? [] : [`--jobs=${o.jobs}`]],
  ];
  for (const [[chosen, user, extra], step] of steps.map((s, i) => [s, i] as const)) {
    if (!chosen.length) continue;
    const list = path.join(o.server.folder, `restore-${step + 1}.list`);
    await writeFile(list, listFile(chosen), { mode: 0o600 });
    const args = [
      "--verbose",
      "--no-owner",
      "--no-privileges",
      "--no-tablespaces",
      "--no-password",
      ...extra,
      `--use-list=${list}`,
      `--dbname=${o.database}`,
      o.source,
    ];
    // pg_restore goes on after an error and exits 1 at the end: every failed object is listed, not
    // only the first. Its output is judged (restore-errors.ts), never logged as it is.
    const result = await run(pgRestore, args, { env: libpqEnv(o.server, user, o.database), timeoutSeconds: LONG_TIMEOUT_SECONDS, silent: true });
    if (result.code !== 0) throw await restoreError(o, "pg_restore", result, entries);
  }
  return plan.notChecked.map(({ type, schema, name }) => ({ type, schema, name }));
}

/** Stops at the first error: what follows would only fail in its wake. VERBOSITY=verbose prints the SQLSTATE. */
async function restorePlain(o: RestoreOptions): Promise<void> {
  const run = o.run ?? runCommand;
  const args = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "--no-password", "-o", "/dev/null", "-f", o.source];
  const env = { ...libpqEnv(o.server, o.role, o.database), PGOPTIONS: "-c client_min_messages=warning" };
  const result = await run(path.join(o.binDir, "psql"), args, { env, timeoutSeconds: LONG_TIMEOUT_SECONDS, silent: true });
  if (result.code !== 0) throw await restoreError(o, "psql", result, []);
}

/** Only these reach the restore tools: the server's socket, the user, the database (children get no PG* variable of the runner's). */
function libpqEnv(server: ThrowawayServer, user: string, database: string): Record<string, string> {
  return { PGHOST: server.socketDir, PGPORT: String(server.port), PGUSER: user, PGDATABASE: database, PGAPPNAME: "scalingo-pg-dump restore check" };
}

/**
 * The dump's extensions that only a superuser may create and that the runner's server has
 * (`trusted` in the default version; servers before 13 have no trusted extensions).
 */
async function untrustedAvailable(server: ThrowawayServer, database: string, names: string[]): Promise<Set<string>> {
  if (!names.length) return new Set();
  return withClient(server, database, async (c) => {
    const { rows } = await c.query<{ name: string }>(
      `SELECT v.name FROM pg_catalog.pg_available_extension_versions v
       JOIN pg_catalog.pg_available_extensions a ON a.name = v.name AND a.default_version = v.version
       WHERE v.name = ANY($1) AND NOT coalesce((pg_catalog.to_jsonb(v) ->> 'trusted')::bool, false)`,
      [names],
    );
    return new Set(rows.map((r) => r.name));
  });
}

async function restoreError(o: RestoreOptions, tool: "pg_restore" | "psql", result: CommandResult, toc: TocEntry[]): Promise<ActionError> {
  const failures = tool === "psql" ? psqlFailures(result.stderr) : pgRestoreFailures(result.stderr, new Map(toc.map((e) => [e.id, e])));
  if (tool === "pg_restore") addSqlstates(failures, await readFile(o.server.logFile, "utf8").catch(() => ""));
  else await addScriptObjects(failures, o.source).catch(() => undefined);
  const space = /No space left on device/i.test(result.stderr) ? "\nThe runner's disk is full: the restored database needs several times the dump's size." : "";
  const listed = failures.length ? `:\n${describeFailures(failures)}` : ": it printed no error the action recognises.";
  return new ActionError("restore", `The dump does not restore: ${tool} exited with code ${result.code}${listed}${space}`);
}

/**
 * Every table of the restored database with its exact row count (count(*), not statistics) and
 * size, counted on `jobs` connections at once, largest first so the long counts start early.
 * As the superuser (it sees every row, whatever row security says): counting runs no code of the
 * dump's, and the session's search_path is pinned (local-client.ts).
 */
export async function restoredTables(server: ThrowawayServer, database: string, jobs: number): Promise<RestoredTable[]> {
  const tables = await withClient(server, database, async (c) => {
    const { rows } = await c.query<{ schema: string; name: string; bytes: string }>(
      `SELECT n.nspname AS schema, c.relname AS name, pg_catalog.pg_table_size(c.oid) AS bytes
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND n.nspname OPERATOR(pg_catalog.!~) '^pg_' AND n.nspname OPERATOR(pg_catalog.<>) 'information_schema'
       ORDER BY 3 DESC, 1, 2`,
    );
    return rows.map((r) => ({ schema: r.schema, name: r.name, bytes: Number(r.bytes), rows: 0 }));
  });
  let next = 0;
  const worker = () =>
    withClient(server, database, async (c) => {
      for (let table = tables[next++]; table; table = tables[next++]) {
        const { rows } = await c.query<{ n: string }>(
          `SELECT pg_catalog.count(*) AS n FROM ONLY ${c.escapeIdentifier(table.schema)}.${c.escapeIdentifier(table.name)}`,
        );
        table.rows = Number(rows[0]?.n);
      }
    });
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, tables.length)) }, worker));
  return tables;
}

/** pg_database_size of the restored database: what the check wrote on the runner's disk. */
export async function withDatabaseSize(server: ThrowawayServer, database: string): Promise<number> {
  return withClient(server, database, async (c) => {
    const { rows } = await c.query<{ bytes: string }>("SELECT pg_catalog.pg_database_size(pg_catalog.current_database()) AS bytes");
    return Number(rows[0]?.bytes);
  });
}
