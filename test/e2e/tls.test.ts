import { copyFile, readdir } from "node:fs/promises";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakePostgres, startFakePostgres } from "../support/fake-postgres.js";
import { snapshot } from "../support/fixture.js";
import { runStep, type StepResult } from "../support/runner.js";
import { createTestCa, type TestCa } from "../support/test-ca.js";
import { describeStep, restoreInto, type Scenario, startWorld, type World } from "./world.js";

// TLS to PostgreSQL through the bundled action: the test server's certificate is signed by a test
// CA (for localhost and 127.0.0.1), and a fake server on loopback plays someone on the path.
describe("TLS to the database, end to end", () => {
  let w: World;
  let ca: TestCa;
  let otherCa: TestCa;
  let original: Record<string, string>;
  const fakes: FakePostgres[] = [];
  beforeAll(async () => {
    w = await startWorld();
    ca = w.pg.ca as TestCa;
    otherCa = await createTestCa({ commonName: "someone else's CA" });
    original = await snapshot(w.pg, w.dbName);
  });
  afterAll(async () => {
    await Promise.all(fakes.map((f) => f.close()));
    await otherCa?.remove();
    await w?.close();
  });

  async function expectSuccess(s: Scenario, inputs: Record<string, string>, env?: Record<string, string>): Promise<StepResult> {
    const main = await runStep(s.ctx, "main", { ...s.inputs, ...inputs }, env ? { env } : {});
    expect(main.code, describeStep(main)).toBe(0);
    expect(s.scalingo.rules).toEqual([]);
    // The CA file written for pg_dump is gone with the step.
    expect((await readdir(s.ctx.env.RUNNER_TEMP)).filter((f) => f.startsWith("scalingo-pg-dump-tls-"))).toEqual([]);
    return main;
  }

  let restores = 0;
  async function expectRestorable(main: StepResult) {
    const stored = w.artifacts.artifacts.get(main.outputs["artifact-name"]);
    const db = `restored_tls_${++restores}`;
    await restoreInto(w.pg, stored?.path as string, db);
    expect(await snapshot(w.pg, db)).toEqual(original);
  }

  it("verify-full with the CA as PEM text: the probe and pg_dump verify the server, and the dump restores", async () => {
    const s = await w.scenario();
    const main = await expectSuccess(s, { "ssl-mode": "verify-full", "ssl-root-cert": ca.caCertPem });
    expect(main.stdout).toMatch(/TLS to the database: sslmode verify-full, the server's certificate and host name are verified/);
    await expectRestorable(main);
  });

  it("verify-ca with the CA as a file in the workspace", async () => {
    const s = await w.scenario();
    await copyFile(ca.caCertPath, path.join(s.ctx.env.GITHUB_WORKSPACE, "db-ca.crt"));
    const main = await expectSuccess(s, { "ssl-mode": "verify-ca", "ssl-root-cert": "db-ca.crt" });
    expect(main.stdout).toMatch(/sslmode verify-ca, the server's certificate chain is verified/);
  });

  it("ssl-root-cert: system trusts the runner's roots (here SSL_CERT_FILE holds the test CA), with verify-full", async () => {
    const s = await w.scenario();
    const main = await expectSuccess(s, { "ssl-root-cert": "system" }, { SSL_CERT_FILE: ca.caCertPath });
    expect(main.stdout).toMatch(/sslmode verify-full, the server's certificate and host name are verified/);
    await expectRestorable(main);
  });

  it("the runner's PGSSLMODE and PGSSLROOTCERT are honoured by the probe and pg_dump", async () => {
    const s = await w.scenario();
    const main = await expectSuccess(s, {}, { PGSSLMODE: "verify-full", PGSSLROOTCERT: ca.caCertPath });
    expect(main.stdout).toMatch(/sslmode verify-full, the server's certificate and host name are verified/);
    const s2 = await w.scenario();
    const refused = await runStep(s2.ctx, "main", s2.inputs, { env: { PGSSLMODE: "verify-full", PGSSLROOTCERT: otherCa.caCertPath } });
    expect(refused.code, describeStep(refused)).toBe(1);
    expect(refused.errors.join("\n")).toMatch(/certificate did not verify, so no password was sent/);
  });

  it("refuses an ssl-mode weaker than the URI's, before the firewall opens", async () => {
    const s = await w.scenario({ sslmode: "verify-full" });
    const main = await runStep(s.ctx, "main", { ...s.inputs, "ssl-mode": "require", "ssl-root-cert": ca.caCertPem });
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(/`ssl-mode`: "require" is weaker than the database URI's sslmode "verify-full"/);
    expect(s.scalingo.requests.some((r) => r.path.includes("firewall_rules"))).toBe(false);
  });

  describe("someone on the path (a fake server on loopback that asks for the password in clear text)", () => {
    async function throughFake(certificate: { certPath: string; keyPath: string }, inputs: Record<string, string>) {
      const fake = await startFakePostgres(certificate);
      fakes.push(fake);
      const s = await w.scenario({ rewriteUri: (uri) => uri.replace(`@${w.pg.host}:${w.pg.port}/`, `@${fake.host}:${fake.port}/`) });
      const main = await runStep(s.ctx, "main", { ...s.inputs, ...inputs });
      expect(main.code, describeStep(main)).toBe(1);
      expect(fake.connections.length).toBeGreaterThan(0);
      expect(s.scalingo.rules).toEqual([]);
      return { fake, main };
    }

    it("control: a server the action verifies does receive the password (so the fake server sees one when it is sent)", async () => {
      const { fake, main } = await throughFake(await ca.issue(["127.0.0.1"]), { "ssl-mode": "verify-full", "ssl-root-cert": ca.caCertPem });
      expect(fake.connections.map((c) => c.password)).toContain(w.dbPassword);
      expect(main.errors.join("\n")).toMatch(/password authentication failed \(fake server\)/);
    });

    it("a certificate from another CA fails verify-full before any password is sent", async () => {
      const { fake, main } = await throughFake(await otherCa.issue(["127.0.0.1", "localhost"]), {
        "ssl-mode": "verify-full",
        "ssl-root-cert": ca.caCertPem,
      });
      expect(fake.connections.every((c) => c.tls && c.startup === undefined && c.password === undefined)).toBe(true);
      expect(main.errors.join("\n")).toMatch(/certificate did not verify, so no password was sent/);
    });

    it("a certificate of the right CA for another host name fails verify-full before any password is sent", async () => {
      const { fake, main } = await throughFake(await ca.issue(["db.example.test"]), { "ssl-mode": "verify-full", "ssl-root-cert": ca.caCertPem });
      expect(fake.connections.every((c) => c.startup === undefined && c.password === undefined)).toBe(true);
      expect(main.errors.join("\n")).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate/);
    });

    it("with the URI's unverified require (the default), a cleartext password request is refused, nothing sent", async () => {
      const { fake, main } = await throughFake(await otherCa.issue(["mitm.example"]), {});
      expect(fake.connections.some((c) => c.startup?.user === "shop_user")).toBe(true);
      expect(fake.connections.every((c) => c.password === undefined)).toBe(true);
      expect(main.errors.join("\n")).toMatch(/"!password" failed: the server asked for a cleartext password; the password was not sent/);
    });
  });
});
