import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tryConnect } from "../support/pg-client.js";
import { type PgServer, startPostgres } from "../support/postgres.js";
import { type ScalingoEmulator, type ScalingoEmulatorOptions, startScalingoEmulator } from "./scalingo.js";
import { call, login as loginAs } from "./scalingo-client.js";

const API_TOKEN = "tk-us-emulated-secret";
const DATABASE = "my-dedicated-db";

const login = (emu: ScalingoEmulator) => loginAs(emu, API_TOKEN, DATABASE);

describe("Scalingo emulator", () => {
  let pg: PgServer;
  let emu: ScalingoEmulator;
  let session: Awaited<ReturnType<typeof login>>;
  let uri: string;
  const extra: ScalingoEmulator[] = [];
  const options = (more: Partial<ScalingoEmulatorOptions> = {}): ScalingoEmulatorOptions => ({
    apiToken: API_TOKEN,
    databaseId: DATABASE,
    pg,
    dbName: "app_db",
    dbUser: "app_user",
    dbPassword: "p@ss:w/rd é",
    ...more,
  });
  const another = async (more: Partial<ScalingoEmulatorOptions>) => {
    const started = await startScalingoEmulator(options(more));
    extra.push(started);
    return started;
  };

  beforeAll(async () => {
    pg = await startPostgres();
    emu = await startScalingoEmulator(options());
    session = await login(emu);
    const variables = await call(`${emu.apiUrl}/v1/apps/${DATABASE}/variables?aliases=false`, { bearer: session.jwt });
    uri = variables.json.variables.find((v: { name: string }) => v.name === "SCALINGO_POSTGRESQL_URL").value;
  });
  afterAll(async () => {
    for (const e of [emu, ...extra]) await e?.close();
    await pg?.stop();
  });

  it("exchanges the API token (Basic, empty user) for a JWT with exp/iat/sub, and rejects others with 401", async () => {
    const [header, payload, signature] = session.jwt.split(".");
    expect(JSON.parse(Buffer.from(header, "base64url").toString())).toMatchObject({ typ: "JWT" });
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    expect(claims.exp - Math.floor(Date.now() / 1000)).toBeGreaterThan(3500);
    expect(claims).toHaveProperty("iat");
    expect(claims).toHaveProperty("sub");
    expect(signature.length).toBeGreaterThan(0);
    for (const basic of ["wrong-token", ""]) {
      const denied = await call(`${emu.authUrl}/v1/tokens/exchange`, { method: "POST", basic });
      expect(denied.status).toBe(401);
      expect(denied.json).toEqual({ error: expect.any(String) });
    }
    const namedUser = await fetch(`${emu.authUrl}/v1/tokens/exchange`, {
      method: "POST",
      headers: { Authorization: `Basic ${Buffer.from(`user:${API_TOKEN}`).toString("base64")}` },
    });
    expect(namedUser.status).toBe(401);
  });

  it("lists the regions, pointing at the emulated services", async () => {
    expect((await call(`${emu.authUrl}/v1/regions`)).status).toBe(401);
    const { json } = await call(`${emu.authUrl}/v1/regions`, { bearer: session.jwt });
    const names = json.regions.map((r: { name: string }) => r.name);
    expect(names).toEqual(expect.arrayContaining(["osc-fr1", "osc-secnum-fr1"]));
    expect(json.regions.find((r: { name: string }) => r.name === "osc-fr1")).toMatchObject({
      api: emu.apiUrl,
      database_api: emu.dbApiUrl,
      default: true,
      display_name: expect.any(String),
      ssh: expect.any(String),
      dashboard: expect.any(String),
    });
  });

  it("resolves the database's single addon, 404 for an unknown app", async () => {
    const { json } = await call(`${emu.apiUrl}/v1/apps/${DATABASE}/addons`, { bearer: session.jwt });
    expect(json.addons).toHaveLength(1);
    expect(json.addons[0]).toMatchObject({
      id: emu.addonId,
      status: "running",
      plan: { name: "postgresql-dr-starter-4096" },
      addon_provider: { id: "postgresql" },
    });
    const missing = await call(`${emu.apiUrl}/v1/apps/nope/addons`, { bearer: session.jwt });
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ resource: "app", error: "not found" });
    expect((await call(`${emu.apiUrl}/v1/apps/nope/variables`, { bearer: session.jwt })).status).toBe(404);
    expect((await call(`${emu.apiUrl}/v1/apps/${DATABASE}/addons/ad-nope/token`, { method: "POST", bearer: session.jwt })).status).toBe(404);
  });

  it("models the CLI's no-addon and multiple-addons cases", async () => {
    for (const addonCount of [0, 2]) {
      const e = await another({ addonCount });
      const jwt = (await call(`${e.authUrl}/v1/tokens/exchange`, { method: "POST", basic: API_TOKEN })).json.token;
      expect((await call(`${e.apiUrl}/v1/apps/${DATABASE}/addons`, { bearer: jwt })).json.addons).toHaveLength(addonCount);
    }
  });

  it("keeps credentials apart: JWT for auth/API, addon token for the database API", async () => {
    expect((await call(`${emu.dbApiUrl}/api/databases/${emu.addonId}`, { bearer: session.jwt })).status).toBe(401);
    expect((await call(`${emu.apiUrl}/v1/apps/${DATABASE}/addons`, { bearer: session.addonToken })).status).toBe(401);
    expect((await call(`${emu.apiUrl}/v1/apps/${DATABASE}/addons`, { bearer: API_TOKEN })).status).toBe(401);
    const unknown = await call(`${emu.dbApiUrl}/api/databases/ad-unknown/firewall_rules`, { bearer: session.addonToken });
    expect(unknown.status).toBe(404);
  });

  it("serves SCALINGO_POSTGRESQL_URL among other variables, with sslmode=require", async () => {
    const { json } = await call(`${emu.apiUrl}/v1/apps/${DATABASE}/variables`, { bearer: session.jwt });
    expect(json.variables.length).toBeGreaterThan(1);
    expect(json.variables[0].name).not.toBe("SCALINGO_POSTGRESQL_URL");
    const url = new URL(uri);
    expect(url.protocol).toBe("postgres:");
    expect([url.hostname, url.port, url.pathname, url.search]).toEqual(["127.0.0.1", String(pg.port), "/app_db", "?sslmode=require"]);
    expect([decodeURIComponent(url.username), decodeURIComponent(url.password)]).toEqual(["app_user", "p@ss:w/rd é"]);
  });

  it("describes the database with the real server's version", async () => {
    const { json, status } = await call(`${emu.dbApiUrl}/api/databases/${emu.addonId}`, { bearer: session.addonToken });
    expect(status).toBe(200);
    expect(json.database).toMatchObject({
      id: emu.addonId,
      app_name: DATABASE,
      status: "running",
      type_name: "postgresql",
      cluster: false,
      features: [],
      instances: [],
    });
    expect(json.database.readable_version).toBe(`${pg.version}.0`);
    const stopped = await another({ status: "stopped" });
    const s = await login(stopped);
    expect((await call(`${stopped.dbApiUrl}/api/databases/${stopped.addonId}`, { bearer: s.addonToken })).json.database.status).toBe("stopped");
  });

  it("opens the real database only while a rule exists", async () => {
    expect(await tryConnect(uri)).toMatch(/^refused: .*no pg_hba\.conf entry/);
    const added = await session.addRule("127.0.0.1/32", "scalingo-pg-dump test");
    expect(added.status).toBe(201);
    expect(added.json.rule).toEqual({
      id: expect.any(String),
      type: "custom_range",
      cidr: "127.0.0.1/32",
      label: "scalingo-pg-dump test",
      database_id: emu.addonId,
    });
    expect((await call(session.rulesUrl, { bearer: session.addonToken })).json).toEqual({ rules: [added.json.rule] });
    await emu.settle();
    expect(await tryConnect(uri)).toBe("ssl");
    const removed = await session.removeRule(added.json.rule.id);
    expect([removed.status, removed.text]).toEqual([204, ""]);
    await emu.settle();
    expect(await tryConnect(uri)).toMatch(/no pg_hba\.conf entry/);
    const again = await session.removeRule(added.json.rule.id);
    expect([again.status, again.json]).toEqual([404, { error: "not found" }]);
    expect(emu.rules).toEqual([]);
  });

  it("validates rules like the database API (IPv4 CIDR, duplicates, JSON)", async () => {
    for (const cidr of ["300.1.1.1/32", "1.2.3.4", "1.2.3.4/33", "::1/128", "01.2.3.4/32"]) {
      const bad = await session.addRule(cidr);
      expect([bad.status, bad.json]).toEqual([422, { errors: { cidr: ["is invalid"] } }]);
    }
    const first = await session.addRule("198.51.100.0/24");
    const duplicate = await session.addRule("198.51.100.0/24");
    expect([duplicate.status, duplicate.json]).toEqual([422, { errors: { cidr: ["has already been taken"] } }]);
    const notJson = await call(session.rulesUrl, { method: "POST", bearer: session.addonToken, body: "{oops" });
    expect([notJson.status, notJson.json]).toEqual([400, { error: expect.any(String) }]);
    expect((await session.removeRule(first.json.rule.id)).status).toBe(204);
    const ranges = await call(`${emu.dbApiUrl}/api/firewall/managed_ranges`, { bearer: session.addonToken });
    expect(ranges.json.ranges[0]).toEqual({ id: expect.any(String), name: expect.any(String) });
    expect((await call(`${emu.dbApiUrl}/api/nothing-here`, { bearer: session.addonToken })).status).toBe(404);
    await emu.settle();
  });

  it("answers 422 to the 31st rule", async () => {
    const ids: string[] = [];
    for (let i = 1; i <= 30; i++) ids.push((await session.addRule(`192.0.2.${i}/32`)).json.rule.id);
    const full = await session.addRule("192.0.2.31/32");
    expect([full.status, full.json]).toEqual([422, { errors: { cidr: ["limit of 30 firewall rules reached"] } }]);
    for (const id of ids) await session.removeRule(id);
    await emu.settle();
    expect(await readFile(pg.hbaPath, "utf8")).not.toMatch(/192\.0\.2\./);
  });

  it("delays the effect of a rule by ruleDelayMs, both ways", async () => {
    const slow = await another({ ruleDelayMs: 1_500 });
    const s = await login(slow);
    const started = Date.now();
    const { json } = await s.addRule("127.0.0.1/32");
    expect(await tryConnect(uri)).toMatch(/no pg_hba\.conf entry/);
    await slow.settle();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(await tryConnect(uri)).toBe("ssl");
    await s.removeRule(json.rule.id);
    expect(await tryConnect(uri)).toBe("ssl"); // a removal is not instant either
    await slow.settle();
    expect(await tryConnect(uri)).toMatch(/no pg_hba\.conf entry/);
  });

  it("gates each database's own role: another database's rule on the same server does not let this one in", async () => {
    // Ten databases of a matrix share one test server; on Scalingo each has its own firewall.
    const other = await another({ dbName: "other_db", dbUser: "other_user" });
    const s = await login(other);
    const variables = await call(`${other.apiUrl}/v1/apps/${DATABASE}/variables?aliases=false`, { bearer: s.jwt });
    const otherUri = variables.json.variables.find((v: { name: string }) => v.name === "SCALINGO_POSTGRESQL_URL").value;
    const { json } = await s.addRule("127.0.0.1/32");
    await other.settle();
    expect(await tryConnect(otherUri)).toBe("ssl");
    expect(await tryConnect(uri)).toMatch(/no pg_hba\.conf entry/);
    await s.removeRule(json.rule.id);
    await other.settle();
    expect(await tryConnect(otherUri)).toMatch(/no pg_hba\.conf entry/);
  });

  it("rejects expired JWTs and addon tokens with 401", async () => {
    const expiring = await another({ jwtLifetimeSeconds: 0, addonTokenLifetimeSeconds: 0 });
    const jwt = (await call(`${expiring.authUrl}/v1/tokens/exchange`, { method: "POST", basic: API_TOKEN })).json.token;
    expect((await call(`${expiring.authUrl}/v1/regions`, { bearer: jwt })).status).toBe(401);
    expect((await call(`${expiring.apiUrl}/v1/apps/${DATABASE}/addons`, { bearer: jwt })).json).toEqual({ error: expect.any(String) });
    const shortAddon = await another({ addonTokenLifetimeSeconds: 0 });
    const s = await login(shortAddon);
    expect((await call(s.rulesUrl, { bearer: s.addonToken })).status).toBe(401);
  });

  it("injects faults: status, reset, delay, times, and passThrough (the POST worked, its answer was lost)", async () => {
    emu.addFault({ service: "api", method: "GET", path: /\/addons$/, status: 503, body: '{"error":"maintenance"}', headers: { "Retry-After": "2" }, times: 2 });
    for (let i = 0; i < 2; i++) {
      const failed = await call(`${emu.apiUrl}/v1/apps/${DATABASE}/addons`, { bearer: session.jwt });
      expect([failed.status, failed.json, failed.headers.get("retry-after")]).toEqual([503, { error: "maintenance" }, "2"]);
    }
    expect((await call(`${emu.apiUrl}/v1/apps/${DATABASE}/addons`, { bearer: session.jwt })).status).toBe(200);

    emu.addFault({ service: "auth", path: /^\/v1\/regions$/, reset: true });
    await expect(call(`${emu.authUrl}/v1/regions`, { bearer: session.jwt })).rejects.toThrow();
    expect(emu.requests.at(-1)).toMatchObject({ service: "auth", path: "/v1/regions", status: 0 });

    emu.addFault({ service: "dbapi", method: "POST", path: /firewall_rules$/, passThrough: true, reset: true });
    await expect(session.addRule("127.0.0.1/32", "lost answer")).rejects.toThrow();
    expect(emu.rules).toMatchObject([{ cidr: "127.0.0.1/32", label: "lost answer" }]);
    await emu.settle();
    expect(await tryConnect(uri)).toBe("ssl");
    emu.addFault({ service: "dbapi", method: "DELETE", path: /firewall_rules\//, passThrough: true, status: 500 });
    expect((await session.removeRule(emu.rules[0].id)).status).toBe(500);
    expect(emu.rules).toEqual([]);
    await emu.settle();

    emu.addFault({ path: /^\/v1\/regions$/, delayMs: 300 });
    const started = Date.now();
    expect((await call(`${emu.authUrl}/v1/regions`, { bearer: session.jwt })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("rate-limits per user (every token of one API token) with Scalingo's plain-text 429 and no Retry-After", async () => {
    const limited = await another({ rateLimitPerMinute: 4 });
    const exchange = () => call(`${limited.authUrl}/v1/tokens/exchange`, { method: "POST", basic: API_TOKEN });
    const jwt = (await exchange()).json.token;
    const other = (await exchange()).json.token; // a second run's JWT: same user, same budget
    expect((await call(`${limited.authUrl}/v1/regions`, { bearer: jwt })).status).toBe(200);
    expect((await call(`${limited.authUrl}/v1/regions`, { bearer: other })).status).toBe(200);
    const refused = await call(`${limited.authUrl}/v1/regions`, { bearer: other });
    expect([refused.status, refused.text, refused.headers.get("retry-after")]).toEqual([429, "Retry later", null]);
    expect(refused.headers.get("content-type")).toMatch(/^text\/plain/);
    expect((await exchange()).status).toBe(429);
  });

  it("serves the database API in the regional form: user's bearer, wrapped body, same answers", async () => {
    const regional = await another({ databaseApi: "regional" });
    const s = await login(regional);
    const rulesUrl = `${regional.apiUrl}/api/databases/${regional.addonId}/firewall_rules`;
    expect((await call(s.rulesUrl, { bearer: s.addonToken })).status).toBe(404); // the old host no longer serves it
    expect((await call(rulesUrl, { bearer: s.addonToken })).status).toBe(401); // an addon token is not the user's
    const bare = await call(rulesUrl, { method: "POST", bearer: s.jwt, body: JSON.stringify({ type: "custom_range", cidr: "192.0.2.1/32" }) });
    expect(bare.status).toBe(400);
    const rule = { type: "custom_range", cidr: "192.0.2.1/32", label: "office" };
    const added = await call(rulesUrl, { method: "POST", bearer: s.jwt, body: JSON.stringify({ firewall_rule: rule }) });
    expect([added.status, added.json.rule]).toEqual([201, expect.objectContaining(rule)]);
    expect((await call(rulesUrl, { bearer: s.jwt })).json).toEqual({ rules: [expect.objectContaining(rule)] });
    expect((await call(`${rulesUrl}/${added.json.rule.id}`, { method: "DELETE", bearer: s.jwt })).status).toBe(204);
    expect((await call(`${regional.apiUrl}/api/databases/${regional.addonId}`, { bearer: s.jwt })).json.database.id).toBe(regional.addonId);
    await regional.settle();
  });

  it("can answer an expired addon token with another status than 401", async () => {
    const expiring = await another({ addonTokenLifetimeSeconds: 1, expiredAddonTokenStatus: 403, databaseApi: "legacy" });
    const s = await login(expiring);
    await new Promise((r) => setTimeout(r, 1100));
    const late = await call(s.rulesUrl, { bearer: s.addonToken });
    expect([late.status, late.json]).toEqual([403, { error: "token expired" }]);
  });

  it("logs requests with their credentials; seeded rules gate at once; close() removes its pg_hba lines", async () => {
    expect(emu.requests.find((r) => r.path === "/v1/tokens/exchange" && r.status === 200)?.authorization).toMatch(/^Basic /);
    const seeded = await another({});
    await seeded.seedRule({ type: "custom_range", cidr: "127.0.0.1/32", label: "office" });
    await seeded.seedRule({ type: "managed_range", range_id: "scalingo-osc-fr1" });
    expect(await tryConnect(uri)).toBe("ssl");
    await seeded.close();
    expect(await tryConnect(uri)).toMatch(/no pg_hba\.conf entry/);
    expect(await readFile(pg.hbaPath, "utf8")).toBe("local all all trust\n");
  });
});
