// Connecting to the test server with the `pg` client the way libpq (pg_dump) would.
import pg from "pg";

/**
 * `pg` reads sslmode from a connection string and, unlike libpq, treats `require` as
 * `verify-full`, overriding any `ssl` option: the self-signed test certificate would be rejected.
 * So sslmode is taken out of the string and mapped to libpq's meaning (encrypt, don't verify).
 */
export function clientConfig(uri: string): pg.ClientConfig {
  const url = new URL(uri);
  const mode = url.searchParams.get("sslmode") ?? "disable";
  url.searchParams.delete("sslmode");
  const ssl = mode === "disable" ? false : { rejectUnauthorized: mode.startsWith("verify-") };
  return { connectionString: url.toString(), ssl, connectionTimeoutMillis: 5_000 };
}

/** One connection attempt, never throws: "ssl" or "plain" when accepted, else "refused: <reason>". */
export async function tryConnect(uri: string): Promise<string> {
  const client = new pg.Client(clientConfig(uri));
  client.on("error", () => {}); // a server-side disconnect after a failed connect must not crash the test
  try {
    await client.connect();
    const { rows } = await client.query<{ ssl: boolean }>("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    return rows[0]?.ssl ? "ssl" : "plain";
  } catch (error) {
    return `refused: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
}
