import { chmod, chown, mkdir, mkdtemp, readFile } from "node:fs/promises";
import * as path from "node:path";
import { ActionError } from "../errors.js";
import { type CommandRunner, runCommand } from "../runner/commands.js";
import { exists, removeQuietly } from "../runner/files.js";
import { quitPostmaster } from "./postmaster.js";
import { type OsIdentity, runAs, serverIdentity } from "./server-identity.js";

/** A PostgreSQL server of the dump's major, private to this step, for the restore check. */
export interface ThrowawayServer {
  /** Its folder (data directory, socket folder and log); removed by stop(). */
  folder: string;
  /** The Unix socket's folder (libpq's host) and port: the only way in. */
  socketDir: string;
  port: number;
  /** The restore role's name: the production role's (restore.ts creates it, without SUPERUSER). */
  role: string;
  /** The bootstrap superuser: creates the role, the database and untrusted extensions; counts rows. */
  superuser: string;
  /** The server's log: its error lines carry the SQLSTATE (log_line_prefix). */
  logFile: string;
  /** The OS user the server runs as when this step is root, else undefined (this step's own user). */
  osUser?: OsIdentity;
  binDir: string;
  /** Immediate shutdown, then the folder is removed; safe to call twice and after a failed start. */
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** /usr/lib/postgresql/<major>/bin: initdb, pg_ctl, postgres */
  binDir: string;
  /** RUNNER_TEMP: the folder goes there when the server's user can reach it. */
  tempDir: string;
  /** The production role's name: the bootstrap superuser must not take it (the restore role does). */
  role: string;
  run?: CommandRunner;
  /** Whether this process is root (postgres refuses to run as root). */
  root?: boolean;
  /** Root only: SCALINGO_PG_DUMP_SERVER_USER, an existing user to run the server as. */
  serverUser?: string;
  /** Told where the server lives as soon as its folder exists, before initdb and `pg_ctl start`: saved for the post step. */
  onFolder?: (saved: SavedServer) => void;
}

// A Unix socket path is at most 107 bytes (sun_path); `/run/.s.PGSQL.5432` is appended to the folder.
const MAX_FOLDER = 107 - "/run/.s.PGSQL.5432".length;
// The socket is the only way in: no TCP listener, so the port needs no allocation and cannot clash.
const PORT = 5432;
const SUPERUSER = "scalingo_pg_dump_superuser";
const FOLDER_PREFIX = "scalingo-pg-dump-restore-";

/** Never the production role's name: that name is the restore role's. */
export const superuserName = (role: string) => (role === SUPERUSER ? `${SUPERUSER}_2` : SUPERUSER);

/**
 * The restore check only needs a server to load the dump into: durability is off (the data is
 * thrown away), and no checkpoint interrupts the load. Nothing listens on TCP; the socket lives in
 * a folder only the server's user can enter. Given on the command line (pg_ctl -o), not written
 * into the data directory: a root step never writes into files the server's user controls.
 * Each error line of the log starts with its SQLSTATE, which pg_restore does not print.
 */
function settings(socketDir: string): string[][] {
  return [
    ["listen_addresses", ""],
    ["unix_socket_directories", socketDir],
    ["port", String(PORT)],
    ["fsync", "off"],
    ["synchronous_commit", "off"],
    ["full_page_writes", "off"],
    ["wal_level", "minimal"],
    ["max_wal_senders", "0"],
    ["max_wal_size", "8GB"],
    ["checkpoint_timeout", "1h"],
    ["autovacuum", "off"],
    ["maintenance_work_mem", "256MB"],
    ["jit", "off"],
    ["lc_messages", "C"],
    ["log_line_prefix", "sqlstate=%e "],
    ["log_min_error_statement", "panic"],
  ];
}

/** pg_ctl passes -o to /bin/sh: each `-c name=value` is one single-quoted word. */
export function postgresOptions(socketDir: string): string {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  return settings(socketDir)
    .map(([name, value]) => `-c ${quote(`${name}=${value}`)}`)
    .join(" ");
}

/**
 * initdb and pg_ctl in a fresh folder under RUNNER_TEMP, as the current user; when this step is
 * root, as a user of its own (server-identity.ts), through setpriv. The folder and its two
 * subfolders are created here; then only the server's user writes below them.
 */
