import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connection, pgClient, pgClientConfig } from "../src/postgres/connection.js";
import { type FakePostgres, startFakePostgres } from "./support/fake-postgres.js";
import { createTestCa, type TestCa } from "./support/test-ca.js";

const conn = { host: "db.example", port: 5432, user: "u", password: "p", database: "d", sslmode: "require" };

describe("the action's own connections to production", () => {
  it("use TCP keepalive: a black-holed session fails instead of keeping the rule open", () => {
    expect(pgClientConfig(conn, 15_000)).toMatchObject({ keepAlive: true, keepAliveInitialDelayMillis: 60_000 });
  });
  it("bound a query when the caller says so (the probe), and only then (the row counts may take long)", () => {
    expect(pgClientConfig(conn, 15_000, false, 15_000).query_timeout).toBe(15_000);
    expect(pgClientConfig(conn, 15_000).query_timeout).toBeUndefined();
  });
});

// Someone on the path: a server on loopback that accepts TLS with the certificate it is given and
// asks for the password in clear text. The question each case asks: did the password reach it?
describe("the pg client verifies the server as libpq does, before any password is sent", () => {
  const PASSWORD = "s3cret-for-the-fake";
  let ca: TestCa;
  let otherCa: TestCa;
  const fakes: FakePostgres[] = [];
  beforeAll(async () => {
    [ca, otherCa] = await Promise.all([createTestCa(), createTestCa({ commonName: "someone else's CA" })]);
  });
  afterAll(async () => {
    for (const fake of fakes) await fake.close();
    await Promise.all([ca?.remove(), otherCa?.remove()]);
  });

  /** Connects to a fake server presenting a certificate for `names`; resolves the error and what the fake saw. */
  async function connectThrough(names: string[], settings: Partial<Connection>, issuer = () => ca) {
    const fake = await startFakePostgres(await issuer().issue(names));
    fakes.push(fake);
    const c: Connection = { host: fake.host, port: fake.port, user: "shop_user", password: PASSWORD, database: "shop", ...settings };
    const client = pgClient(c, 15_000);
    client.on("error", () => undefined);
    const error: Error = await client.connect().then(
      () => new Error("connected"),
      (e: Error) => e,
    );
    await client.end().catch(() => undefined);
    return { error, seen: fake.connections };
  }

  it("control: a certificate of the trusted CA for this address gets the password (so the fake does see one when it is sent)", async () => {
    const { error, seen } = await connectThrough(["127.0.0.1"], { sslmode: "verify-full", sslrootcert: ca.caCertPath });
    expect(error.message).toMatch(/password authentication failed \(fake server\)/);
    expect(seen.map((s) => s.password)).toEqual([PASSWORD]);
  });

  it("verify-full: a certificate of the trusted CA for another host name is refused, the password never sent", async () => {
    const { error, seen } = await connectThrough(["db.example.test"], { sslmode: "verify-full", sslrootcert: ca.caCertPath });
    expect(`${(error as NodeJS.ErrnoException).code} ${error.message}`).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate/);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => s.tls && s.startup === undefined && s.password === undefined)).toBe(true);
  });

  it("verify-ca: the same certificate passes (libpq checks the chain only), so the host check is verify-full's alone", async () => {
    const { seen } = await connectThrough(["db.example.test"], { sslmode: "verify-ca", sslrootcert: ca.caCertPath });
    expect(seen.map((s) => s.password)).toEqual([PASSWORD]);
  });

  it("require with a root certificate checks the chain (as libpq): another CA's certificate is refused, nothing sent", async () => {
    for (const sslmode of ["require", "verify-ca", "verify-full"]) {
      const { error, seen } = await connectThrough(["127.0.0.1"], { sslmode, sslrootcert: ca.caCertPath }, () => otherCa);
      expect(error.message, sslmode).not.toMatch(/fake server/);
      expect(
        seen.every((s) => s.password === undefined && s.startup === undefined),
        sslmode,
      ).toBe(true);
    }
  });
});
