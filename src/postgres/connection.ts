import { readFileSync } from "node:fs";
import pg, { type ClientConfig } from "pg";
import { ActionError } from "../errors.js";
import { guardAuthentication } from "./auth-guard.js";

/** The parts of SCALINGO_POSTGRESQL_URL, decoded. */
export interface Connection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** libpq's sslmode; absent means libpq's default, prefer. */
  sslmode?: string;
  /** A file of trusted CA certificates: the server's chain is verified whenever it is set, as libpq does. */
  sslrootcert?: string;
  /** libpq's channel_binding and require_auth, decided in tls.ts. */
  channelBinding?: "disable" | "prefer" | "require";
  requireAuth?: string;
  /** Where the trusted CA came from, when the action fetched it (`ssl-root-cert: scalingo`): said when the certificate does not verify. */
  caSource?: string;
}

const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

export function parseConnectionUri(uri: string): Connection {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new ActionError("scalingo", "SCALINGO_POSTGRESQL_URL is not a valid URI (its value is not shown: it holds the password).");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ActionError("scalingo", `SCALINGO_POSTGRESQL_URL has scheme "${url.protocol}", expected postgres:// or postgresql://.`);
  }
  const sslmode = url.searchParams.get("sslmode") ?? undefined;
  if (sslmode && !SSL_MODES.includes(sslmode)) throw new ActionError("scalingo", `SCALINGO_POSTGRESQL_URL has an unknown sslmode "${sslmode}".`);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.replace(/^\//, "")) || decodeURIComponent(url.username),
    sslmode,
    sslrootcert: url.searchParams.get("sslrootcert") ?? undefined,
  };
}

/**
 * libpq reads these, so pg_dump and pg_restore get the connection without any of it in argv
 * (where `ps` and /proc/<pid>/cmdline would show the password).
 */
export function libpqEnv(c: Connection): Record<string, string> {
  const env: Record<string, string> = {
    PGHOST: c.host,
    PGPORT: String(c.port),
    PGUSER: c.user,
    PGPASSWORD: c.password,
    PGDATABASE: c.database,
    PGAPPNAME: "scalingo-pg-dump",
    PGCONNECT_TIMEOUT: "15",
  };
  if (c.sslmode) env.PGSSLMODE = c.sslmode;
  if (c.sslrootcert) env.PGSSLROOTCERT = c.sslrootcert;
  // libpq before 13 (channel_binding) and before 16 (require_auth) ignores these variables.
  if (c.channelBinding) env.PGCHANNELBINDING = c.channelBinding;
  if (c.requireAuth) env.PGREQUIREAUTH = c.requireAuth;
  return env;
}

/**
 * The same connection for the `pg` library, verified exactly as libpq verifies it (node-postgres
 * would read `require` as `verify-full`, and trust Node's own CA list): TLS unless sslmode
 * disables it; the chain checked against `sslrootcert` whenever one is set (libpq does so even for
 * require); the host name checked for verify-full only. Without `sslrootcert`, nothing is verified,
 * as libpq's require. The password is added by pgClient, behind the authentication guard.
 */
export function pgClientConfig(c: Connection, connectTimeoutMs: number, allowPlain = false, queryTimeoutMs?: number): ClientConfig {
  const mode = c.sslmode ?? "prefer";
  const ca = c.sslrootcert ? readFileSync(c.sslrootcert, "utf8") : undefined;
  let ssl: ClientConfig["ssl"];
  if (mode === "disable" || (allowPlain && (mode === "allow" || mode === "prefer"))) ssl = false;
  else if (!ca) ssl = { rejectUnauthorized: false };
  else if (mode === "verify-full") ssl = { rejectUnauthorized: true, ca };
  else ssl = { rejectUnauthorized: true, ca, checkServerIdentity: () => undefined };
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    database: c.database,
    ssl,
    // SCRAM-SHA-256-PLUS when the server offers it over TLS, as libpq's channel_binding=prefer.
    enableChannelBinding: c.channelBinding !== "disable",
    connectionTimeoutMillis: connectTimeoutMs,
    // A black-holed session must fail, not hang: TCP keepalive from the first idle minute (each
    // query that can take long is bounded by its caller: the probe's, the dump's time limit).
    keepAlive: true,
    keepAliveInitialDelayMillis: 60_000,
    ...(queryTimeoutMs ? { query_timeout: queryTimeoutMs } : {}),
    application_name: "scalingo-pg-dump",
  };
}

/** A pg.Client for the connection whose password is only sent for an authentication libpq would allow. */
export function pgClient(c: Connection, connectTimeoutMs: number, allowPlain = false, queryTimeoutMs?: number): pg.Client {
  const config = pgClientConfig(c, connectTimeoutMs, allowPlain, queryTimeoutMs);
  const client = new pg.Client(config);
  guardAuthentication(client, { requireAuth: c.requireAuth, channelBinding: c.channelBinding }, c.password, () => config.ssl !== false);
  return client;
}
