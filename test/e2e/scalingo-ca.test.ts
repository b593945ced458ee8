import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakePostgres, startFakePostgres } from "../support/fake-postgres.js";
import { runStep } from "../support/runner.js";
import { createTestCa, type TestCa } from "../support/test-ca.js";
import { describeStep, startWorld, type World } from "./world.js";

const caCalls = (requests: { service: string; method: string; path: string; authorization?: string }[]) =>
  requests.filter((r) => r.path === "/api/ca_certificate").map((r) => `${r.service} ${r.method} ${r.authorization ? "with credentials" : "public"}`);

// `ssl-root-cert: scalingo`: the region's database CA, from `{database_api}/api/ca_certificate`
// (the emulator serves the test server's CA there by default), and verify-full with it.
describe("ssl-root-cert: scalingo", () => {
  let w: World;
  let ca: TestCa;
  let otherCa: TestCa;
  const fakes: FakePostgres[] = [];
  beforeAll(async () => {
    w = await startWorld();
    ca = w.pg.ca as TestCa;
    otherCa = await createTestCa({ commonName: "not Scalingo's CA" });
  });
  afterAll(async () => {
    await Promise.all(fakes.map((f) => f.close()));
    await otherCa?.remove();
    await w?.close();
  });

  it("downloads the region's CA from the regions list's database API host and verifies the server's certificate and host name", async () => {
    const s = await w.scenario();
    const main = await runStep(s.ctx, "main", { ...s.inputs, upload: "false", "ssl-root-cert": "scalingo" });
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.stdout).toMatch(/TLS to the database: sslmode verify-full, the server's certificate and host name are verified/);
    expect(caCalls(s.scalingo.requests)).toEqual(["dbapi GET public"]);
    expect(s.scalingo.rules).toEqual([]);
  });

  it("a database certificate not signed by that CA fails before any password is sent, and says so", async () => {
    const fake = await startFakePostgres(await ca.issue(["127.0.0.1", "localhost"]));
    fakes.push(fake);
    const s = await w.scenario({
      caCertificate: otherCa.caCertPem,
      rewriteUri: (uri) => uri.replace(`@${w.pg.host}:${w.pg.port}/`, `@${fake.host}:${fake.port}/`),
    });
    const main = await runStep(s.ctx, "main", { ...s.inputs, upload: "false", "ssl-root-cert": "scalingo" });
    expect(main.code, describeStep(main)).toBe(1);
    expect(fake.connections.length).toBeGreaterThan(0);
    expect(fake.connections.every((c) => c.startup === undefined && c.password === undefined)).toBe(true);
    expect(main.errors.join("\n")).toMatch(
      /did not verify against Scalingo's database CA for region osc-fr1 \(http:\/\/127\.0\.0\.1:\d+\/api\/ca_certificate\): it is not signed by it, so no password was sent/,
    );
    expect(s.scalingo.rules).toEqual([]);
  });

  it("a CA endpoint that answers no certificate fails before the firewall opens", async () => {
    const s = await w.scenario({ caCertificate: null });
    const main = await runStep(s.ctx, "main", { ...s.inputs, upload: "false", "ssl-root-cert": "scalingo" });
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(/Could not download Scalingo's database CA from http:\/\/127\.0\.0\.1:\d+\/api\/ca_certificate \(HTTP 404/);
    expect(s.scalingo.requests.some((r) => r.path.includes("firewall_rules"))).toBe(false);
  });
});
