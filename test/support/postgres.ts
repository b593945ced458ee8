// A throwaway PostgreSQL server per test file: real pg_hba gating (the emulated firewall), real
// TLS, real pg_dump/pg_restore binaries. Only async child processes: the in-process emulators
// must keep answering while the server starts or reloads.
import { rmSync } from "node:fs";
import { access, chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, run, SERVER_OS_USER, tempBase } from "./postgres-exec.js";
import { createTestCa, type TestCa } from "./test-ca.js";

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
  /** Firewall gate: adds `host all all <cidr> scram-sha-256` to pg_hba.conf; resolves once the server applies it. */
  allowCidr(cidr: string): Promise<void>;
  /** Removes that line again; established sessions stay open, as behind a real firewall. */
  denyCidr(cidr: string): Promise<void>;
  /** Fast shutdown, removes the temporary directories; safe to call twice. */
  stop(): Promise<void>;
}

const PG_ROOT = "/usr/lib/postgresql";
const SUPERUSER = "postgres";

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Newest installed major, so the tests follow whatever .ci/install-postgres brought. */
export async function findPgBinDir(): Promise<string> {
  const majors = (await readdir(PG_ROOT).catch(() => [] as string[]))
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .sort((a, b) => b - a);
  for (const major of majors) {
    const bin = `${PG_ROOT}/${major}/bin`;
    const installed = await access(`${bin}/postgres`)
      .then(() => true)
      .catch(() => false);
    if (installed) return bin;
  }
  throw new Error(`no PostgreSQL server in ${PG_ROOT}/*/bin: run .ci/install-postgres`);
}

// One process-wide exit hook: a test file that dies without stop() must not leave servers behind.
const cleanups = new Set<() => void>();
process.once("exit", () => {
  for (const cleanup of cleanups) cleanup();
});

const CONF = `
listen_addresses = '127.0.0.1'
max_connections = 50
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
password_encryption = 'scram-sha-256'
log_connections = on
`;

export async function startPostgres(options: { ssl?: boolean; ca?: TestCa } = {}): Promise<PgServer> {
  const ssl = options.ssl ?? true;
  let ownCa: TestCa | undefined;
  let serverCa: TestCa | undefined;
  const asRoot = process.getuid?.() === 0;
  const binDir = await findPgBinDir();
  const root = await mkdtemp(path.join(await tempBase(asRoot), "pgtest-"));
  const dataDir = path.join(root, "data");
  const socketDir = path.join(root, "sock");
  const hbaPath = path.join(dataDir, "pg_hba.conf");
  const logPath = path.join(root, "server.log");
  const tool = (name: string, args: string[]) => run(`${binDir}/${name}`, args, { cwd: root, asServerUser: asRoot });
  let port = 0;
  let postmasterPid = 0;
  // Runs in an exit handler, hence synchronous: SIGQUIT is PostgreSQL's immediate shutdown, and the
  // postmaster deletes its own files on the way out, so let it finish before removing the tree.
  const cleanup = () => {
    // pid 0 would signal our whole process group: only once the postmaster's pid is known.
    try {
      if (postmasterPid > 0) process.kill(postmasterPid, "SIGQUIT");
      for (const deadline = Date.now() + 2_000; postmasterPid > 0 && Date.now() < deadline; ) process.kill(postmasterPid, 0);
    } catch {}
    rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    if (ownCa) rmSync(ownCa.dir, { recursive: true, force: true });
  };
  cleanups.add(cleanup);

  try {
    await mkdir(socketDir, { mode: 0o700 });
    if (asRoot) await run("chown", ["-R", `${SERVER_OS_USER}:`, root]);
    // A certificate from a test CA, so clients can verify the server as they would a real one.
    const certificate = async () => {
      if (!ssl) return undefined;
      if (!options.ca) ownCa = await createTestCa();
      const ca = options.ca ?? (ownCa as TestCa);
      return { ca, leaf: await ca.issue(["localhost", "127.0.0.1"]) };
    };
    const [, tls] = await Promise.all([
      tool("initdb", ["-D", dataDir, "-U", SUPERUSER, "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"]),
      certificate(),
    ]);
    let conf = `${CONF}unix_socket_directories = '${socketDir}'\n`;
    if (tls) {
      serverCa = tls.ca;
      // postgres refuses a group/world-readable key, and must own it.
      await copyFile(tls.leaf.certPath, path.join(dataDir, "server.crt"));
      await copyFile(tls.leaf.keyPath, path.join(dataDir, "server.key"));
      await chmod(path.join(dataDir, "server.key"), 0o600);
      if (asRoot) await run("chown", [`${SERVER_OS_USER}:`, path.join(dataDir, "server.crt"), path.join(dataDir, "server.key")]);
      conf += "ssl = on\n";
    }
    await writeFile(path.join(dataDir, "postgresql.conf"), conf, { flag: "a" });
    // No host line at all: TCP from 127.0.0.1 gets "no pg_hba.conf entry" until allowCidr.
    await writeFile(hbaPath, "local all all trust\n");

    // The free port can be taken by another worker before the server binds it: retry on that only.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await tool("pg_ctl", ["-D", dataDir, "-l", logPath, "-w", "-t", "60", "-o", `-p ${port}`, "start"]);
        break;
      } catch (error) {
        const log = await readFile(logPath, "utf8").catch(() => "");
        if (attempt < 5 && /could not bind|already in use/i.test(log)) continue;
        throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${log.slice(-2000)}`);
      }
    }
    postmasterPid = Number((await readFile(path.join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
  } catch (error) {
    cleanups.delete(cleanup);
    cleanup();
    throw error;
  }

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
  const editHba = (cidr: string, edit: (lines: string[], line: string) => string[]) => {
    // PostgreSQL ignores a whole pg_hba.conf with one bad line (keeping the old one): refuse it here.
    const [address, bits, ...rest] = cidr.split("/");
    const family = isIP(address);
    if (!family || rest.length > 0 || !/^\d+$/.test(bits ?? "") || Number(bits) > (family === 4 ? 32 : 128)) {
      return Promise.reject(new Error(`not a CIDR: ${cidr}`));
    }
    const line = `host all all ${cidr} scram-sha-256`;
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
    port,
    version,
    major: Math.floor(Number(versionNum) / 10_000),
    binDir,
    dataDir,
    socketDir,
    hbaPath,
    ca: serverCa,
    logPath,
    psql,
    async createRole(name, password) {
      await psql(`CREATE ROLE ${quoteIdent(name)} LOGIN PASSWORD ${quoteLiteral(password)}`);
    },
    async createDatabase(name, owner) {
      await psql(`CREATE DATABASE ${quoteIdent(name)}${owner ? ` OWNER ${quoteIdent(owner)}` : ""}`);
    },
    allowCidr: (cidr) => editHba(cidr, (lines, line) => (lines.includes(line) ? lines : [...lines, line])),
    denyCidr: (cidr) => editHba(cidr, (lines, line) => lines.filter((l) => l !== line)),
    stop() {
      stopping ??= (async () => {
        cleanups.delete(cleanup);
        await hbaQueue;
        await tool("pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "-t", "60", "stop"]).catch(() => {});
        await rm(root, { recursive: true, force: true });
        await ownCa?.remove();
      })();
      return stopping;
    },
  };
}
