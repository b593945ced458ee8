import { ActionError } from "../errors.js";
import type { CommandOptions, CommandResult, CommandRunner } from "../runner/commands.js";

/** The OS user a root step runs the throwaway server as: PostgreSQL refuses to run as root. */
export interface OsIdentity {
  name: string;
  uid: number;
  gid: number;
}

/** Created for the purpose, on a root step only, when it does not exist yet (docs/decisions.md). */
export const DEDICATED_USER = "scalingo-pg-dump";
/** Names an existing user instead: for admins who create users themselves (and for the tests, which must not create any). */
export const SERVER_USER_ENV = "SCALINGO_PG_DUMP_SERVER_USER";
/**
 * Never these: root (PostgreSQL refuses it, and it would own the runner), `nobody` (shared by
 * unrelated daemons, whose files the server could then reach), `postgres` (on a self-hosted runner
 * it may own a real cluster, which a restored database's code could then read or stop).
 */
const REFUSED = new Set(["root", "nobody", "postgres"]);
const NOBODY_UID = 65534;

/**
 * Who runs the server when this step is root: the user named by SCALINGO_PG_DUMP_SERVER_USER, or
 * else `scalingo-pg-dump`, created (a system user without home or shell) the first time.
 */
export async function serverIdentity(requested: string | undefined, run: CommandRunner): Promise<OsIdentity> {
  const name = requested?.trim() || DEDICATED_USER;
  if (REFUSED.has(name)) {
    throw new ActionError(
      "restore-server",
      `${SERVER_USER_ENV} is "${name}": the restore check's server never runs as root, nobody or postgres. Name a user of its own.`,
    );
  }
  let found = await lookUp(name, run);
  if (!found && !requested) {
    await createDedicatedUser(run);
    found = await lookUp(name, run);
  }
  if (!found) {
    throw new ActionError(
      "restore-server",
      requested
        ? `${SERVER_USER_ENV} names "${name}", but no such user exists on the runner.`
        : `This step runs as root and PostgreSQL refuses to run as root, but the user \`${DEDICATED_USER}\` could not be created (useradd or adduser). Create it, set ${SERVER_USER_ENV} to a user of its own, run the job as another user, or use \`verify: list\`.`,
    );
  }
  if (found.uid === 0 || found.uid === NOBODY_UID) {
    throw new ActionError("restore-server", `The user "${name}" has uid ${found.uid}: the restore check's server needs an unprivileged user of its own.`);
  }
  return found;
}

async function lookUp(name: string, run: CommandRunner): Promise<OsIdentity | undefined> {
  const [uid, gid] = await Promise.all([run("id", ["-u", name], { silent: true }), run("id", ["-g", name], { silent: true })]);
  if (uid.code !== 0 || gid.code !== 0) return undefined;
  return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** shadow's useradd (Debian, Ubuntu), else BusyBox's adduser (Alpine containers). */
async function createDedicatedUser(run: CommandRunner): Promise<void> {
  const created = await run(
    "useradd",
    ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", DEDICATED_USER],
    { silent: true },
  );
  if (created.code === 127) await run("adduser", ["-S", "-D", "-H", "-h", "/nonexistent", "-s", "/sbin/nologin", DEDICATED_USER], { silent: true });
}

/**
 * Runs a program as `identity` (when this step is root), argv as given and no shell: setpriv
 * drops every group and forbids gaining privileges again (no setuid program can give them back).
 */
export function runAs(identity: OsIdentity | undefined, run: CommandRunner) {
  return (file: string, args: string[], options: CommandOptions = {}): Promise<CommandResult> =>
    identity
      ? run("setpriv", [`--reuid=${identity.uid}`, `--regid=${identity.gid}`, "--clear-groups", "--no-new-privs", "--", file, ...args], {
          silent: true,
          ...options,
        })
      : run(file, args, { silent: true, ...options });
}
