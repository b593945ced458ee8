// vitest globalSetup of vitest.mutation.config.ts (postgres-shared.ts says why): starts one TLS and
// one plain PostgreSQL for the vitest instance, which Stryker keeps for a whole run (one per
// worker), names them to the test files in SHARED_POSTGRES_ENV, and stops them at the end.
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { launchPostgres } from "./postgres.js";
import { run } from "./postgres-exec.js";
import { SHARED_POSTGRES_ENV, type SharedServer, sharedFile } from "./postgres-shared.js";

const PREFIX = "pgshared-";

export default async function setup(): Promise<() => Promise<void>> {
  await sweepOrphans();
  const dir = await mkdtemp(path.join(tmpdir(), PREFIX));
  await writeFile(path.join(dir, "owner"), String(process.pid));
  const servers = await Promise.allSettled([launchPostgres(), launchPostgres({ ssl: false })]);
  const started = servers.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const stopAll = async () => {
    delete process.env[SHARED_POSTGRES_ENV];
    await Promise.all(started.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  const failed = servers.find((s) => s.status === "rejected");
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  const [tls, plain] = started;
  const describe = (kind: SharedServer["kind"], s: (typeof started)[number]): SharedServer => ({
    kind,
    port: s.port,
    binDir: s.binDir,
    dataDir: s.dataDir,
    socketDir: s.socketDir,
    hbaPath: s.hbaPath,
    logPath: s.logPath,
    caDir: s.ca?.dir,
  });
  await writeFile(sharedFile(dir), JSON.stringify([describe("tls", tls), describe("plain", plain)]));
  // The forks vitest starts for the test files inherit it.
  process.env[SHARED_POSTGRES_ENV] = dir;
  return stopAll;
}

/**
 * Servers of an instance that never reached its teardown: Stryker kills a test runner whose
 * mutant timed out, and starts another (which comes here). Stopped by their data folder.
 */
async function sweepOrphans(): Promise<void> {
  for (const name of await readdir(tmpdir())) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = path.join(tmpdir(), name);
    const owner = Number(await readFile(path.join(dir, "owner"), "utf8").catch(() => "0"));
    if (!(owner > 0) || alive(owner)) continue;
    const servers = JSON.parse(await readFile(sharedFile(dir), "utf8").catch(() => "[]")) as SharedServer[];
    for (const s of servers) {
      const asServerUser = process.getuid?.() === 0;
      await run(`${s.binDir}/pg_ctl`, ["-D", s.dataDir, "-m", "immediate", "-w", "stop"], { asServerUser }).catch(() => {});
      // launchPostgres's own folder (pgtest-*), holding data, socket and log; and the CA's.
      const root = path.dirname(s.dataDir);
      if (path.basename(root).startsWith("pgtest-")) await rm(root, { recursive: true, force: true });
      if (s.caDir && path.basename(s.caDir).startsWith("test-ca-")) await rm(s.caDir, { recursive: true, force: true });
    }
    await rm(dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
