import type { DumpRun } from "../postgres/pg-dump.js";
import type { SnapshotCounter } from "../restore-check/row-counts.js";
import type { ThrowawayServer } from "../restore-check/throwaway-server.js";
import type { CommandRunner } from "../runner/commands.js";
import type { ScalingoClient } from "../scalingo/client.js";
import type { OpenRule } from "../scalingo/firewall.js";
import type { Log, StateStore } from "../types.js";

// The types the main step's modules share, in a file of their own so none of them imports
// another back.

/** What the cancellation handler needs to undo: kept current as the run goes. */
export interface Session {
  client?: ScalingoClient;
  rule?: OpenRule;
  dump?: DumpRun;
  /** The restore check's server, from its start (while the rule propagates) to the end of the check. */
  restoreServer?: Promise<ThrowawayServer>;
  /** The transaction holding pg_dump's snapshot, for the row counts. */
  snapshot?: SnapshotCounter;
  /** Files that are not a finished backup yet, deleted if the run stops. */
  partial: Set<string>;
  /** The private folder holding the CA file for pg_dump, removed when the run ends, however it ends. */
  tlsDir?: string;
  /** Stops the install and the wait for the database (a cancelled job stops them too). */
  stopWaits?: AbortController;
  /** Stops the S3 upload: its multipart upload is aborted, so no invisible parts stay billed. */
  stopS3?: () => Promise<void>;
}

export interface BackupDeps {
  state: StateStore;
  log: Log;
  setSecret(secret: string): void;
  run?: CommandRunner;
}
