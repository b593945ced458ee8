// A self-hosted runner behind a proxy: HTTPS_PROXY set, the Scalingo services and the IP lookup
// reachable only through it. Their host names (*.scalingo.test) resolve nowhere but in the proxy,
// over TLS with certificates of a test CA the step trusts through NODE_EXTRA_CA_CERTS: a call that
// skipped the proxy could not even find its host. Loopback (the artifact service) stays direct, as
// @actions/http-client decides.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IpEmulator, startIpEmulator } from "../emulators/public-ip.js";
import type { TlsFront } from "../emulators/tls-front.js";
import { startProxy, type TestProxy } from "../support/proxy.js";
import { runStep } from "../support/runner.js";
import { createTestCa, type TestCa } from "../support/test-ca.js";
import { describeStep, startWorld, type World } from "./world.js";

const DOMAIN = "scalingo.test";

describe("behind an HTTPS proxy", () => {
  let w: World;
  let ca: TestCa;
  let tls: TlsFront;
  let proxy: TestProxy;
  let ip: IpEmulator;
  beforeAll(async () => {
    [w, ca] = await Promise.all([startWorld(), createTestCa()]);
    const cert = await ca.issue(["auth", "api", "dbapi", "ip"].map((s) => `${s}.${DOMAIN}`));
    tls = { cert: await readFile(cert.certPath, "utf8"), key: await readFile(cert.keyPath, "utf8"), domain: DOMAIN };
    proxy = await startProxy((host) => host.endsWith(`.${DOMAIN}`));
    ip = await startIpEmulator({}, tls);
  }, 120_000);
  afterAll(async () => {
    await Promise.allSettled([proxy?.close(), ip?.close(), w?.close()]);
    await ca?.remove();
  });

  it("sends every Scalingo and IP lookup call through the proxy, and the backup succeeds", async () => {
    // The old database API form, so that all three Scalingo hosts are contacted.
    const s = await w.scenario({ tls, databaseApi: "legacy" });
    expect(s.inputs["auth-url"]).toMatch(/^https:\/\/auth\.scalingo\.test:\d+$/);
    const env = { HTTPS_PROXY: proxy.url, NODE_EXTRA_CA_CERTS: ca.caCertPath };
    // ssl-root-cert: scalingo: the region's CA is downloaded over verified HTTPS, through the proxy too.
    const main = await runStep(s.ctx, "main", { ...s.inputs, "ip-lookup-urls": ip.url, "ssl-root-cert": "scalingo" }, { env });
    expect(main.code, describeStep(main)).toBe(0);
    expect(w.artifacts.artifacts.get(main.outputs["artifact-name"] as string)?.sha256).toBe(main.outputs["dump-sha256"]);
    expect(s.scalingo.rules).toEqual([]);

    // Each service was reached, by its name, through a tunnel of the proxy; nothing else was.
    const services = [s.scalingo.authUrl, s.scalingo.apiUrl, s.scalingo.dbApiUrl, ip.url].map((url) => new URL(url).host);
    const tunnels = new Set(proxy.records.map((r) => `${r.method} ${r.target.replace(/:\d+$/, "")}`));
    expect([...tunnels].sort()).toEqual(["auth", "api", "dbapi", "ip"].map((x) => `CONNECT ${x}.${DOMAIN}`).sort());
    for (const host of services) expect(proxy.records.map((r) => r.target)).toContain(host);
    expect(s.scalingo.requests.map((r) => r.path)).toEqual(expect.arrayContaining([expect.stringMatching(/firewall_rules/)]));
    expect(ip.hits).toBeGreaterThan(0);
    expect(s.scalingo.requests.filter((r) => r.path === "/api/ca_certificate").map((r) => `${r.service} ${r.status}`)).toEqual(["dbapi 200"]);
    expect(main.stdout).toMatch(/sslmode verify-full, the server's certificate and host name are verified/);
  }, 120_000);
});
