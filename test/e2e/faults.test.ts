import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startIpEmulator } from "../emulators/public-ip.js";
import { allWrittenText, runStep, type StepResult } from "../support/runner.js";
import { describeStep, leakedSecrets, type Scenario, startWorld, type World } from "./world.js";

// A nightly backup runs unattended for years: each service it touches fails now and then.
describe("faults of the services", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.close());

  /** Every scenario, whatever its outcome, must leave no rule, no stray file and no secret. */
  async function expectClean(s: Scenario, ...steps: StepResult[]) {
    expect(s.scalingo.rules.filter((r) => r.label?.startsWith("scalingo-pg-dump "))).toEqual([]);
    expect(leakedSecrets(await allWrittenText(s.ctx, steps), s.secrets())).toEqual([]);
  }

  async function expectFailure(s: Scenario, inputs: Record<string, string>, message: RegExp): Promise<StepResult> {
    const main = await runStep(s.ctx, "main", inputs);
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(message);
    // Main itself closes what it opened; post is only the safety net.
    expect(s.scalingo.rules.filter((r) => r.id === main.state["rule-id"])).toEqual([]);
    const post = await runStep(s.ctx, "post", inputs, { state: main.state });
    expect(post.code, describeStep(post)).toBe(0);
    expect(await s.leftovers()).toEqual([]);
    await expectClean(s, main, post);
    return main;
  }

  /** What the log ends with: the user reads it last. */
  const lastLogLine = (r: StepResult) => r.stdout.trimEnd().split("\n").at(-1);

  it("retries 5xx, 429 with Retry-After, resets, slow answers and a lost DELETE answer, and succeeds", async () => {
    const s = await w.scenario();
    const f = s.scalingo.addFault;
    f({ service: "auth", method: "POST", path: /^\/v1\/tokens\/exchange$/, status: 503, times: 2 });
    f({
      service: "auth",
      method: "GET",
      path: /^\/v1\/regions$/,
      status: 429,
      body: "Retry later",
      headers: { "Retry-After": "1", "Content-Type": "text/plain" },
    });
    f({ service: "api", method: "GET", path: /\/addons$/, reset: true });
    f({ service: "api", method: "GET", path: /\/variables$/, delayMs: 1500 });
    f({ method: "GET", path: /\/firewall_rules$/, status: 502 });
    f({ method: "DELETE", path: /\/firewall_rules\//, status: 500, passThrough: true });
    const started = Date.now();
    const main = await runStep(s.ctx, "main", s.inputs);
    expect(main.code, describeStep(main)).toBe(0);
    const seen = s.scalingo.requests.map((r) => `${r.method} ${r.path.replace(/ad-[\w-]+|[0-9a-f-]{36}/g, "ID")} ${r.status}`);
    expect(seen.filter((r) => r.startsWith("POST /v1/tokens/exchange")).slice(0, 3)).toEqual([
      "POST /v1/tokens/exchange 503",
      "POST /v1/tokens/exchange 503",
      "POST /v1/tokens/exchange 200",
    ]);
    expect(seen).toContain("GET /v1/regions 429");
    expect(seen).toContain("GET /v1/apps/shop-db-123/addons 0");
    expect(seen).toContain("GET /api/databases/ID/firewall_rules 502");
    // The first DELETE worked but its answer was lost: the retry finds it gone (404), which is success.
    expect(seen.filter((r) => r.startsWith("DELETE"))).toEqual([
      "DELETE /api/databases/ID/firewall_rules/ID 500",
      "DELETE /api/databases/ID/firewall_rules/ID 404",
    ]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // Retry-After was honoured
    await expectClean(s, main);
  });

  it("adopts the rule whose creation answer was lost instead of adding a second one", async () => {
    const s = await w.scenario();
    s.scalingo.addFault({ method: "POST", path: /\/firewall_rules$/, passThrough: true, reset: true });
    const main = await runStep(s.ctx, "main", s.inputs);
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.stdout).toMatch(/created although its answer was lost .*adopting it/);
    expect(s.scalingo.requests.filter((r) => r.method === "POST" && r.path.endsWith("/firewall_rules"))).toHaveLength(1);
    expect(s.scalingo.requests.filter((r) => r.method === "DELETE").map((r) => r.status)).toEqual([204]);
    await expectClean(s, main);
  });

  it("does not retry a 4xx: an unknown database fails at once, naming the input", async () => {
    const s = await w.scenario();
    const main = await expectFailure(s, { ...s.inputs, database: "no-such-db" }, /Database "no-such-db" not found in region osc-fr1.*Check `database`/);
    // Where the ID is, and that the CLI lists databases only with its preview features.
    expect(main.errors.join("\n")).toContain("SCALINGO_PREVIEW_FEATURES=true scalingo databases");
    expect(main.summary).toMatch(/\*\*What to do:\*\* Check `database` and `region`/);
    expect(lastLogLine(main)).toMatch(/^What to do: Check `database` and `region`.*name in the Scalingo dashboard/);
    expect(s.scalingo.requests.filter((r) => r.path.endsWith("/addons"))).toHaveLength(1);
    expect(s.scalingo.requests.some((r) => r.path.includes("firewall"))).toBe(false);
  });

  it("a wrong token: a clear error and nothing created", async () => {
    const s = await w.scenario();
    const main = await expectFailure(s, { ...s.inputs, "api-token": "tk-us-wrong" }, /Scalingo refused the API token.*Check the secret passed as `api-token`/);
    expect(lastLogLine(main)).toMatch(/^What to do: Scalingo refused the API token: create a new one/);
    expect(s.scalingo.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual(["POST /v1/tokens/exchange 401"]);
  });

  it("a proxy page instead of JSON is reported, not retried", async () => {
    const s = await w.scenario();
    s.scalingo.addFault({
      service: "auth",
      method: "GET",
      path: /^\/v1\/regions$/,
      status: 200,
      body: "<html>captive portal</html>",
      headers: { "Content-Type": "text/html" },
    });
    await expectFailure(s, s.inputs, /GET \/v1\/regions answered 200 with a body that is not JSON \(request id [\w-]+\)/);
    expect(s.scalingo.requests.filter((r) => r.path === "/v1/regions")).toHaveLength(1);
  });

  it("an unknown region lists the known ones", async () => {
    const s = await w.scenario();
    await expectFailure(s, { ...s.inputs, region: "osc-nowhere" }, /Region "osc-nowhere" not found. Set `region` to one of: osc-fr1, osc-secnum-fr1/);
  });

  it("an application instead of a dedicated database is refused", async () => {
    const s = await w.scenario({ addonCount: 2 });
    await expectFailure(s, s.inputs, /Multiple addons found for "shop-db-123": it may be an application/);
  });

  it("a stopped database is reported before any rule is added", async () => {
    const s = await w.scenario({ status: "stopped" });
    const main = await expectFailure(s, s.inputs, /is stopped: start it/);
    // The hint is about this error: a stopped database, not a bad token.
    expect(main.summary).toMatch(/Failed during: Scalingo API\.\*\* Database shop-db-123 is stopped/);
    expect(main.summary).not.toContain("api-token");
    expect(lastLogLine(main)).toBe("What to do: Start the database in the Scalingo dashboard, then run the workflow again.");
    expect(s.scalingo.requests.some((r) => r.method === "POST" && r.path.includes("firewall"))).toBe(false);
  });

  it("a full firewall (422) is reported with what to do", async () => {
    const s = await w.scenario({ maxRules: 1 });
    await s.scalingo.seedRule({ type: "custom_range", cidr: "192.0.2.0/24", label: "office" });
    await expectFailure(s, s.inputs, /refused the firewall rule for 127\.0\.0\.1\/32: .*422.*at most 30 rules: remove unused ones/);
    expect(s.scalingo.rules.map((r) => r.label)).toEqual(["office"]);
  });

  it("renews expired tokens, so removing the rule after a long dump still works", async () => {
    // Both tokens expire during the wait (the old database API form, which uses the addon token).
    const s = await w.scenario({ jwtLifetimeSeconds: 2, addonTokenLifetimeSeconds: 2, ruleDelayMs: 3000, databaseApi: "legacy" });
    const main = await runStep(s.ctx, "main", s.inputs);
    expect(main.code, describeStep(main)).toBe(0);
    const seen = s.scalingo.requests.map((r) => `${r.service} ${r.method} ${r.status}`);
    expect(seen.filter((r) => r === "auth POST 200").length).toBeGreaterThanOrEqual(2);
    expect(seen.slice(-1)).toEqual(["dbapi DELETE 204"]);
    await expectClean(s, main);
  });

  it("a wrong database password fails at once instead of waiting, and removes the rule", async () => {
    const s = await w.scenario();
    await w.pg.psql("ALTER ROLE shop_user PASSWORD 'changed-elsewhere'");
    try {
      // The password error itself, not the timeout's "still unreachable" after 60 s of waiting.
      await expectFailure(s, s.inputs, /The database refused the connection: .*password authentication failed/);
    } finally {
      await w.pg.psql(`ALTER ROLE shop_user PASSWORD '${w.dbPassword}'`);
    }
  });

  it("gives up after reachable-timeout with what was tried, and removes the rule", async () => {
    const s = await w.scenario({ ruleDelayMs: 120_000 });
    await expectFailure(
      s,
      { ...s.inputs, "reachable-timeout": "3" },
      /still unreachable after \d+ s and \d+ attempts .*no pg_hba\.conf entry.*`reachable-timeout`.*`runner-ip`/,
    );
  });

  it("races IP providers: a slow one does not delay, a broken one does not matter", async () => {
    const s = await w.scenario();
    const slow = await startIpEmulator({ delayMs: 30_000 });
    const broken = await startIpEmulator({ status: 500 });
    try {
      const started = Date.now();
      const main = await runStep(s.ctx, "main", { ...s.inputs, "ip-lookup-urls": `${slow.url}\n${broken.url}\n${w.ip.url}` });
      expect(main.code, describeStep(main)).toBe(0);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(main.outputs["runner-ip"]).toBe("127.0.0.1");
      await expectClean(s, main);
    } finally {
      await Promise.all([slow.close(), broken.close()]);
    }
  });

  it("names each provider's failure when none answers", async () => {
    const s = await w.scenario();
    const garbage = await startIpEmulator({ answer: "<html>blocked</html>" });
    const broken = await startIpEmulator({ status: 503 });
    try {
      await expectFailure(
        s,
        { ...s.inputs, "ip-lookup-urls": `${garbage.url}\n${broken.url}` },
        /Could not detect the runner's public IPv4 address:.*answered "<html>blocked<\/html>", not an IPv4 address.*answered 503.*Set `runner-ip`/s,
      );
      expect(s.scalingo.requests.some((r) => r.path.includes("firewall_rules"))).toBe(false);
    } finally {
      await Promise.all([garbage.close(), broken.close()]);
    }
  });

  it("retries a failed upload once under another name (the first one is burnt)", async () => {
    const s = await w.scenario();
    w.artifacts.failNext(/FinalizeArtifact$/, 403);
    const main = await runStep(s.ctx, "main", { ...s.inputs, "artifact-name": "nightly" });
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.warnings.join("\n")).toMatch(/Uploading the artifact nightly\.dump failed: .*\(403\).*Retrying once as nightly-retry\.dump/s);
    expect(main.outputs["artifact-name"]).toBe("nightly-retry.dump");
    expect(w.artifacts.artifacts.get("nightly-retry.dump")?.sha256).toBe(main.outputs["dump-sha256"]);
    // The dump's own name differs from the artifact's: the link made for the upload is gone.
    // (The manifest stays beside the dump, under the dump's own name.)
    const dump = path.basename(main.outputs["dump-path"] as string);
    expect(await s.leftovers()).toEqual([dump, `${dump}.manifest.json`]);
    expect(w.artifacts.artifacts.get("nightly-retry.dump.manifest.json")?.finalized).toBe(true);
    await expectClean(s, main);
  });

  it("a name taken before this run's attempt fails clearly, without a retry, and keeps the dump", async () => {
    // A re-run is the same workflow run: the first attempt's artifact name is taken for the second.
    const s = await w.scenario();
    expect((await runStep(s.ctx, "main", { ...s.inputs, "artifact-name": "taken", path: "first.dump" })).code).toBe(0);
    const main = await runStep(s.ctx, "main", { ...s.inputs, "artifact-name": "taken", path: "second.dump" });
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(
      /Uploading the artifact taken\.dump failed: .*\(409\).*already exists in the run.*`-\$\{\{ github\.run_attempt \}\}`.*The dump is still at /s,
    );
    expect(main.warnings.join("\n")).not.toMatch(/Retrying/);
    expect(w.artifacts.artifacts.has("taken-retry.dump")).toBe(false);
    expect(s.scalingo.rules).toEqual([]);
    await readFile(main.outputs["dump-path"] as string); // still there for a later step
    await expectClean(s, main);
  });

  it("runner-ip skips the lookup", async () => {
    const s = await w.scenario();
    const before = w.ip.hits;
    const main = await runStep(s.ctx, "main", { ...s.inputs, "runner-ip": "127.0.0.1", "ip-lookup-urls": "" });
    expect(main.code, describeStep(main)).toBe(0);
    expect(w.ip.hits).toBe(before);
    await expectClean(s, main);
  });

  it("refuses to overwrite an existing file at `path`, before any API call", async () => {
    const s = await w.scenario();
    const existing = s.ctx.env.GITHUB_EVENT_PATH;
    await expectFailure(s, { ...s.inputs, path: existing }, /`path`: .* already exists; the action never overwrites a file/);
    expect(s.scalingo.requests).toEqual([]);
    expect(JSON.parse(await readFile(existing, "utf8")).repository).toBeTruthy(); // untouched
  });

  it("without artifact access (no runtime token, or GitHub Enterprise Server), fails before any API call", async () => {
    for (const [env, message] of [
      [{ ACTIONS_RUNTIME_TOKEN: "" }, /artifacts can only be uploaded inside a GitHub Actions job/],
      [{ GITHUB_SERVER_URL: "https://github.acme.internal" }, /GitHub Enterprise Server .* set `upload: false`/],
    ] as const) {
      const s = await w.scenario();
      const main = await runStep(s.ctx, "main", s.inputs, { env });
      expect(main.code, describeStep(main)).toBe(1);
      expect(main.errors.join("\n")).toMatch(message);
      expect(s.scalingo.requests).toEqual([]);
      expect(await s.leftovers()).toEqual([]);
    }
  });

  it("a PGDG mirror over plain http is refused before any API call, its password not echoed", async () => {
    const s = await w.scenario();
    const main = await runStep(s.ctx, "main", s.inputs, { env: { SCALINGO_PG_DUMP_PGDG_MIRROR: "http://corp:hunter22@mirror.example/pgdg" } });
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(/`SCALINGO_PG_DUMP_PGDG_MIRROR`: must use https:\/\//);
    expect(main.stdout + main.stderr + main.summary).not.toContain("hunter22");
    expect(s.scalingo.requests).toEqual([]);
  });

  // A table of bad inputs through the bundled action: each fails before any API call.
  const badInputs: [Record<string, string>, RegExp][] = [
    [{ "api-token": "" }, /`api-token`: is required/],
    [{ region: "Mars 1" }, /`region`/],
    [{ database: "a/b" }, /`database`/],
    [{ "runner-ip": "::1" }, /`runner-ip`: .*IPv4/],
    [{ "reachable-timeout": "-1" }, /`reachable-timeout`/],
    [{ "stale-rule-age": "1" }, /`stale-rule-age`: "1" is too short/],
    [{ "retention-days": "365" }, /`retention-days`: .*1 to 90/],
    [{ format: "zip" }, /`format`: "zip" is not one of custom, directory, tar, plain/],
    [{ jobs: "4", format: "custom" }, /`jobs`: parallel workers need `format: directory`/],
    // pg_dump's getopt_long would read these as --file, --compress and a connection string.
    [{ "pg-dump-args": "--clean --fil=smuggled.sql" }, /`pg-dump-args`: --fil=smuggled\.sql is set by the action itself/],
    [{ "pg-dump-args": "-vZ9" }, /`pg-dump-args`: -Z9 is set by the action itself/],
    [{ "pg-dump-args": "--clean host=evil.example" }, /`pg-dump-args`: "host=evil\.example": pg_dump reads a word that is not an option/],
    // pg_dump would print its version and exit 0: an empty "dump".
    [{ "pg-dump-args": "--clean -V" }, /`pg-dump-args`: -V prints pg_dump's version or help instead of dumping/],
    // A private key where the public recipient goes: refused, and none of it in the log.
    [
      { "encryption-recipients": "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZ3H4R9K" },
      /`encryption-recipients`: recipient 1 is a private key: put the public recipient \(age1…\) here, and rotate that key/,
    ],
  ];
  it.each(badInputs)("rejects %o before any API call", async (bad, message) => {
    const s = await w.scenario();
    const main = await expectFailure(s, { ...s.inputs, ...bad }, message);
    expect(s.scalingo.requests).toEqual([]);
    expect(main.stdout + main.stderr + main.summary).not.toContain("GFPYYSJZ");
  });
});
