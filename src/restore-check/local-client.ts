import pg from "pg";
import type { ThrowawayServer } from "./throwaway-server.js";

/**
 * A client of the throwaway server, over its Unix socket, as its superuser. node-postgres fills
 * every setting left out (or left empty) from the runner's PG* variables: a PGSSLMODE=require
 * meant for production would ask the socket for TLS, a PGOPTIONS would change the session. So
 * each setting it reads from the environment is given here, none empty. The search_path is pinned
 * to pg_catalog: the restored database's owner may have set its own (ALTER DATABASE ... SET).
 */
export function localClient(server: ThrowawayServer, database: string): pg.Client {
  const client = new pg.Client({
    host: server.socketDir,
    port: server.port,
    user: server.superuser,
    database,
    // Trust authentication asks for no password; a function keeps PGPASSWORD out, should one be asked.
    password: () => "",
    ssl: false,
    options: "-c search_path=pg_catalog,pg_temp -c client_min_messages=warning",
    application_name: "scalingo-pg-dump restore check",
    client_encoding: "UTF8",
    connectionTimeoutMillis: 60_000,
    // node-postgres (not libpq) reads PGREPLICATION: an explicit "false" is a normal session.
    replication: "false",
  } as pg.ClientConfig);
  client.on("error", () => undefined);
  return client;
}

export async function withClient<T>(server: ThrowawayServer, database: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = localClient(server, database);
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
