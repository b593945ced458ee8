import type pg from "pg";
import { ActionError, errorMessage } from "../errors.js";
import { type Connection, pgClient } from "../postgres/connection.js";
import type { Reachable } from "../postgres/reachability.js";
import { settleInOrder } from "../runner/first-failure.js";

// The target database, over the target's own connection (its role, its TLS decision): created
// fresh, or checked to exist; counted after the restore; dropped for drills.

export interface CountedRows {
  schema: string;
  name: string;
  rows: number;
}

async function withClient<T>(conn: Connection, reachable: Reachable, database: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = pgClient({ ...conn, database }, 15_000, reachable.allowPlain);
  client.on("error", () => undefined);
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A fresh database, owned by the target's role. A role that may not create databases fails here,
 * clearly: the action never falls back to the URI's own database.
 */
export async function createFreshDatabase(conn: Connection, reachable: Reachable, name: string): Promise<void> {
  await withClient(conn, reachable, conn.database, async (c) => {
    const { rows } = await c.query<{ may: boolean }>("SELECT rolcreatedb OR rolsuper AS may FROM pg_roles WHERE rolname = current_user");
    if (!rows[0]?.may) throw cannotCreate(conn.user, "it has no CREATEDB");
    try {
      await c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`);
    } catch (error) {
      if ((error as { code?: string }).code === "42501") throw cannotCreate(conn.user, errorMessage(error));
      throw new ActionError("restore", `Could not create the database ${name}: ${errorMessage(error)}`);
    }
  });
}

function cannotCreate(user: string, why: string): ActionError {
  return new ActionError(
    "restore",
    `The role ${user} may not create databases (${why}), so there is no fresh database to restore into. Name an existing database of the instance to restore over: \`target-database-name\` and \`confirm\` (its contents are replaced, in one transaction).`,
  );
}

export async function requireDatabase(conn: Connection, reachable: Reachable, name: string): Promise<void> {
  await withClient(conn, reachable, conn.database, async (c) => {
    const { rows } = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (!rows.length) throw new ActionError("restore", `\`target-database-name\`: the database ${name} does not exist in this instance. Nothing was restored.`);
  });
}

/**
 * Every ordinary table of the database with its exact row count (count(*): the manifest's counts
 * are exact too), on up to `connections` connections at once (the restore's `jobs`: the budget
 * pg_restore used), each taking the next table: the rule stays open while they count. Largest
 * first: the largest table's count is most of the wait, and started last it would run alone at
 * the end while the other connections idle. The result is in the listing's order (by name).
 */
export async function countRows(conn: Connection, reachable: Reachable, database: string, connections = 1): Promise<CountedRows[]> {
  let listed: Promise<{ schema: string; name: string; at: number }[]> | undefined;
  const counted: CountedRows[] = [];
  let next = 0;
  const count = async (c: pg.Client) => {
    // The first connection up lists the tables; every connection then counts the next one left.
    listed ??= listTables(c);
    const tables = await listed;
    for (let i = next++; i < tables.length; i = next++) {
      const { at, ...t } = tables[i] as { schema: string; name: string; at: number };
      const result = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${c.escapeIdentifier(t.schema)}.${c.escapeIdentifier(t.name)}`);
      counted[at] = { ...t, rows: Number(result.rows[0]?.n) };
    }
  };
  await settleInOrder(...Array.from({ length: Math.max(1, connections) }, () => withClient(conn, reachable, database, count)));
  return counted;
}

/**
 * The tables largest first, each with its place in the name order. Largest by the rows the server
 * counted as inserted (its cumulative statistics: a restored table has no planner statistics yet,
 * and pg_relation_size would wait on a table another session locked).
 */
async function listTables(c: pg.Client): Promise<{ schema: string; name: string; at: number }[]> {
  const { rows } = await c.query<{ schema: string; name: string; at: number }>(
    `SELECT n.nspname AS schema, c.relname AS name, (row_number() OVER (ORDER BY n.nspname, c.relname) - 1)::int AS at
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
     ORDER BY pg_stat_get_tuples_inserted(c.oid) DESC, 1, 2`,
  );
  return rows;
}

/** For drills: the database this run created goes, with the rule still open. */
export async function dropDatabase(conn: Connection, reachable: Reachable, name: string): Promise<void> {
  await withClient(conn, reachable, conn.database, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)}`);
  });
}

/**
 * The restored counts against the manifest's: every table the manifest counted must hold exactly
 * its rows. Only names and numbers are reported, never a row's values.
 */
export function countProblems(expected: readonly CountedRows[], restored: readonly CountedRows[]): string[] {
  const byName = new Map(restored.map((t) => [`${t.schema}.${t.name}`, t.rows]));
  const problems: string[] = [];
  for (const t of expected) {
    const got = byName.get(`${t.schema}.${t.name}`);
    if (got === undefined) problems.push(`${t.schema}.${t.name}: ${t.rows} row(s) in the manifest, but the table is missing from the restored database.`);
    else if (got !== t.rows) problems.push(`${t.schema}.${t.name}: ${t.rows} row(s) in the manifest, ${got} restored.`);
  }
  return problems;
}
