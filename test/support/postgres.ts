// A throwaway PostgreSQL server per test file: real pg_hba gating (the emulated firewall), real
// TLS, real pg_dump/pg_restore binaries. Only async child processes: the in-process emulators
// must keep answering while the server starts or reloads. (A mutation run shares one server
// between its files instead: postgres-shared.ts.)
import { rmSync } from "node:fs";
import { access, chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { freePort, run, SERVER_OS_USER, tempBase } from "./postgres-exec.js";
import { CLOSED_HBA, type PgServer, pgHandle, SUPERUSER } from "./postgres-handle.js";
import { attachShared } from "./postgres-shared.js";
import { createTestCa, type TestCa } from "./test-ca.js";

export { quoteIdent, quoteLiteral } from "./postgres-exec.js";
export type { PgServer } from "./postgres-handle.js";

const PG_ROOT = "/usr/lib/postgresql";

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

export interface StartOptions {
  /** default true: TLS on, with a certificate of `ca` (or of a CA of its own) */
  ssl?: boolean;
  ca?: TestCa;
}

/**
 * A server of the test's own; under vitest.mutation.config.ts, the run's shared server instead
 * when it is free (postgres-shared.ts): the same handle, given back clean by stop().
 */
export async function startPostgres(options: StartOptions = {}): Promise<PgServer> {
  return (await attachShared(options)) ?? launchPostgres(options);
}

export async function launchPostgres(options: StartOptions = {}): Promise<PgServer> {
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
    await writeFile(hbaPath, CLOSED_HBA);

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

  return pgHandle({ port, binDir, dataDir, socketDir, hbaPath, logPath, ca: serverCa }, async ({ edited }) => {
    cleanups.delete(cleanup);
    await edited();
    await tool("pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "-t", "60", "stop"]).catch(() => {});
    await rm(root, { recursive: true, force: true });
    await ownCa?.remove();
  });
}
