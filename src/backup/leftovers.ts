import { State } from "../constants.js";
import { removeLeftoverServer } from "../restore-check/throwaway-server.js";
import { exists } from "../runner/files.js";
import { parseSavedPaths, removePlaintext } from "../runner/plaintext.js";
import { savedProcess, stopRecorded } from "../runner/process-record.js";
import type { Teardown } from "../runner/teardown.js";
import type { Log, StateStore } from "../types.js";

// The post step's share of the teardown: what a killed main saved before acquiring it (pg_dump's
// pid and start time, the unfinished files, the restore server's folder), undone in the teardown's
// order by the same functions main's own teardown uses. The rule is the firewall session's.

export function deferLeftovers(teardown: Teardown, state: StateStore, log: Log): void {
  const dump = savedProcess(state.get(State.pgDump));
  if (dump) {
    teardown.defer("writers", "stop the pg_dump the main step left running", async () => {
      if (await stopRecorded(dump)) log.info("Stopped the pg_dump that the main step left running.");
    });
  }
  const paths = parseSavedPaths(state.get(State.plaintext));
  if (paths.length) {
    teardown.defer("plaintext", "remove the unfinished dump files", async () => {
      const present = (await Promise.all(paths.map(async (p) => ((await exists(p)) ? p : "")))).filter(Boolean);
      await removePlaintext(present);
      if (present.length) log.info(`Removed what the main step left unfinished: ${present.join(", ")}.`);
    });
  }
  const server = state.get(State.restoreServer);
  if (server) {
    teardown.defer("servers", "stop the restore check's server left by the main step", async () => {
      if (await removeLeftoverServer(JSON.parse(server)))
        log.info("Stopped the restore check's server that the main step left running, and removed its folder.");
    });
  }
}