export async function startThrowawayServer(o: ServerOptions): Promise<ThrowawayServer> {
  const run = o.run ?? runCommand;
  const osUser = o.root ? await serverIdentity(o.serverUser, run) : undefined;
  const as = runAs(osUser, run);
  const folder = await mkdtemp(path.join(await folderParent(o.tempDir, as), FOLDER_PREFIX));
  o.onFolder?.({ folder, binDir: o.binDir, ...(osUser ? { osUser } : {}) });
  const [data, socketDir] = [path.join(folder, "data"), path.join(folder, "run")];
  const logFile = path.join(socketDir, "server.log");
  const superuser = superuserName(o.role);
  let started = false;
  const stop = async () => {
    if (started) {
      started = false;
      await stopServer(o.binDir, folder, as, osUser);
    }
    await removeFolder(folder, as, osUser);
  };
  try {
    await makeFolders(folder, [data, socketDir], osUser);
    const init = await as(path.join(o.binDir, "initdb"), [
      "-D",
      data,
      "-U",
      superuser,
      "--auth-local=trust",
      "--auth-host=reject",
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync",
    ]);
    if (init.code !== 0) throw new ActionError("restore-server", `initdb failed (exit ${init.code}): ${(init.stderr || init.stdout).trim().slice(-1500)}`);
    started = true;
    const start = await as(path.join(o.binDir, "pg_ctl"), ["-D", data, "-l", logFile, "-o", postgresOptions(socketDir), "-w", "-t", "60", "start"]);
    if (start.code !== 0) {
      const serverLog = await readFile(logFile, "utf8").catch(() => "");
      throw new ActionError(
        "restore-server",
        `The throwaway PostgreSQL server did not start (exit ${start.code}): ${start.stderr.trim()}\n${serverLog.slice(-1500)}`,
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { folder, socketDir, port: PORT, role: o.role, superuser, logFile, binDir: o.binDir, ...(osUser ? { osUser } : {}), stop };
}

/**
 * The folder stays this step's (0700, or 0711 for root so the server's user can pass through);
 * `data` and `run` are created empty and handed to the server's user before it runs anything.
 */
async function makeFolders(folder: string, inside: string[], osUser: OsIdentity | undefined): Promise<void> {
  if (osUser) await chmod(folder, 0o711);
  for (const dir of inside) {
    await mkdir(dir, { mode: 0o700 });
    if (osUser) await chown(dir, osUser.uid, osUser.gid);
  }
}

/** Immediate shutdown: the data is thrown away anyway. SIGQUIT to a verified postmaster when pg_ctl cannot do it. */
async function stopServer(binDir: string, folder: string, as: ReturnType<typeof runAs>, osUser: OsIdentity | undefined): Promise<void> {
  const data = path.join(folder, "data");
  const stopped = await as(path.join(binDir, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "-t", "20", "stop"]);
  if (stopped.code !== 0) await quitPostmaster(data, osUser?.uid ?? process.getuid?.() ?? -1);
}

/**
 * What the server's user wrote is removed as that user (a root `rm -r` racing that user's
 * symlinks could be led anywhere); then this step removes its own, now empty, folder.
 */
async function removeFolder(folder: string, as: ReturnType<typeof runAs>, osUser: OsIdentity | undefined): Promise<void> {
  if (osUser) await as("rm", ["-rf", "--", path.join(folder, "data"), path.join(folder, "run")]);
  await removeQuietly(folder);
}

/** What the post step needs to stop a server main left running (main was killed). */
export interface SavedServer {
  folder: string;
  binDir: string;
  osUser?: OsIdentity;
}

/**
 * The post step's safety net: a main killed outright (SIGKILL, out of memory) leaves the server
 * running with a restored copy of production in its folder. Only a folder this action created
 * (its name, its data directory) is touched.
 */
export async function removeLeftoverServer(saved: SavedServer, run: CommandRunner = runCommand): Promise<boolean> {
  if (!path.basename(saved.folder).startsWith(FOLDER_PREFIX) || !(await exists(path.join(saved.folder, "data", "PG_VERSION")))) return false;
  const osUser = typeof saved.osUser === "object" ? saved.osUser : undefined;
  const as = runAs(osUser, run);
  if (await exists(path.join(saved.folder, "data", "postmaster.pid"))) await stopServer(saved.binDir, saved.folder, as, osUser);
  await removeFolder(saved.folder, as, osUser);
  return true;
}

/**
 * RUNNER_TEMP, unless the server's user cannot reach it (a root-owned private folder above it) or
 * the socket path would be too long: then /tmp, which every user can traverse.
 */
async function folderParent(tempDir: string, as: ReturnType<typeof runAs>): Promise<string> {
  const fits = path.resolve(tempDir).length + `/${FOLDER_PREFIX}XXXXXX`.length <= MAX_FOLDER;
  if (!fits) return "/tmp";
  const reachable = await as("test", ["-x", tempDir]);
  return reachable.code === 0 ? tempDir : "/tmp";
}
