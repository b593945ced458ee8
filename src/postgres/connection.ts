import { readFileSync } from "node:fs";
import type { ClientConfig } from "pg";
import { ActionError } from "../errors.js";

/** The parts of SCALINGO_POSTGRESQL_URL, decoded. */
export interface Connection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** libpq's sslmode; absent means libpq's default, prefer. */
  sslmode?: string;
  sslrootcert?: string;
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
  return env;
}

/**
 * The same connection for the `pg` library, with libpq's sslmode semantics (node-postgres treats
 * `require` as `verify-full`, which would refuse a server pg_dump itself accepts). Never weaker
 * than the URI asks: require encrypts, verify-* also check the certificate.
 */
export function pgClientConfig(c: Connection, connectTimeoutMs: number, allowPlain = false): ClientConfig {
  const mode = c.sslmode ?? "prefer";
  const ca = c.sslrootcert ? readFileSync(c.sslrootcert, "utf8") : undefined;
  let ssl: ClientConfig["ssl"];
  if (mode === "disable" || (allowPlain && (mode === "allow" || mode === "prefer"))) ssl = false;
  else if (mode === "verify-full") ssl = { rejectUnauthorized: true, ca };
  else if (mode === "verify-ca") ssl = { rejectUnauthorized: true, ca, checkServerIdentity: () => undefined };
  else ssl = { rejectUnauthorized: false };
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    database: c.database,
    ssl,
    connectionTimeoutMillis: connectTimeoutMs,
    application_name: "scalingo-pg-dump",
  };
}
