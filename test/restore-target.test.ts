import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Connection } from "../src/postgres/connection.js";
import type { Reachable } from "../src/postgres/reachability.js";
import { countRows } from "../src/restore/target.js";
import { type PgServer, startPostgres } from "./support/postgres.js";

const ROLE = "restored_owner";
const PASSWORD = "r/e@s%t+o";
const DB = "restored_db";

// The restore's row counts, on a real server: every table's exact rows, in the listing's order,
// counted on as many connections at once as the restore's jobs.
describe("the restored database's row counts", () => {
  let server: PgServer;
  let conn: Connection;
  const reachable: Reachable = { serverVersionNum: 150000, allowPlain: true, attempts: 1, waitedMs: 0 };
  const expected = [
    { schema: "public", name: "a", rows: 3 },
    { schema: "public", name: "b", rows: 0 },
    { schema: "public", name: "c", rows: 1000 },
    { schema: "public", name: "d", rows: 7 },
    { schema: "sales", name: "a", rows: 2 },
  ];
  beforeAll(async () => {
    server = await startPostgres();
    await server.createRole(ROLE, PASSWORD);
    await server.createDatabase(DB, ROLE);
    await server.allowCidr("127.0.0.1/32");
    await server.psql(
      `SET ROLE ${ROLE};
       CREATE TABLE a AS SELECT generate_series(1, 3) AS i;
       CREATE TABLE b (i int);
       CREATE TABLE c AS SELECT generate_series(1, 1000) AS i;
       CREATE TABLE d AS SELECT generate_series(1, 7) AS i;
       CREATE SCHEMA sales;
       CREATE TABLE sales.a AS SELECT generate_series(1, 2) AS i;`,
      DB,
    );
    conn = { host: "127.0.0.1", port: server.port, user: ROLE, password: PASSWORD, database: DB, sslmode: "disable" };
  });
  afterAll(() => server?.stop());

  it("one connection or several: the same exact counts, in the same order", async () => {
    expect(await countRows(conn, reachable, DB)).toEqual(expected);
    expect(await countRows(conn, reachable, DB, 3)).toEqual(expected);
    expect(await countRows(conn, reachable, DB, 20)).toEqual(expected);
  });

  it("with two connections, two tables are counted at once", async () => {
    // b and c locked: one connection would wait on b alone; two wait on b and c together.
    const locker = new pg.Client({ ...conn, ssl: false });
    // Another session watches: a transaction sees one snapshot of pg_stat_activity.
    const watcher = new pg.Client({ ...conn, ssl: false });
    await Promise.all([locker.connect(), watcher.connect()]);
    try {
      await locker.query("BEGIN; LOCK TABLE b, c IN ACCESS EXCLUSIVE MODE");
      const counting = countRows(conn, reachable, DB, 2);
      await vi.waitFor(
        async () => {
          const { rows } = await watcher.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT count(*)%'",
          );
          expect(Number(rows[0]?.n)).toBe(2);
        },
        { timeout: 60_000, interval: 100 },
      );
      await locker.query("ROLLBACK");
      expect(await counting).toEqual(expected);
    } finally {
      await Promise.all([locker.end(), watcher.end()]);
    }
  });

  it("counts the largest table first (c, by the rows inserted into it), the others after it", async () => {
    // a and c locked, one connection: counting by name it would wait on a first, largest first on c.
    const locker = new pg.Client({ ...conn, ssl: false });
    const watcher = new pg.Client({ ...conn, ssl: false });
    await Promise.all([locker.connect(), watcher.connect()]);
    try {
      await locker.query("BEGIN; LOCK TABLE a, c IN ACCESS EXCLUSIVE MODE");
      const counting = countRows(conn, reachable, DB, 1);
      await vi.waitFor(
        async () => {
          const { rows } = await watcher.query<{ query: string }>(
            "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT count(*)%'",
          );
          expect(rows.map((r) => r.query)).toEqual(['SELECT count(*) AS n FROM ONLY "public"."c"']);
        },
        { timeout: 60_000, interval: 100 },
      );
      await locker.query("ROLLBACK");
      expect(await counting).toEqual(expected);
    } finally {
      await Promise.all([locker.end(), watcher.end()]);
    }
  });
});
