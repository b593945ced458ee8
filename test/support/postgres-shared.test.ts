import { readFile } from "node:fs/promises";
import pg from "pg";
import { expect, it } from "vitest";
import { startPostgres } from "./postgres.js";
import { CLOSED_HBA } from "./postgres-handle.js";
import { SHARED_POSTGRES_ENV } from "./postgres-shared.js";
import setup from "./postgres-shared-setup.js";
import { createTestCa } from "./test-ca.js";

// A mutation run's test files share one server of each kind (vitest.mutation.config.ts): a file
// must find it as a fresh one, or a mutant's result would depend on the file that ran before.
it("the shared servers: one holder at a time, others get their own; stop() gives it back as fresh", async () => {
  const teardown = await setup();
  const ca = await createTestCa();
  try {
    expect(process.env[SHARED_POSTGRES_ENV]).toBeTruthy();
    const first = await startPostgres();
    const second = await startPostgres();
    expect(second.dataDir).not.toBe(first.dataDir);
    await second.stop();
    const ownCa = await startPostgres({ ca });
    expect(ownCa.dataDir).not.toBe(first.dataDir);
    await ownCa.stop();

    await first.createRole("leftover", "pw");
    await first.createDatabase("leftover_db", "leftover");
    await first.psql("CREATE TABLE t (id int)", "leftover_db");
    await first.allowCidr("127.0.0.1/32");
    const session = new pg.Client({ host: "127.0.0.1", port: first.port, user: "leftover", password: "pw", database: "leftover_db" });
    session.on("error", () => undefined);
    await session.connect();
    await first.stop();

    const again = await startPostgres();
    try {
      expect(again.dataDir).toBe(first.dataDir);
      expect(again.ca?.caCertPem).toBe(first.ca?.caCertPem);
      expect(await again.psql("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database")).toBe("postgres,template0,template1");
      expect(await again.psql("SELECT string_agg(rolname, ',') FROM pg_roles WHERE rolname !~ '^pg_'")).toBe("postgres");
      expect(await readFile(again.hbaPath, "utf8")).toBe(CLOSED_HBA);
      await expect(session.query("SELECT 1")).rejects.toThrow();
      // The plain one is another server, without TLS.
      const plain = await startPostgres({ ssl: false });
      expect(plain.dataDir).not.toBe(again.dataDir);
      expect(await plain.psql("SHOW ssl")).toBe("off");
      expect(await again.psql("SHOW ssl")).toBe("on");
      await plain.stop();
    } finally {
      await again.stop();
      await session.end().catch(() => undefined);
    }
  } finally {
    await teardown();
    await ca.remove();
  }
  expect(process.env[SHARED_POSTGRES_ENV]).toBeUndefined();
});
