import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSnapshot } from "../src/restore-check/row-counts.js";
import { type PgServer, startPostgres } from "./support/postgres.js";

const ROLE = "counts_owner";
const PASSWORD = "c/o@u%n+t";
const DB = "counts_db";

// pg_dump dumps each inheritance child and each partition on its own, so each table's count must be
// its own rows only (ONLY): a parent counted with its children would not match its restored copy.
describe("row counts with inheritance and partitions", () => {
  let pg: PgServer;
  beforeAll(async () => {
    pg = await startPostgres();
    await pg.createRole(ROLE, PASSWORD);
    await pg.createDatabase(DB, ROLE);
    await pg.allowCidr("127.0.0.1/32");
    await pg.psql(
      `SET ROLE ${ROLE};
       CREATE TABLE vehicles (id int, name text);
       CREATE TABLE trucks (axles int) INHERITS (vehicles);
       INSERT INTO vehicles VALUES (1, 'a'), (2, 'b'), (3, 'c');
       INSERT INTO trucks VALUES (4, 'd', 2), (5, 'e', 3);
       CREATE TABLE measures (at date, v int) PARTITION BY RANGE (at);
       CREATE TABLE measures_2025 PARTITION OF measures FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
       CREATE TABLE measures_2026 PARTITION OF measures FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
       INSERT INTO measures VALUES ('2025-03-01', 1), ('2025-04-01', 2), ('2025-05-01', 3), ('2025-06-01', 4), ('2026-02-01', 5);`,
      DB,
    );
  });
  afterAll(() => pg?.stop());

  it("counts each table's own rows: a parent without its children, each leaf partition alone", async () => {
    const counter = await openSnapshot(
      { host: "127.0.0.1", port: pg.port, user: ROLE, password: PASSWORD, database: DB, sslmode: "disable" },
      { allowPlain: true, serverVersionNum: 150000, rowSecurity: false },
    );
    try {
      const counted = Object.fromEntries((await counter.countAll()).map((t) => [`${t.schema}.${t.name}`, t.rows]));
      expect(counted).toEqual({ "public.vehicles": 3, "public.trucks": 2, "public.measures_2025": 4, "public.measures_2026": 1 });
    } finally {
      await counter.close();
    }
  });
});
