import { appendFile, chown, mkdtemp, readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { ActionError } from "../errors.js";
import { type CommandRunner, runCommand } from "../runner/commands.js";
import { exists, removeQuietly } from "../runner/files.js";

/** A PostgreSQL server of the dump's major, private to this step, for the restore check. */
export interface ThrowawayServer {
  /** Its folder: data, Unix socket and log; removed by stop(). */
  folder: string;
  /** libpq settings reaching it: PGHOST (the socket folder), PGPORT, PGUSER. */
  env: Record<string, string>;
  /** The OS user the server runs as (when this step is root), else undefined. */
  osUser?: string;
  binDir: string;
  /** Immediate shutdown, then the folder is removed; safe to call twice and after a failed start. */
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** /usr/lib/postgresql/<major>/bin: initdb, pg_ctl, postgres */
  binDir: string;
  /** RUNNER_TEMP: the folder goes there when the server's user can reach it. */
  tempDir: string;
  /** Its superuser: the dump's role name, so a plain dump's `OWNER TO <role>` restores as it is. */
  superuser: string;
  run?: CommandRunner;
  /** Whether this process is root (postgres refuses to run as root). */
  root?: boolean;
}

// A Unix socket path is at most 107 bytes (sun_path); `.s.PGSQL.5432` is appended to the folder.
const MAX_SOCKET_FOLDER = 107 - "/.s.PGSQL.5432".length;
// The socket is the only way in: no TCP listener, so the port needs no allocation and cannot clash.
const PORT = 5432;

/**
 * The restore check only needs a server to load the dump into: durability is off (the data is
 * thrown away), and no checkpoint interrupts the load. Nothing listens on TCP; the socket lives in
 * the folder, which only this user (or root) can enter, so trust authentication lets nobody else in.
 */
function settings(socketFolder: string): string {
  return `
listen_addresses = ''
unix_socket_directories = '${socketFolder.replaceAll("'", "''")}'
port = ${PORT}
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = '8GB'
checkpoint_timeout = '1h'
autovacuum = off
maintenance_work_mem = '256MB'
jit = off
`;
}

/**
 * initdb and pg_ctl in a fresh folder under RUNNER_TEMP, as the current user. PostgreSQL refuses
 * to run as root (container jobs run steps as root): then the server runs as `postgres` (created by
 * Debian's server package) or else `nobody`, through runuser, and its folder is given to that user.
 */
export async function startThrowawayServer(o: ServerOptions): Promise<ThrowawayServer> {
  const run = o.run ?? runCommand;
  const osUser = o.root ? await unprivilegedUser(run) : undefined;
  const parent = await folderParent(o.tempDir, osUser, run);
  const folder = await mkdtemp(path.join(parent, "scalingo-pg-dump-restore-"));
  const data = path.join(folder, "data");
  const log = path.join(folder, "server.log");
  const as = asServerUser(o.binDir, osUser?.name, run);
  let started = false;
  const stop = async () => {
    if (started) {
      started = false;
      await stopServer(folder, as);
    }
    await removeQuietly(folder);
  };
  try {
    if (osUser) await chown(folder, osUser.uid, osUser.gid);
    const init = await as("initdb", ["-D", data, "-U", o.superuser, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]);
    if (init.code !== 0) throw new ActionError("restore-server", `initdb failed (exit ${init.code}): ${(init.stderr || init.stdout).trim().slice(-1500)}`);
    await appendFile(path.join(data, "postgresql.conf"), settings(folder));
    // Only the socket: no host line at all.
    await writeFile(path.join(data, "pg_hba.conf"), "local all all trust\n");
    started = true;
    const start = await as("pg_ctl", ["-D", data, "-l", log, "-w", "-t", "60", "start"]);
    if (start.code !== 0) {
      const serverLog = await readFile(log, "utf8").catch(() => "");
      throw new ActionError(
        "restore-server",
        `The throwaway PostgreSQL server did not start (exit ${start.code}): ${start.stderr.trim()}\n${serverLog.slice(-1500)}`,
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { folder, binDir: o.binDir, env: { PGHOST: folder, PGPORT: String(PORT), PGUSER: o.superuser }, ...(osUser ? { osUser: osUser.name } : {}), stop };
}

/** Runs a server program as the server's user: through runuser when this step is root (argv as given, no shell). */
function asServerUser(binDir: string, osUser: string | undefined, run: CommandRunner) {
  return (program: string, args: string[]) =>
    osUser
      ? run("runuser", ["-u", osUser, "--", path.join(binDir, program), ...args], { silent: true })
      : run(path.join(binDir, program), args, { silent: true });
}

/** Immediate shutdown: the data is thrown away anyway. SIGQUIT when pg_ctl cannot do it. */
async function stopServer(folder: string, as: ReturnType<typeof asServerUser>): Promise<void> {
  const data = path.join(folder, "data");
  const stopped = await as("pg_ctl", ["-D", data, "-m", "immediate", "-w", "-t", "20", "stop"]);
  if (stopped.code !== 0) await killPostmaster(data);
}

/** What the post step needs to stop a server main left running (main was killed). */
export interface SavedServer {
  folder: string;
  binDir: string;
  osUser?: string;
}

/**
 * The post step's safety net: a main killed outright (SIGKILL, out of memory) leaves the server
 * running with a restored copy of production in its folder. Only a folder this action created
 * (its name, its data directory) is touched.
 */
export async function removeLeftoverServer(saved: SavedServer, run: CommandRunner = runCommand): Promise<boolean> {
  if (!path.basename(saved.folder).startsWith("scalingo-pg-dump-restore-") || !(await exists(path.join(saved.folder, "data", "PG_VERSION")))) return false;
  if (await exists(path.join(saved.folder, "data", "postmaster.pid"))) await stopServer(saved.folder, asServerUser(saved.binDir, saved.osUser, run));
  await removeQuietly(saved.folder);
  return true;
}

interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

/** `postgres` (Debian's server package creates it), else `nobody`: never root. */
async function unprivilegedUser(run: CommandRunner): Promise<OsUser> {
  for (const name of ["postgres", "nobody"]) {
    const [uid, gid] = await Promise.all([run("id", ["-u", name], { silent: true }), run("id", ["-g", name], { silent: true })]);
    if (uid.code === 0 && gid.code === 0 && Number(uid.stdout) > 0) return { name, uid: Number(uid.stdout), gid: Number(gid.stdout) };
  }
  throw new ActionError(
    "restore-server",
    "This step runs as root and PostgreSQL refuses to run as root, but neither a `postgres` nor a `nobody` user exists to run the restore check's server. Create one, run the job as another user, or use `verify: list`.",
  );
}

/**
 * RUNNER_TEMP, unless the server's user cannot reach it (a root-owned private folder above it) or
 * the socket path would be too long: then /tmp, which every user can traverse.
 */
async function folderParent(tempDir: string, osUser: OsUser | undefined, run: CommandRunner): Promise<string> {
  const fits = path.resolve(tempDir).length + "/scalingo-pg-dump-restore-XXXXXX".length <= MAX_SOCKET_FOLDER;
  if (!fits) return "/tmp";
  if (!osUser) return tempDir;
  const reachable = await run("runuser", ["-u", osUser.name, "--", "test", "-x", tempDir], { silent: true });
  return reachable.code === 0 ? tempDir : "/tmp";
}

/** When pg_ctl cannot stop it: SIGQUIT is PostgreSQL's immediate shutdown. */
async function killPostmaster(data: string): Promise<void> {
  const pid = Number((await readFile(path.join(data, "postmaster.pid"), "utf8").catch(() => "")).split("\n")[0]);
  if (pid > 0) {
    try {
      process.kill(pid, "SIGQUIT");
    } catch {}
  }
}
