// Whether a PostgreSQL client (pg_dump, pg_restore, or a node-postgres query) failed because its
// connection was lost, not because of what it asked: a restart or a failover of the server cuts
// every session, and the same work started again from scratch can succeed a second later. Kept
// apart, and about text only, so that every tool that talks to a server shares one rule: the
// backup's pg_dump today, the restore action's pg_restore into a fresh database tomorrow.

/**
 * What libpq, the server and node-postgres say when the session itself ended. Each one is a
 * message of their own, never a value from the data.
 */
const LOST = [
  // The server ended the session: pg_terminate_backend (57P01), a crash of another backend (57P02),
  // the postmaster gone, an idle session cut by a restart.
  /terminating connection due to administrator command/i,
  /terminating connection because of crash of another server process/i,
  /terminating connection due to unexpected postmaster exit/i,
  // The server shutting down, starting up or in recovery (57P03): a restart or a promotion.
  /the database system is (shutting down|starting up|in recovery mode|not yet accepting connections|not accepting connections)/i,
  // libpq: the socket went away under it.
  /server closed the connection unexpectedly/i,
  /connection to server was lost/i,
  /no connection to the server/i,
  /could not (receive data from|send data to) server/i,
  /SSL SYSCALL error: (EOF detected|Connection reset by peer)/i,
  /SSL connection has been closed unexpectedly/i,
  // A reconnection (pg_dump's --jobs workers, a new attempt) while the server is away.
  /Connection refused/i,
  /Connection reset by peer/i,
  // node-postgres.
  /Connection terminated unexpectedly/i,
  /\bECONNRESET\b/,
];

/**
 * Failures that a new attempt cannot fix, even when a lost connection is mentioned too (pg_dump
 * may report a closed connection after the real cause): permissions, a lock that did not come, a
 * full disk, a server newer than the client, an option the tool refuses.
 */
const NOT_RETRYABLE = [
  /permission denied/i,
  /must be (owner|superuser|a member)/i,
  /canceling statement due to (lock|statement) timeout/i,
  /could not obtain lock/i,
  /No space left on device/i,
  /could not write to (output )?file/i,
  /server version mismatch/i,
  /password authentication failed|no pg_hba\.conf entry/i,
  /unrecognized option|invalid option|too many command-line arguments/i,
];

/** True when `output` (a tool's stderr, or an error message) says the connection was lost, and nothing worse. */
export function connectionLost(output: string): boolean {
  if (NOT_RETRYABLE.some((pattern) => pattern.test(output))) return false;
  return LOST.some((pattern) => pattern.test(output));
}

/** The line that says how the connection was lost, for the log and the summary (a server message, never data). */
export function lostReason(output: string): string {
  const line = output.split("\n").find((l) => LOST.some((pattern) => pattern.test(l)));
  return (line ?? "the connection to the server was lost")
    .replace(/^\s*(pg_dump|pg_restore)(: (error|detail))?:\s*/i, "")
    .replace(/^.*?(FATAL|ERROR):\s*/, "")
    .trim()
    .slice(0, 200);
}
