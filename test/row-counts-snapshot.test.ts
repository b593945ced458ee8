// The production counts the restore is compared with: taken on the action's own connection, in the
// snapshot pg_dump reads, whatever the role's own settings, one table at a time, never aborting
// the transaction pg_dump's snapshot lives in.
import { readFile, stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActionError } from "../src/errors.js";
import { openSnapshot } from "../src/restore-check/row-counts.js";
import { type PgServer, startPostgres } from "./support/postgres.js";

const ROLE = "snap_owner";
const PASSWORD = "snap-pw";
const DB = "snap_db";

describe("row counts in an exported snapshot", () => {
  let server: PgServer;
  const conn = () => ({ host: "127.0.0.1", port: server.port, user: ROLE, password: PASSWORD, database: DB, sslmode: "disable" });
  const options = { allowPlain: true, serverVersionNum: 150000, rowSecurity: false };
  const byName = (tables: { schema: string; name: string; rows?: number; error?: string }[]) =>
    Object.fromEntries(tables.map((t) => [`${t.schema}.${t.name}`, t.error === undefined ? t.rows : `error: ${t.error}`]));

  beforeAll(async () => {
    server = await startPostgres({ ssl: false });
    await server.createRole(ROLE, PASSWORD);
    await server.createDatabase(DB, ROLE);
    await server.createRole("other_owner", "x");
    await server.allowCidr("127.0.0.1/32");
    await server.psql(
      `CREATE TABLE public.not_readable (id int); INSERT INTO public.not_readable VALUES (1);
       ALTER TABLE public.not_readable OWNER TO other_owner;
       SET ROLE ${ROLE};
       CREATE SCHEMA app;
       CREATE TABLE app.events (id int); INSERT INTO app.events SELECT generate_series(1, 3);
       CREATE TABLE public."Mixed Case" (id int); INSERT INTO public."Mixed Case" VALUES (1), (2);
       CREATE UNLOGGED TABLE public.cache (id int); INSERT INTO public.cache VALUES (1);
       CREATE TABLE public.orders (id int, owner text); INSERT INTO public.orders VALUES (1, 'a'), (2, 'b'), (3, 'a'), (4, 'a');
       CREATE VIEW public.order_view AS SELECT * FROM public.orders;
       CREATE MATERIALIZED VIEW public.order_totals AS SELECT count(*) FROM public.orders;
       CREATE SEQUENCE public.counter;`,
      DB,
    );
  });
  afterAll(() => server?.stop());

  /** public.orders counted by another session (as pg_dump) that imported the snapshot. */
  const ordersInSnapshot = async (snapshot: string) =>
    (await server.psql(`BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '${snapshot}'; SELECT count(*) FROM public.orders; COMMIT;`, DB))
      .split("\n")
      .filter((line) => /^\d+$/.test(line))
      .join();

  /** Another session (the superuser's, over the socket) holding ACCESS EXCLUSIVE on a table until released. */
  async function lockTable(table: string) {
    const client = new pg.Client({ host: server.socketDir, port: server.port, user: "postgres", database: DB });
    await client.connect();
    await client.query(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    let released: Promise<void> | undefined;
    const release = () => {
      released ??= client
        .query("ROLLBACK")
        .then(() => client.end())
        .catch(() => undefined);
      return released;
    };
    return { release };
  }
  /** Until the counting session waits for a lock (or the counts ended without waiting: the test then fails on what they returned). */
  async function waitingForLock(counting: Promise<unknown>) {
    let settled = false;
    counting.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    const sql = `SELECT count(*) FROM pg_stat_activity WHERE usename = '${ROLE}' AND wait_event_type = 'Lock'`;
    while (!settled && (await server.psql(sql)) !== "1") await sleep(50);
  }

  it("counts every table the role can read, by schema then name: no view, materialized view, sequence or system table", async () => {
    const counter = await openSnapshot(conn(), options);
    try {
      expect(counter.snapshot).toMatch(/^[0-9A-F]+-[0-9A-F]+-\d+$/);
      const tables = await counter.countAll();
      expect(tables.map((t) => `${t.schema}.${t.name}`)).toEqual(["app.events", "public.Mixed Case", "public.cache", "public.orders"]);
      expect(byName(tables)).toEqual({ "app.events": 3, "public.Mixed Case": 2, "public.cache": 1, "public.orders": 4 });
      expect(tables.every((t) => Number.isInteger(t.oid) && t.oid > 0)).toBe(true);
    } finally {
      await counter.close();
    }
  });

  it("counts in the exported snapshot: a row committed after the export is not counted, and the snapshot is importable", async () => {
    const counter = await openSnapshot(conn(), options);
    try {
      await server.psql("INSERT INTO public.orders VALUES (5, 'b')", DB);
      expect(byName(await counter.countAll())["public.orders"]).toBe(4);
      // Another session (pg_dump) sees the same rows through the snapshot.
      expect(await ordersInSnapshot(counter.snapshot)).toBe("4");
    } finally {
      await counter.close();
      await server.psql("DELETE FROM public.orders WHERE id = 5", DB);
    }
  });

  it("row security as pg_dump applies it: off, a table whose policy would hide rows fails alone and the others are counted; on, the visible rows", async () => {
    await server.psql(
      `SET ROLE ${ROLE};
       ALTER TABLE public.orders ENABLE ROW LEVEL SECURITY; ALTER TABLE public.orders FORCE ROW LEVEL SECURITY;
       CREATE POLICY only_a ON public.orders USING (owner = 'a');`,
      DB,
    );
    try {
      const off = await openSnapshot(conn(), options);
      try {
        const counted = byName(await off.countAll());
        expect(counted["public.orders"]).toMatch(/^error: .*row-level security/);
        expect(counted).toMatchObject({ "app.events": 3, "public.Mixed Case": 2, "public.cache": 1 });
      } finally {
        await off.close();
      }
      const on = await openSnapshot(conn(), { ...options, rowSecurity: true });
      try {
        expect(byName(await on.countAll())["public.orders"]).toBe(3);
      } finally {
        await on.close();
      }
    } finally {
      await server.psql(`SET ROLE ${ROLE}; DROP POLICY only_a ON public.orders; ALTER TABLE public.orders NO FORCE ROW LEVEL SECURITY;`, DB);
    }
  });

  it("a table that fails in the middle of the order does not stop the counts: its savepoint is rolled back and the tables after it are counted", async () => {
    // Row security off (pg_dump's default) and a forced policy: counting "Mixed Case", second of four, fails.
    await server.psql(
      `SET ROLE ${ROLE};
       ALTER TABLE public."Mixed Case" ENABLE ROW LEVEL SECURITY; ALTER TABLE public."Mixed Case" FORCE ROW LEVEL SECURITY;
       CREATE POLICY none ON public."Mixed Case" USING (false);`,
      DB,
    );
    try {
      const counter = await openSnapshot(conn(), options);
      try {
        const tables = await counter.countAll();
        expect(tables.map((t) => `${t.schema}.${t.name}`)).toEqual(["app.events", "public.Mixed Case", "public.cache", "public.orders"]);
        const counted = byName(tables);
        expect(counted["public.Mixed Case"]).toMatch(/^error: .*row-level security/);
        expect(counted).toMatchObject({ "app.events": 3, "public.cache": 1, "public.orders": 4 });
        // The snapshot's transaction is still usable by pg_dump.
        expect(await ordersInSnapshot(counter.snapshot)).toBe("4");
      } finally {
        await counter.close();
      }
    } finally {
      await server.psql(
        `SET ROLE ${ROLE}; DROP POLICY none ON public."Mixed Case"; ALTER TABLE public."Mixed Case" NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;`,
        DB,
      );
    }
  });

  it("asks the server to check for a vanished client during the counts from PostgreSQL 14 on, and not before (13 has no such setting)", async () => {
    // What the counting session sends, from the server's own statement log.
    await server.psql(`ALTER ROLE ${ROLE} SET log_statement = 'all'`);
    try {
      const sent = async (serverVersionNum: number) => {
        const from = (await stat(server.logPath)).size;
        const counter = await openSnapshot(conn(), { ...options, serverVersionNum });
        await counter.close();
        return (await readFile(server.logPath)).subarray(from).toString("utf8");
      };
      const v14 = await sent(140000);
      expect(v14).toMatch(/BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY/);
      expect(v14).toMatch(/SET LOCAL client_connection_check_interval = 1000/);
      const v13 = await sent(139999);
      expect(v13).toMatch(/BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY/);
      expect(v13).not.toMatch(/client_connection_check_interval/);
    } finally {
      await server.psql(`ALTER ROLE ${ROLE} RESET log_statement`);
    }
  });

  it("the role's own statement, lock and idle-transaction timeouts do not apply: pg_dump has none either", async () => {
    // A policy that takes 300 ms per row against a 50 ms statement_timeout: only a count with the timeout off finishes.
    await server.psql(
      `SET ROLE ${ROLE};
       CREATE TABLE public.slow (id int); INSERT INTO public.slow VALUES (1);
       ALTER TABLE public.slow ENABLE ROW LEVEL SECURITY; ALTER TABLE public.slow FORCE ROW LEVEL SECURITY;
       CREATE POLICY slow ON public.slow USING (pg_sleep(0.3) IS NOT NULL);
       RESET ROLE;
       ALTER ROLE ${ROLE} SET statement_timeout = '50ms';
       ALTER ROLE ${ROLE} SET lock_timeout = '50ms';
       ALTER ROLE ${ROLE} SET idle_in_transaction_session_timeout = '100ms';`,
      DB,
    );
    const locker = await lockTable("app.events");
    try {
      const counter = await openSnapshot(conn(), { ...options, rowSecurity: true });
      try {
        // Idle in the transaction for longer than the role's idle_in_transaction_session_timeout.
        await sleep(400);
        const counting = counter.countAll();
        counting.catch(() => undefined);
        // The count waits for the lock (longer than lock_timeout), and gets it once the other session lets go.
        await waitingForLock(counting);
        await sleep(200);
        await locker.release();
        expect(byName(await counting)).toMatchObject({ "app.events": 3, "public.slow": 1 });
      } finally {
        await counter.close();
      }
    } finally {
      await locker.release();
      await server.psql(`ALTER ROLE ${ROLE} RESET ALL; SET ROLE ${ROLE}; DROP TABLE public.slow;`, DB);
    }
  });

  it("holds no table lock between counts: DDL on a counted table is not queued behind the open transaction", async () => {
    const counter = await openSnapshot(conn(), options);
    try {
      await counter.countAll();
      await server.psql(
        "BEGIN; LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE NOWAIT; LOCK TABLE app.events IN ACCESS EXCLUSIVE MODE NOWAIT; ROLLBACK;",
        DB,
      );
    } finally {
      await counter.close();
    }
  });

  it("close() ends the transaction and the connection, twice safely; a refused connection is the dump's error", async () => {
    const counter = await openSnapshot(conn(), options);
    const sessions = () => server.psql(`SELECT count(*) FROM pg_stat_activity WHERE usename = '${ROLE}'`);
    expect(await sessions()).toBe("1");
    await counter.close();
    await counter.close();
    for (let i = 0; i < 100 && (await sessions()) !== "0"; i++) await sleep(50);
    expect(await sessions()).toBe("0");
    // The snapshot is gone with its transaction.
    await expect(server.psql(`BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '${counter.snapshot}'; COMMIT;`, DB)).rejects.toThrow(
      /invalid snapshot identifier/,
    );

    const refused = await openSnapshot({ ...conn(), password: "wrong" }, options).catch((e) => e);
    expect(refused).toBeInstanceOf(ActionError);
    expect(refused.phase).toBe("dump");
    expect(refused.message).toMatch(/^Could not export a snapshot for the row counts: .*password authentication failed/);
  });

  it("a counting session the server ends (an administrator, a failover) fails the counts, and does not crash the process", async () => {
    const counter = await openSnapshot(conn(), options);
    try {
      expect(await server.psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '${ROLE}'`)).toBe("1");
      // The client hears of it while idle: an 'error' event nobody listened to would be an uncaught exception.
      await expect(counter.countAll()).rejects.toThrow(/terminat|connection error/i);
    } finally {
      await counter.close();
    }
  });

  it("close() during the counts stops them: the count in progress ends, the rest are not started", async () => {
    const locker = await lockTable("app.events");
    try {
      const counter = await openSnapshot(conn(), options);
      const counting = counter.countAll().catch((e) => e);
      await waitingForLock(counting);
      const closing = counter.close();
      await locker.release();
      const error = await counting;
      await closing;
      expect(error).toBeInstanceOf(ActionError);
      expect(error.phase).toBe("restore");
      expect(error.message).toBe("The row counts were interrupted.");
    } finally {
      await locker.release();
    }
  });
});
