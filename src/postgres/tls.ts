import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import type { SslModeInput } from "../config.js";
import { ActionError, InputError } from "../errors.js";
import type { Connection } from "./connection.js";

// How the connection to PostgreSQL is secured: one decision, used by the action's own `pg`
// connections (probe, snapshot) and handed to pg_dump through PG* variables, so both verify the
// same server the same way.

type Env = Record<string, string | undefined>;

export const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof SSL_MODES)[number];
const CHANNEL_BINDINGS = ["disable", "prefer", "require"] as const;

/** Where the trusted CA comes from: a file, PEM text, or the OS roots. */
export type RootCert = { kind: "file"; path: string } | { kind: "pem"; pem: string } | { kind: "system" };

export interface TlsDecision {
  sslmode: SslMode;
  rootCert?: RootCert;
  /** libpq's channel_binding (PG13+): `require` refuses any authentication without it. */
  channelBinding: (typeof CHANNEL_BINDINGS)[number];
  /** libpq's require_auth (PG16+), e.g. `!password`; absent: any method. */
  requireAuth?: string;
}

const rank = (mode: string | undefined) => SSL_MODES.indexOf((mode ?? "prefer") as SslMode);
const stronger = <T extends string>(order: readonly T[], a: T, b: string | undefined): T =>
  b !== undefined && order.indexOf(b as T) > order.indexOf(a) ? (b as T) : a;

export function rootCertOf(value: string): RootCert {
  if (value === "system") return { kind: "system" };
  if (value.includes("-----BEGIN")) return { kind: "pem", pem: value };
  return { kind: "file", path: value };
}

/**
 * The URI's settings, the inputs and the runner's PG* variables combined, never weaker than any of
 * them: the strongest sslmode wins; the `ssl-root-cert` input, else PGSSLROOTCERT, else the URI's
 * sslrootcert, else libpq's own default file; `system` implies verify-full (any public CA can sign
 * a certificate for another name, which is also why libpq 16 insists on it). Over a channel whose
 * server is not verified, a cleartext password is refused (require_auth `!password`) unless the
 * runner's PGREQUIREAUTH says otherwise.
 */
export function decideTls(uri: { sslmode?: string; sslrootcert?: string }, input: { sslMode?: SslModeInput; sslRootCert?: string }, env: Env): TlsDecision {
  if (input.sslMode && rank(input.sslMode) < rank(uri.sslmode)) {
    throw new InputError([
      `\`ssl-mode\`: "${input.sslMode}" is weaker than the database URI's sslmode "${uri.sslmode}"; the action never weakens it. Use "${uri.sslmode}" or stronger, or leave it empty.`,
    ]);
  }
  let sslmode = stronger(SSL_MODES, (uri.sslmode ?? "prefer") as SslMode, input.sslMode);
  sslmode = stronger(SSL_MODES, sslmode, env.PGSSLMODE);
  const source = input.sslRootCert ?? env.PGSSLROOTCERT ?? uri.sslrootcert ?? libpqDefaultRootCert(env);
  const rootCert = source ? rootCertOf(source) : undefined;
  if (rootCert?.kind === "system") sslmode = stronger(SSL_MODES, sslmode, "verify-full");
  if (sslmode.startsWith("verify-") && !rootCert) {
    throw new InputError([
      `\`ssl-mode\`: ${sslmode} verifies the server against a CA, but none is given: set \`ssl-root-cert\` to the CA's PEM text, a file, or \`system\` (the runner's trusted roots).`,
    ]);
  }
  const channelBinding = stronger(CHANNEL_BINDINGS, "prefer", env.PGCHANNELBINDING);
  // allow and prefer may fall back to a plain connection: only require and above are sure to verify.
  const verified = Boolean(rootCert) && rank(sslmode) >= rank("require");
  const requireAuth = env.PGREQUIREAUTH || (verified ? undefined : "!password");
  return { sslmode, ...(rootCert ? { rootCert } : {}), channelBinding, ...(requireAuth ? { requireAuth } : {}) };
}

/** libpq reads ~/.postgresql/root.crt when no root certificate is named, and then verifies with it. */
function libpqDefaultRootCert(env: Env): string | undefined {
  const file = path.join(env.HOME || homedir(), ".postgresql", "root.crt");
  return existsSync(file) ? file : undefined;
}

/**
 * The decision applied to the connection: PEM text and the OS roots are written to `root.crt` in a
 * private temporary folder (0700, the file 0600), which the caller removes when the run ends; a
 * file is used where it is. libpq before 16 takes `sslrootcert=system` for a file named "system",
 * so the OS roots are always passed as a file: every pg_dump version, and the probe, trust the
 * same list.
 */
export async function applyTls(c: Connection, d: TlsDecision, tempBase: string | undefined, onFolder: (dir: string) => void): Promise<Connection> {
  let sslrootcert: string | undefined;
  if (d.rootCert?.kind === "file") {
    sslrootcert = d.rootCert.path;
    await readFile(sslrootcert).catch((error: NodeJS.ErrnoException) => {
      throw new InputError([`\`ssl-root-cert\`: cannot read ${sslrootcert} (${error.code ?? error.message}).`]);
    });
  } else if (d.rootCert) {
    const dir = await mkdtemp(path.join(tempBase || tmpdir(), "scalingo-pg-dump-tls-"));
    onFolder(dir);
    sslrootcert = path.join(dir, "root.crt");
    const pem = d.rootCert.kind === "pem" ? d.rootCert.pem : systemRoots();
    await writeFile(sslrootcert, pem.endsWith("\n") ? pem : `${pem}\n`, { flag: "wx", mode: 0o600 });
  }
  const { sslrootcert: _uriRootCert, ...rest } = c;
  return {
    ...rest,
    sslmode: d.sslmode,
    ...(sslrootcert ? { sslrootcert } : {}),
    channelBinding: d.channelBinding,
    ...(d.requireAuth ? { requireAuth: d.requireAuth } : {}),
  };
}

/** Node 24 reads the OS store (OpenSSL's default file and folder); older Node has only its own list. */
function systemRoots(): string {
  const get = (tls as { getCACertificates?: (type: "system") => string[] }).getCACertificates;
  const roots = get ? get("system") : [...tls.rootCertificates];
  if (!roots.length) throw new ActionError("inputs", "`ssl-root-cert`: system: the runner has no trusted root certificates.");
  return roots.join("\n");
}
