// One PostgreSQL per kind (TLS, plain) for a whole mutation run, instead of one per test file.
// Stryker re-runs a test file for every mutant its tests cover, and starting a server (initdb, a
// CA, pg_ctl start and stop) cost more than the tests themselves. vitest.mutation.config.ts's
// globalSetup (postgres-shared-setup.ts) starts the servers once per vitest instance and names them
// in SHARED_POSTGRES_ENV; startPostgres() then attaches to the free one of the kind asked for.
// A file holds it alone (a lock folder; a second taker starts its own server, as without sharing),
// and stop() gives it back as a fresh server is: no session, database, role or pg_hba host line
// of the file is left. Without that variable (`npm test`), nothing here runs.
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { CLOSED_HBA, type HandleTools, type PgServer, pgHandle, type ServerPlace } from "./postgres-handle.js";
import { openTestCa, type TestCa } from "./test-ca.js";

export const SHARED_POSTGRES_ENV = "TEST_SHARED_POSTGRES";

export type SharedKind = "tls" | "plain";

/** What servers.json, in the folder SHARED_POSTGRES_ENV names, says of each shared server. */
export interface SharedServer extends Omit<ServerPlace, "ca"> {
  kind: SharedKind;
  /** the CA folder of a TLS server (its certificate's issuer) */
  caDir?: string;
}

export const sharedFile = (dir: string) => path.join(dir, "servers.json");
const lockOf = (dir: string, kind: SharedKind) => path.join(dir, `${kind}.lock`);

/** The shared server of the kind these options ask for, if there is one and it is free; else undefined. */
export async function attachShared(options: { ssl?: boolean; ca?: TestCa }): Promise<PgServer | undefined> {
  const dir = process.env[SHARED_POSTGRES_ENV];
  // A caller's own CA must sign the server's certificate: only a server of its own has that.
  if (!dir || options.ca) return undefined;
  const kind: SharedKind = (options.ssl ?? true) ? "tls" : "plain";
  const servers = JSON.parse(await readFile(sharedFile(dir), "utf8")) as SharedServer[];
  const shared = servers.find((s) => s.kind === kind);
  if (!shared) return undefined;
  const lock = lockOf(dir, kind);
  try {
    await mkdir(lock);
  } catch {
    return undefined;
  }
  try {
    await writeFile(path.join(lock, "pid"), String(process.pid));
    const { kind: _, caDir, ...place } = shared;
    const ca = caDir ? await openTestCa(caDir) : undefined;
    return await pgHandle({ ...place, ca }, async (tools) => {
      await tools.edited();
      await reset(place.hbaPath, tools);
      // Left in place when the reset failed: the next file starts a server of its own.
      await rm(lock, { recursive: true, force: true });
    });
  } catch (error) {
    await rm(lock, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Back to what launchPostgres gives: pg_hba without host lines, no other session, no database or
 * role but `postgres`'s. (The `postgres` database itself is kept, as making it again costs as much
 * as the rest: objects the superuser made there would stay; the files here make none.)
 */
async function reset(hbaPath: string, { psql, reload }: HandleTools): Promise<void> {
  // First: no new TCP session from now on (usually done already: the emulators deny what they allowed).
  if ((await readFile(hbaPath, "utf8")) !== CLOSED_HBA) {
    await writeFile(hbaPath, CLOSED_HBA);
    await reload();
  }
  await psql(
    `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid();
     SELECT format('DROP DATABASE %I WITH (FORCE)', datname) FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' \\gexec
     SELECT format('DROP OWNED BY %I CASCADE; DROP ROLE %I', rolname, rolname) FROM pg_roles WHERE rolname !~ '^pg_' AND rolname <> current_user \\gexec`,
  );
}
