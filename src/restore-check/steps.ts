import * as path from "node:path";
import { State } from "../constants.js";
import type { DumpFormat } from "../naming.js";
import { type Choice, debianBinDir, type InstallDeps, installPgDump, type Platform } from "../postgres/pg-client.js";
import { phase, type Report } from "../report/report.js";
import type { CommandRunner } from "../runner/commands.js";
import type { Log, StateStore } from "../types.js";
import { restoreCheck } from "./check.js";
import { dropPackageCluster, type ServerPlan, serverPackage } from "./pg-server.js";
import type { CountedTable, SnapshotCounter } from "./row-counts.js";
import { SERVER_USER_ENV } from "./server-identity.js";
import { type SavedServer, startThrowawayServer, type ThrowawayServer } from "./throwaway-server.js";

// The steps of `verify: restore` that backup.ts orders: the server before the dump, the check after it.

/** The parts of the main step's session that the restore check starts, uses and ends. */
export interface RestoreCheckSession {
  /** The throwaway server, from its start (while the rule propagates) to the end of the check. */
  restoreServer?: Promise<ThrowawayServer>;
  /** The transaction holding pg_dump's snapshot, for the row counts. */
  snapshot?: SnapshotCounter;
  /** Files that are not a finished backup yet, deleted if the run stops. */
  partial: Set<string>;
}

/**
 * pg_dump, and the restore check's server when it is missing, in one apt run (two at once would
 * fight over apt's lock; the server package brings the client of its major anyway).
 */
export async function installClients(
  choice: Extract<Choice, { kind: "use" | "install" }>,
  plan: ServerPlan | undefined,
  platform: Platform,
  install: InstallDeps,
): Promise<string> {
  const packages = [...(choice.kind === "install" ? [`postgresql-client-${choice.major}`] : []), ...(plan?.install ? [serverPackage(choice.major)] : [])];
  if (packages.length) {
    await installPgDump(choice.major, platform, install, packages);
    if (plan?.install) await dropPackageCluster(choice.major, plan.hadCluster, !platform.root, install.run);
  }
  return choice.kind === "use" ? choice.path : path.join(debianBinDir(choice.major), "pg_dump");
}

/** Started while the rule propagates, so the check costs only the restore itself after the dump. */
export async function startRestoreServer(
  config: { tempDir: string },
  plan: ServerPlan,
  /** The production role's name (the URI's user): the restore runs as a role of that name. */
  role: string,
  platform: Platform,
  deps: { log: Log; state: StateStore },
): Promise<ThrowawayServer> {
  const { log } = deps;
  // Saved for the post step before the server starts, should this process be killed before it stops the server itself.
  const onFolder = (saved: SavedServer) => deps.state.save(State.restoreServer, JSON.stringify(saved));
  const server = await startThrowawayServer({
    binDir: plan.binDir,
    tempDir: config.tempDir,
    role,
    root: platform.root,
    serverUser: process.env[SERVER_USER_ENV],
    onFolder,
  });
  log.info(
    `Started a throwaway PostgreSQL server for the restore check in ${server.folder}${server.osUser ? ` (as ${server.osUser.name}: this step runs as root)` : ""}.`,
  );
  return server;
}

/** Restores the dump (before it is packed or encrypted), then the server and its folder go at once. */
export async function runRestoreCheck(
  config: { format: DumpFormat; compress?: string; dumpPath: string; restoreJobs: number },
  session: RestoreCheckSession,
  report: Report,
  o: { pgDump: string; counted?: CountedTable[]; run: CommandRunner; log: Log },
): Promise<void> {
  report.restore = await phase(report, "restore", async () => {
    o.log.info(`Restoring the dump into the throwaway server (${config.restoreJobs} job(s))...`);
    try {
      // Started during the dump at the latest; its failure to start is reported here.
      const server = await (session.restoreServer as Promise<ThrowawayServer>);
      const source = {
        format: config.format,
        compress: config.compress,
        source: config.dumpPath,
        clientDir: path.dirname(o.pgDump),
        server,
        jobs: config.restoreJobs,
        run: o.run,
        partial: session.partial,
      };
      return await restoreCheck(o.counted ? { ...source, counted: o.counted } : source);
    } finally {
      await stopRestoreCheck(session);
    }
  });
  report.restoreVerified = true;
  const { tables, rows, notChecked } = report.restore;
  const left = notChecked.length ? `; ${notChecked.length} object(s) only a superuser can create were left out, not checked (listed in the job summary)` : "";
  o.log.info(`Restore check passed: ${tables.length} table(s), ${rows} row(s) restored${left}.`);
}

/** Ends what the restore check started, whatever the outcome: its server (and folder) and the snapshot's transaction. */
export async function stopRestoreCheck(session: RestoreCheckSession): Promise<void> {
  const { restoreServer, snapshot } = session;
  session.restoreServer = undefined;
  session.snapshot = undefined;
  // A server still starting is waited for, then stopped: nothing it creates outlives the run.
  await Promise.all([
    restoreServer?.then(
      (server) => server.stop(),
      () => undefined,
    ),
    snapshot?.close(),
  ]);
}
