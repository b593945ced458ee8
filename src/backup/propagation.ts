import type { Config } from "../config.js";
import { ActionError } from "../errors.js";
import type { Connection } from "../postgres/connection.js";
import type { Choice, Platform } from "../postgres/pg-client.js";
import { type Reachable, waitUntilReachable } from "../postgres/reachability.js";
import { phase, type Report } from "../report/report.js";
import type { ServerPlan } from "../restore-check/pg-server.js";
import { installClients, startRestoreServer, stopRestoreCheck } from "../restore-check/steps.js";
import { runCommand } from "../runner/commands.js";
import { type FirstFailureStops, firstFailureStops } from "../runner/first-failure.js";
import type { BackupDeps, Session } from "./session.js";

/**
 * Scalingo applies a new rule in about two minutes, with nothing to poll but the database itself:
 * that time is spent getting the right pg_dump (and the restore check's server) while the database
 * is tried, and the live server's version is checked against the client once it answers.
 */
export async function whileRulePropagates(
  config: Config,
  session: Session,
  report: Report,
  deps: BackupDeps,
  o: { choice: Exclude<Choice, { kind: "fail" }>; serverPlan: ServerPlan | undefined; platform: Platform; connection: Connection; serverVersion: string },
): Promise<{ pgDump: string; reachable: Reachable }> {
  const { log } = deps;
  const run = deps.run ?? runCommand;
  const { choice, serverPlan, platform, connection, serverVersion } = o;
  // While the rule propagates: get the right pg_dump (and start the restore check's server) and
  // wait for the database, all at once. The first to fail stops the others at once (the rule must
  // not stay open for a run already lost); all settle before the failure is thrown, so nothing
  // starts after the cleanup.
  log.section?.("pg_dump client and database wait");
  // The run's teardown stops them too: an install runs in its own process group, which the
  // runner's signal does not reach.
  const together = firstFailureStops(session.teardown.ending);
  const install = { run, log: (m: string) => log.info(m), signal: together.signal, env: deps.env ?? process.env, tempDir: config.tempDir };
  const clients = together.track(phase(report, "pg-dump-client", () => installClients(choice, serverPlan, platform, install)));
  if (serverPlan) startServerAfter(clients, together, config, session, report, deps, { serverPlan, platform, role: connection.user });
  const waitOptions = { timeoutMs: config.reachableTimeoutMs, log: (m: string) => log.info(m), signal: together.signal };
  const [pgDump, reachable] = await together.settle(clients, together.track(phase(report, "reachability", () => waitUntilReachable(connection, waitOptions))));
  report.pgDumpVersion = String(choice.major);
  log.info(
    `Database reachable after ${(reachable.waitedMs / 1000).toFixed(1)} s (${reachable.attempts} attempt(s)); server_version_num ${reachable.serverVersionNum}.`,
  );
  // pg_dump before 16 ignores require_auth: said once, calmly, in the TLS line (discover.ts).
  const liveMajor = Math.floor(reachable.serverVersionNum / 10000);
  if (liveMajor > choice.major) {
    throw new ActionError(
      "pg-dump-client",
      `The live server is PostgreSQL ${liveMajor} but the API reported ${serverVersion}; pg_dump ${choice.major} cannot dump it. Set \`pg-dump-version: ${liveMajor}\`.`,
    );
  }

  return { pgDump, reachable };
}

/**
 * The throwaway server starts once its package is there, and the dump does not wait for it: a
 * reused rule, reachable at once, stays open no longer for it. A start that fails in the window
 * still stops the rest; later, the restore check reports it.
 */
function startServerAfter(
  clients: Promise<string>,
  together: FirstFailureStops,
  config: Config,
  session: Session,
  report: Report,
  deps: BackupDeps,
  o: { serverPlan: ServerPlan; platform: Platform; role: string },
): void {
  const starting = together.track(
    clients.then(() => phase(report, "restore-server", () => startRestoreServer(config, o.serverPlan, o.role, o.platform, deps))),
  );
  starting.catch(() => undefined);
  session.restoreServer = starting;
  // A server still starting is waited for, then stopped: nothing it creates outlives the run.
  session.teardown.defer("servers", "stop the restore check's server", () => stopRestoreCheck(session));
}
