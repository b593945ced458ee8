import { describe, expect, it } from "vitest";
import { connectionLost, lostReason } from "../src/postgres/connection-lost.js";

// Messages as pg_dump 15-17, libpq and node-postgres print them.
const LOST = [
  `pg_dump: error: query failed: FATAL:  terminating connection due to administrator command
server closed the connection unexpectedly
	This probably means the server terminated abnormally
	before or while processing the request.
pg_dump: detail: Query was: LOCK TABLE public.orders IN ACCESS SHARE MODE`,
  `pg_dump: error: Dumping the contents of table "orders" failed: PQgetResult() failed.
pg_dump: detail: Error message from server: server closed the connection unexpectedly`,
  "pg_dump: error: query failed: could not receive data from server: Connection reset by peer",
  "pg_dump: error: query failed: SSL SYSCALL error: EOF detected",
  `pg_dump: error: connection to server at "10.0.0.5", port 5432 failed: FATAL:  the database system is shutting down`,
  `pg_dump: error: connection to server at "10.0.0.5", port 5432 failed: FATAL:  the database system is in recovery mode`,
  `pg_dump: error: connection to server at "10.0.0.5", port 5432 failed: Connection refused
	Is the server running on that host and accepting TCP/IP connections?`,
  "Connection terminated unexpectedly",
  "FATAL:  terminating connection because of crash of another server process",
];

const NOT_LOST = [
  `pg_dump: error: query failed: ERROR:  permission denied for table payroll
pg_dump: detail: Query was: LOCK TABLE public.payroll IN ACCESS SHARE MODE`,
  `pg_dump: error: query failed: ERROR:  canceling statement due to lock timeout
pg_dump: detail: Query was: LOCK TABLE public.orders IN ACCESS SHARE MODE`,
  "pg_dump: error: could not write to output file: No space left on device",
  `pg_dump: error: aborting because of server version mismatch
pg_dump: detail: server version: 17.2; pg_dump version: 16.6`,
  "pg_dump: error: unrecognized option '--frobnicate'",
  `pg_dump: error: connection to server at "10.0.0.5", port 5432 failed: FATAL:  password authentication failed for user "shop"`,
  // A full disk may also end the connection: the disk is the cause, a retry would fill it again.
  "pg_dump: error: could not write to output file: No space left on device\nserver closed the connection unexpectedly",
  "pg_dump: error: query failed: ERROR:  canceling statement due to user request",
];

describe("connectionLost: the one rule for pg_dump and pg_restore", () => {
  it.each(LOST)("a lost connection: %s", (text) => {
    expect(connectionLost(text)).toBe(true);
  });
  it.each(NOT_LOST)("not a lost connection: %s", (text) => {
    expect(connectionLost(text)).toBe(false);
  });
  it("says how it was lost in one line, without the tool's prefixes", () => {
    expect(lostReason(LOST[0])).toBe("terminating connection due to administrator command");
    expect(lostReason(LOST[4])).toBe("the database system is shutting down");
    expect(lostReason(LOST[2])).toBe("query failed: could not receive data from server: Connection reset by peer");
  });
});
