import { access } from "node:fs/promises";
import * as path from "node:path";
import { ActionError } from "../errors.js";
import { debianBinDir } from "../postgres/pg-client.js";
import type { CommandRunner } from "../runner/commands.js";
import { exists } from "../runner/files.js";

/** What the restore check runs: initdb and pg_ctl start `postgres`; pg_restore and psql come with pg_dump. */
const SERVER_PROGRAMS = ["initdb", "pg_ctl", "postgres"];

/** Debian's package for the server of a major (it depends on the client of the same major). */
export const serverPackage = (major: number) => `postgresql-${major}`;

/**
 * The folder holding the server programs of `major`: Debian's layout first, then pg_dump's own
 * folder (a source build or another packaging keeps them together); undefined when neither has them.
 */
export async function findServer(major: number, pgDump?: string, root = "/usr/lib/postgresql"): Promise<string | undefined> {
  const folders = [path.join(root, String(major), "bin"), ...(pgDump ? [path.dirname(pgDump)] : [])];
  for (const folder of folders) {
    const present = await Promise.all(
      SERVER_PROGRAMS.map((p) =>
        access(path.join(folder, p), 1).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (present.every(Boolean)) return folder;
  }
  return undefined;
}

/** Where an apt install puts the server of `major`. */
export const installedServerDir = (major: number) => debianBinDir(major);

export function serverMissingMessage(major: number): string {
  return (
    `\`verify: restore\` needs a PostgreSQL ${major} server on the runner (initdb, pg_ctl and postgres, in /usr/lib/postgresql/${major}/bin or beside pg_dump), ` +
    `and it cannot be installed here (that needs Debian/Ubuntu with apt-get, curl and root or password-less sudo). ` +
    `Install ${serverPackage(major)} before this step, or use \`verify: list\`.`
  );
}

/**
 * Debian's server package creates and starts a `main` cluster when the major has none: the
 * restore check runs its own server, so that one is dropped again, leaving the runner as it was.
 */
export async function dropPackageCluster(major: number, hadCluster: boolean, sudo: boolean, run: CommandRunner): Promise<void> {
  if (hadCluster || !(await exists(`/etc/postgresql/${major}/main`))) return;
  const command = ["pg_dropcluster", "--stop", String(major), "main"];
  await run(sudo ? "sudo" : (command[0] as string), sudo ? ["-n", ...command] : command.slice(1), { silent: true });
}

export const hasPackageCluster = (major: number) => exists(`/etc/postgresql/${major}/main`);

/** Where the restore check's server comes from, decided before the firewall opens. */
export type ServerPlan = { binDir: string; install: false } | { binDir: string; install: true; hadCluster: boolean };

export async function planServer(major: number, pgDump: string | undefined, canInstall: boolean): Promise<ServerPlan> {
  const found = await findServer(major, pgDump);
  if (found) return { binDir: found, install: false };
  if (!canInstall) throw new ActionError("restore-server", serverMissingMessage(major));
  return { binDir: installedServerDir(major), install: true, hadCluster: await hasPackageCluster(major) };
}
