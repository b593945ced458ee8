import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { discoverTarget } from "../src/backup/discover.js";
import { ActionError, errorMessage } from "../src/errors.js";
import { Teardown } from "../src/runner/teardown.js";
import { type ScalingoEmulator, startScalingoEmulator } from "./emulators/scalingo.js";
import { type PgServer, startPostgres } from "./support/postgres.js";
import { createTestCa, type TestCa } from "./support/test-ca.js";

const API_TOKEN = "tk-us-discover";
const DATABASE = "discover-db";
// Nothing listens on port 1 of loopback: the lookup fails at once (connection refused).
const DEAD_LOOKUP = "http://127.0.0.1:1/";
const READ_DELAY_MS = 400;

// Both actions' first contact (src/backup/discover.ts): the Scalingo read and the IP lookup run at
// once. The caller's teardown runs as soon as discoverTarget throws, so discoverTarget must not
// throw while the Scalingo read is still acquiring: its TLS folder would be written after the
// teardown and stay behind.
describe("discoverTarget", () => {
  let pg: PgServer;
  let emu: ScalingoEmulator;
  let ca: TestCa;
  let runnerTemp: string;

  beforeAll(async () => {
    pg = await startPostgres();
    ca = await createTestCa({ commonName: "discover test CA" });
    emu = await startScalingoEmulator({ apiToken: API_TOKEN, databaseId: DATABASE, pg, dbName: "discover_db", dbUser: "discover_user", dbPassword: "pw" });
    runnerTemp = await mkdtemp(path.join(tmpdir(), "discover-runner-temp-"));
  });
  afterAll(async () => {
    await emu?.close();
    await pg?.stop();
    await ca?.remove();
    if (runnerTemp) await rm(runnerTemp, { recursive: true, force: true });
  });

  async function discoverWhileLookupFails() {
    const teardown = new Teardown(() => undefined);
    const report = { durationsMs: {} } as { durationsMs: Record<string, number>; failedPhase?: string };
    const config = {
      authUrl: emu.authUrl,
      apiToken: API_TOKEN,
      region: "osc-fr1",
      database: DATABASE,
      sslMode: "verify-full" as const,
      // A PEM in the input: the read writes it to a private TLS folder under RUNNER_TEMP.
      sslRootCert: ca.caCertPem,
      ipLookupUrls: [DEAD_LOOKUP],
      ipLookupUrlsCustom: true,
      ipLookupPolicy: "first" as const,
    };
    const deps = {
      log: { info: () => undefined, warning: () => undefined, debug: () => undefined },
      setSecret: () => undefined,
      env: { RUNNER_TEMP: runnerTemp },
    };
    const outcome = await discoverTarget(config as Parameters<typeof discoverTarget>[0], report as never, deps, { teardown }).then(
      () => undefined,
      (error: unknown) => error,
    );
    // What both callers do the moment discoverTarget throws.
    await teardown.run();
    return { outcome, report };
  }

  const tlsFolders = async () => (await readdir(runnerTemp)).filter((name) => name.startsWith("scalingo-pg-dump-tls-"));

  it("an IP lookup that fails at once waits for the Scalingo read, so the teardown removes the TLS folder it wrote", async () => {
    // The connection URI answers late: the TLS folder is written only after it.
    emu.addFault({ path: /\/variables$/, delayMs: READ_DELAY_MS, passThrough: true });
    const { outcome, report } = await discoverWhileLookupFails();
    expect(errorMessage(outcome)).toMatch(/Could not detect the runner's public IPv4 address/);
    expect(report.failedPhase).toBe("ip-lookup");
    // Long past the delayed answer: a read that outlived discoverTarget has written its folder by now.
    await sleep(READ_DELAY_MS + 1000);
    expect(await tlsFolders()).toEqual([]);
  });

  it("both fail: the Scalingo read's error is the one thrown, and the report names its phase, not the lookup's that failed first", async () => {
    emu.addFault({ path: /\/variables$/, delayMs: READ_DELAY_MS, status: 404, body: JSON.stringify({ error: "not found" }) });
    const { outcome, report } = await discoverWhileLookupFails();
    expect(outcome).toBeInstanceOf(ActionError);
    expect((outcome as ActionError).phase).toBe("scalingo");
    expect(report.failedPhase).toBe("scalingo");
    expect(await tlsFolders()).toEqual([]);
  });
});
