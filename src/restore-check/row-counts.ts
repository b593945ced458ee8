import type pg from "pg";
import { ActionError, errorMessage } from "../errors.js";
import { type Connection, pgClient } from "../postgres/connection.js";

/** A table of the production server, counted in the snapshot pg_dump reads. */
export interface CountedTable {
  oid: number;
  schema: string;
  name: string;
  /** undefined when it could not be counted (`error` says why); only matters if it was dumped */
  rows?: number;
  error?: string;
}

export interface SnapshotCounter {
  /** For `pg_dump --snapshot`: valid while this transaction is open. */
  snapshot: string;
  /** Counts every table the role can read, in the snapshot, one after the other. */
  countAll(): Promise<CountedTable[]>;
  /** Ends the transaction and the connection (stops a count in progress); safe to call twice. */
  close(): Promise<void>;
}

/**
 * Opens the action's own connection, starts a REPEATABLE READ transaction and exports its
 * snapshot: pg_dump, given it with --snapshot, reads exactly the rows counted here, whatever is
 * written meanwhile. The transaction must stay open until pg_dump (and its --jobs workers, which
 * import the same snapshot when they start) has taken it: the caller closes it after pg_dump ends.
 */
export async function openSnapshot(conn: Connection, o: { allowPlain: boolean; serverVersionNum: number; rowSecurity: boolean }): Promise<SnapshotCounter> {
  const client = pgClient(conn, 15_000, o.allowPlain);
  client.on("error", () => undefined);
  let closed = false;
  try {
    await client.connect();
    // pg_dump's own settings: no timeout cuts a long count short; row security as pg_dump applies it.
    await client.query(
      [
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        "SET LOCAL statement_timeout = 0",
        "SET LOCAL lock_timeout = 0",
        "SET LOCAL idle_in_transaction_session_timeout = 0",
        `SET LOCAL row_security = ${o.rowSecurity ? "on" : "off"}`,
        // A count left running by a failed dump stops when the server sees the client gone (14+).
        ...(o.serverVersionNum >= 140000 ? ["SET LOCAL client_connection_check_interval = 1000"] : []),
      ].join(";\n"),
    );
    const { rows } = await client.query<{ id: string }>("SELECT pg_export_snapshot() AS id");
    const snapshot = rows[0]?.id as string;
    return {
      snapshot,
      countAll: async () => {
        const tables = await candidates(client);
        for (const table of tables) {
          if (closed) throw new ActionError("restore", "The row counts were interrupted.");
          await countOne(client, table);
        }
        return tables;
      },
      close: async () => {
        if (closed) return;
        closed = true;
        await client.query("ROLLBACK").catch(() => undefined);
        await client.end().catch(() => undefined);
      },
    };
  } catch (error) {
    closed = true;
    await client.end().catch(() => undefined);
    throw new ActionError("dump", `Could not export a snapshot for the row counts: ${errorMessage(error)}`);
  }
}

/** Every ordinary table (leaf partitions included) the role can read, outside the system schemas. */
async function candidates(client: pg.Client): Promise<CountedTable[]> {
  const { rows } = await client.query<{ oid: string; schema: string; name: string }>(
    `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
       AND has_table_privilege(c.oid, 'SELECT')
     ORDER BY 2, 3`,
  );
  return rows.map((r) => ({ oid: Number(r.oid), schema: r.schema, name: r.name }));
}

/**
 * count(*) of the table's own rows (ONLY: pg_dump dumps each inheritance child and partition on its
 * own), inside a savepoint rolled back at once: that releases the table's lock, so no DDL queues
 * behind this idle transaction for the rest of the dump, and an error (row security, a lock)
 * does not abort the transaction pg_dump's snapshot depends on.
 */
async function countOne(client: pg.Client, table: CountedTable): Promise<void> {
  const relation = `${client.escapeIdentifier(table.schema)}.${client.escapeIdentifier(table.name)}`;
  try {
    const results = (await client.query(
      `SAVEPOINT count_rows; SELECT count(*) AS n FROM ONLY ${relation}; ROLLBACK TO SAVEPOINT count_rows`,
    )) as unknown as pg.QueryResult[];
    table.rows = Number(results[1]?.rows[0]?.n);
  } catch (error) {
    table.error = errorMessage(error);
    await client.query("ROLLBACK TO SAVEPOINT count_rows");
  }
}
