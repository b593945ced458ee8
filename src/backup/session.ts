import { State } from "../constants.js";
import type { DumpRun } from "../postgres/pg-dump.js";
import type { SnapshotCounter } from "../restore-check/row-counts.js";
import type { ThrowawayServer } from "../restore-check/throwaway-server.js";
import type { CommandRunner } from "../runner/commands.js";
import { PlaintextFiles, removePlaintext } from "../runner/plaintext.js";
import { Teardown } from "../runner/teardown.js";
import type { ScalingoClient, ScalingoOptions } from "../scalingo/client.js";
import type { Log, StateStore } from "../types.js";

// What the main step holds while it runs, in a file of its own so none of the step's modules
// imports another back. Everything it must undo is on `teardown`, registered by the step that
// acquires it; the catch, the cancellation handler and the finally of main.ts all run it.

export interface Session {
  /** The one place that undoes what the run acquired, in its fixed order (runner/teardown.ts). */
  teardown: Teardown;
  /** Files that are not a finished backup yet: saved for the post step as each is added, removed by the teardown. */
  partial: Set<string>;
  /** The restore check's server, from its start (while the rule propagates) to the end of the check. */
  restoreServer?: Promise<ThrowawayServer>;
  /** The transaction holding pg_dump's snapshot, for the row counts. */
  snapshot?: SnapshotCounter;
  /** The pg_dump running now, which `dump-timeout` stops (the teardown has its own registration). */
  dump?: DumpRun;
}

export interface BackupDeps {
  state: StateStore;
  log: Log;
  setSecret(secret: string): void;
  run?: CommandRunner;
  /** The environment the step reads (artifact service, RUNNER_TEMP): process.env in the action, the test's own in-process. */
  env?: NodeJS.ProcessEnv;
  /** The platform, for the runner check: process.platform in the action. */
  os?: NodeJS.Platform;
  /** Builds the Scalingo client: tests point it at the emulator with a fast clock. */
  newClient?: (options: ScalingoOptions) => ScalingoClient;
}

/** A new session whose unfinished files the teardown removes, and whose list post reads from the state. */
export function newSession(state: StateStore, onUndoError: (what: string, error: unknown) => void): Session {
  const teardown = new Teardown(onUndoError);
  const partial = new PlaintextFiles((paths) => state.save(State.plaintext, JSON.stringify(paths)));
  teardown.defer("plaintext", "remove the unfinished dump files", () => removePlaintext(partial));
  return { teardown, partial };
}
