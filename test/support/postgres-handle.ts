// What a test holds of a running test PostgreSQL (PgServer): SQL as the superuser over its socket,
// the pg_hba gate, and stop. The same handle serves a server started for one test file
// (postgres.ts) and the one a mutation run shares between files (postgres-shared.ts): only what
// stop() does differs.
import { readFile, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { quoteIdent, quoteLiteral, run } from "./postgres-exec.js";
import type { TestCa } from "./test-ca.js";

export interface PgServer {
  host: "127.0.0.1";
  port: number;
  /** e.g. "15.18", from SHOW server_version without the distribution suffix */
  version: string;
  major: number;
  /** /usr/lib/postgresql/<major>/bin: pg_dump, pg_restore and psql of the same major */
  binDir: string;
  dataDir: string;
  socketDir: string;
  hbaPath: string;
  /**
   * With TLS: the CA that signed the server's certificate (for `localhost` and `127.0.0.1`), so a
   * client can verify it (`sslmode=verify-full sslrootcert=<caCertPath>`). Removed by stop() unless
   * the caller passed its own.
   */
  ca?: TestCa;
  /** Server log (connections and authentication attempts are logged). */
  logPath: string;
  /** Runs SQL as the superuser over the unix socket (psql -X -At -v ON_ERROR_STOP=1), returns trimmed stdout. */
  psql(sql: string, database?: string): Promise<string>;
  /** LOGIN role with a SCRAM password */
  createRole(name: string, password: string): Promise<void>;
  createDatabase(name: string, owner?: string): Promise<void>;
  /**
   * Firewall gate: adds `host all <role> <cidr> scram-sha-256` to pg_hba.conf (role `all` unless
   * given); resolves once the server applies it.
   */
  allowCidr(cidr: string, role?: string): Promise<void>;
  /** Removes that line again; established sessions stay open, as behind a real firewall. */
  denyCidr(cidr: string, role?: string): Promise<void>;
  /** Fast shutdown, removes the temporary directories; safe to call twice. */
  stop(): Promise<void>;
}

/** Where a running server is, and how to reach it. */
export type ServerPlace = Pick<PgServer, "port" | "binDir" | "dataDir" | "socketDir" | "hbaPath" | "logPath" | "ca">;

export const SUPERUSER = "postgres";
/** pg_hba.conf with no host line at all: TCP from 127.0.0.1 gets "no pg_hba.conf entry" until allowCidr. */
export const CLOSED_HBA = "local all all trust\n";

/** What stop() may use: SQL, a configuration reload that has taken effect, the pg_hba edits in flight. */
export interface HandleTools {
  psql: PgServer["psql"];
  reload(): Promise<void>;
  /** Resolves once every allowCidr/denyCidr asked for so far is applied (or failed). */
  edited(): Promise<void>;
}

export async function pgHandle(place: ServerPlace, stop: (tools: HandleTools) => Promise<void>): Promise<PgServer> {
  const { binDir, socketDir, port, hbaPath } = place;
  // SQL on stdin (-f -), not -c: several statements run one by one, and ON_ERROR_STOP applies.
  const psql = async (sql: string, database = "postgres") => {
    const args = ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", socketDir, "-p", String(port), "-U", SUPERUSER, "-d", database, "-f", "-"];
    return (await run(`${binDir}/psql`, args, { input: sql })).trim();
  };

  // pg_reload_conf() only signals the postmaster. A session started after the postmaster has
  // re-read its files reports a newer pg_conf_load_time() (inherited at fork), so poll that.
  const loadTime = () => psql("SELECT pg_conf_load_time()");
  const reload = async () => {
    const before = await loadTime();
    await psql("SELECT pg_reload_conf()");
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(5)) {
      if ((await loadTime()) !== before) return;
    }
    throw new Error("PostgreSQL did not reload its configuration within 10 s");
  };
  // Serialized: concurrent read-modify-write of pg_hba.conf would lose lines.
  let hbaQueue: Promise<unknown> = Promise.resolve();
  const editHba = (cidr: string, role: string, edit: (lines: string[], line: string) => string[]) => {
    // PostgreSQL ignores a whole pg_hba.conf with one bad line (keeping the old one): refuse it here.
    const [address, bits, ...rest] = cidr.split("/");
    const family = isIP(address);
    if (!family || rest.length > 0 || !/^\d+$/.test(bits ?? "") || Number(bits) > (family === 4 ? 32 : 128)) {
      return Promise.reject(new Error(`not a CIDR: ${cidr}`));
    }
    if (!/^[a-z_][a-z0-9_]*$/.test(role)) return Promise.reject(new Error(`not a plain role name: ${role}`));
    const line = `host all ${role} ${cidr} scram-sha-256`;
    const next = hbaQueue.then(async () => {
      const lines = (await readFile(hbaPath, "utf8")).split("\n").filter(Boolean);
      const edited = edit(lines, line);
      if (edited.length === lines.length && edited.every((l, i) => l === lines[i])) return;
      await writeFile(hbaPath, `${edited.join("\n")}\n`);
      await reload();
    });
    hbaQueue = next.catch(() => {});
    return next;
  };

  const [version, versionNum] = (
    await psql("SELECT split_part(current_setting('server_version'), ' ', 1) || '|' || current_setting('server_version_num')")
  ).split("|");
  let stopping: Promise<void> | undefined;

  return {
    host: "127.0.0.1",
    ...place,
    version,
    major: Math.floor(Number(versionNum) / 10_000),
    psql,
    async createRole(name, password) {
      await psql(`CREATE ROLE ${quoteIdent(name)} LOGIN PASSWORD ${quoteLiteral(password)}`);
    },
    async createDatabase(name, owner) {
      await psql(`CREATE DATABASE ${quoteIdent(name)}${owner ? ` OWNER ${quoteIdent(owner)}` : ""}`);
    },
    allowCidr: (cidr, role = "all") => editHba(cidr, role, (lines, line) => (lines.includes(line) ? lines : [...lines, line])),
    denyCidr: (cidr, role = "all") => editHba(cidr, role, (lines, line) => lines.filter((l) => l !== line)),
    stop() {
      stopping ??= stop({ psql, reload, edited: () => hbaQueue.then(() => undefined) });
      return stopping;
    },
  };
}
