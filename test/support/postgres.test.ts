import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedFixture, snapshot } from "./fixture.js";
import { tryConnect } from "./pg-client.js";
import { type PgServer, startPostgres } from "./postgres.js";
import { createTestCa } from "./test-ca.js";

const run = promisify(execFile);
const OWNER = "fixture_owner";
const PASSWORD = "s3cret 'quoted' pässword";

describe("startPostgres", () => {
  let pg: PgServer;
  const uri = (database = "postgres", sslmode = "require") =>
    `postgres://${OWNER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${pg.port}/${database}?sslmode=${sslmode}`;

  beforeAll(async () => {
    pg = await startPostgres();
    await pg.createRole(OWNER, PASSWORD);
  });
  afterAll(() => pg?.stop());

  it("starts a server of the newest installed major, listening on 127.0.0.1 only", async () => {
    expect(pg.version).toMatch(/^\d+\.\d+$/);
    expect(pg.major).toBe(Number(pg.version.split(".")[0]));
    expect(pg.binDir).toBe(`/usr/lib/postgresql/${pg.major}/bin`);
    expect(existsSync(`${pg.binDir}/pg_dump`)).toBe(true);
    expect(await pg.psql("SHOW listen_addresses")).toBe("127.0.0.1");
    expect(await pg.psql("SHOW port")).toBe(String(pg.port));
    expect(await pg.psql("SHOW fsync")).toBe("off");
    expect(await pg.psql("SHOW server_encoding")).toBe("UTF8");
  });

  it("runs as the postgres OS user when started by root", async () => {
    if (process.getuid?.() !== 0) return;
    const { stdout } = await run("id", ["-u", "postgres"]);
    expect((await stat(pg.dataDir)).uid).toBe(Number(stdout.trim()));
  });

  it("refuses TCP until allowCidr, accepts TLS after, refuses again after denyCidr", async () => {
    expect(await tryConnect(uri())).toMatch(/^refused: .*no pg_hba\.conf entry/);
    await pg.allowCidr("127.0.0.1/32");
    // allowCidr resolves once the server applies the change: no retry needed.
    expect(await tryConnect(uri())).toBe("ssl");
    expect(await tryConnect(uri("postgres", "disable"))).toBe("plain");
    await pg.denyCidr("127.0.0.1/32");
    expect(await tryConnect(uri())).toMatch(/no pg_hba\.conf entry/);
  });

  it("serves a certificate of its test CA for localhost and 127.0.0.1, which libpq verifies", async () => {
    expect(pg.ca?.caCertPem).toMatch(/BEGIN CERTIFICATE/);
    await pg.allowCidr("127.0.0.1/32");
    const psql = (host: string, rootCert: string) =>
      run(`${pg.binDir}/psql`, ["-X", "-At", "-c", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"], {
        env: {
          PATH: process.env.PATH,
          PGHOST: host,
          PGPORT: String(pg.port),
          PGUSER: OWNER,
          PGPASSWORD: PASSWORD,
          PGDATABASE: "postgres",
          PGSSLMODE: "verify-full",
          PGSSLROOTCERT: rootCert,
        },
      }).then(
        ({ stdout }) => stdout.trim(),
        (error: Error) => error.message,
      );
    const other = await createTestCa();
    try {
      expect(await psql("localhost", pg.ca?.caCertPath ?? "")).toBe("t");
      expect(await psql("127.0.0.1", pg.ca?.caCertPath ?? "")).toBe("t");
      expect(await psql("127.0.0.1", other.caCertPath)).toMatch(/certificate verify failed/);
    } finally {
      await other.remove();
      await pg.denyCidr("127.0.0.1/32");
    }
  });

  it("checks the password over TCP", async () => {
    await pg.allowCidr("127.0.0.0/8");
    expect(await tryConnect(uri().replace(encodeURIComponent(PASSWORD), "wrong"))).toMatch(/password authentication failed/);
    await pg.denyCidr("127.0.0.0/8");
  });

  it("keeps concurrent pg_hba edits", async () => {
    const cidrs = Array.from({ length: 8 }, (_, i) => `10.9.${i}.0/24`);
    await Promise.all(cidrs.map((c) => pg.allowCidr(c)));
    const rules = () => pg.psql("SELECT string_agg(address || '/' || netmask, ',') FROM pg_hba_file_rules WHERE type = 'host'");
    expect((await rules()).split(",")).toHaveLength(8);
    await Promise.all(cidrs.map((c) => pg.denyCidr(c)));
    expect(await rules()).toBe("");
    for (const bad of ["not a cidr", "999.1.1.1/32", "10.0.0.0/33", "10.0.0.0"]) await expect(pg.allowCidr(bad)).rejects.toThrow(/not a CIDR/);
  });

  describe("fixture", () => {
    const dumpFile = () => `${pg.dataDir}/../fixture.dump`;

    beforeAll(async () => {
      await pg.createDatabase("source", OWNER);
      await seedFixture(pg, "source", OWNER);
      await pg.createDatabase("restored");
      // As the action does: pg_dump over TCP + TLS as the owner, connection in PG* variables.
      await pg.allowCidr("127.0.0.1/32");
      const env = { ...process.env, PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: OWNER, PGPASSWORD: PASSWORD, PGDATABASE: "source", PGSSLMODE: "require" };
      await run(`${pg.binDir}/pg_dump`, ["--format=custom", "--file", dumpFile()], { env });
      await pg.denyCidr("127.0.0.1/32");
      await run(`${pg.binDir}/pg_restore`, [
        "--exit-on-error",
        "--host",
        pg.socketDir,
        "--port",
        String(pg.port),
        "--username",
        "postgres",
        "--dbname",
        "restored",
        dumpFile(),
      ]);
    });

    it("covers every kind of object, owned by the owner", async () => {
      const snap = await snapshot(pg, "source");
      expect(Object.keys(snap)).toEqual(
        expect.arrayContaining([
          "table:public.customers",
          "table:public.orders",
          "table:public.blobs",
          "table:public.documents",
          "table:app.events",
          "sequence:public.invoice_number_seq",
          "lo:public.documents.content",
          "lo:count",
          "view:app.customer_totals",
        ]),
      );
      expect(snap["sequence:public.invoice_number_seq"]).toBe("4242");
      expect(Number(snap["table:public.customers"].split(" ")[0])).toBeGreaterThanOrEqual(1000);
      expect(await pg.psql("SELECT count(*) FROM public.customers WHERE name LIKE 'Zoë%' OR name LIKE '東京%'", "source")).not.toBe("0");
      expect(await pg.psql("SELECT length(data) || ' ' || get_byte(data, 0) || ' ' || get_byte(data, 255) FROM public.blobs WHERE id = 0", "source")).toBe(
        "256 0 255",
      );
      expect(
        await pg.psql(
          "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace WHERE nspname IN ('public', 'app')",
          "source",
        ),
      ).toBe(OWNER);
      expect(await pg.psql("SELECT DISTINCT pg_get_userbyid(lomowner) FROM pg_largeobject_metadata", "source")).toBe(OWNER);
    });

    it("gives equal snapshots for a database and its pg_dump | pg_restore copy", async () => {
      expect(await snapshot(pg, "restored")).toEqual(await snapshot(pg, "source"));
    });

    it("changes when one row, or one byte of a large object, changes", async () => {
      const before = await snapshot(pg, "restored");
      await pg.psql("UPDATE public.orders SET meta = meta || '{\"n\": -1}' WHERE id = 1234", "restored");
      const afterRow = await snapshot(pg, "restored");
      expect(afterRow).not.toEqual(before);
      expect(Object.keys(afterRow).filter((k) => afterRow[k] !== before[k])).toEqual(["table:public.orders"]);
      await pg.psql("SELECT lo_put(content, 10, '\\x00') FROM public.documents WHERE id = 2", "restored");
      const afterLo = await snapshot(pg, "restored");
      expect(Object.keys(afterLo).filter((k) => afterLo[k] !== afterRow[k])).toEqual(["lo:public.documents.content"]);
    });
  });
});

describe("startPostgres without TLS", () => {
  it("serves plain connections, refuses sslmode=require, and stops twice safely", async () => {
    const pg = await startPostgres({ ssl: false });
    await pg.createRole("plain_user", "pw");
    await pg.allowCidr("127.0.0.1/32");
    const uri = `postgres://plain_user:pw@127.0.0.1:${pg.port}/postgres`;
    expect(await tryConnect(`${uri}?sslmode=disable`)).toBe("plain");
    expect(await tryConnect(`${uri}?sslmode=require`)).toMatch(/^refused: .*SSL/i);
    await Promise.all([pg.stop(), pg.stop()]);
    await pg.stop();
    expect(existsSync(pg.dataDir)).toBe(false);
    expect(await tryConnect(`${uri}?sslmode=disable`)).toMatch(/^refused: .*ECONNREFUSED/);
  });
});
