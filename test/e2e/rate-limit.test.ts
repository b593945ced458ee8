import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ScalingoEmulator, startScalingoEmulator } from "../emulators/scalingo.js";
import { RateLimiter } from "../emulators/scalingo-http.js";
import { createRunnerContext, type RunnerContext, runStep } from "../support/runner.js";
import { describeStep, startWorld, type World } from "./world.js";

const RUNS = 10;

// Scalingo allows 60 requests a minute and answers more with a plain-text 429 "Retry later" and no
// Retry-After. A matrix of ten databases of one user, started at once, needs more than 60: the
// runs refused must keep trying across the whole window, then all succeed. The window here is the
// real one (a minute), so this test lasts a little over a minute.
describe("Scalingo's rate limit", () => {
  let w: World;
  const opened: { close(): Promise<unknown> }[] = [];
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(async () => {
    await Promise.allSettled(opened.map((o) => o.close()));
    await w?.close();
  });

  it("ten databases sharing one token, started at once, all succeed within 60 requests a minute", async () => {
    const limiter = new RateLimiter(60, 60_000);
    const jobs: { scalingo: ScalingoEmulator; ctx: RunnerContext; database: string }[] = [];
    for (let i = 1; i <= RUNS; i++) {
      const database = `shop-db-${i}`;
      // Each database its own role and database on the shared test server, so that each is gated
      // by its own firewall only, as on Scalingo (one database's rule never answers for another).
      const scalingo = await startScalingoEmulator({
        ...w.emulatorBase,
        databaseId: database,
        dbName: `shop_db_${i}`,
        dbUser: `shop_user_${i}`,
        rateLimiter: limiter,
      });
      const ctx = await createRunnerContext({ artifact: w.artifacts });
      opened.push(scalingo, { close: () => ctx.cleanup() });
      jobs.push({ scalingo, ctx, database });
    }
    const started = Date.now();
    const results = await Promise.all(
      jobs.map(({ scalingo, ctx, database }) =>
        runStep(ctx, "main", {
          "api-token": w.apiToken,
          database,
          "auth-url": scalingo.authUrl,
          "ip-lookup-urls": w.ip.url,
          "reachable-timeout": "120",
          upload: "false",
        }),
      ),
    );
    const elapsed = Date.now() - started;
    for (const r of results) expect(r.code, describeStep(r)).toBe(0);
    const answered = jobs.flatMap((j) => j.scalingo.requests).filter((r) => r.status !== 429);
    expect(answered.length).toBeGreaterThan(60); // more than one window's worth: the limit was reached
    expect(limiter.refused).toBeGreaterThan(0);
    // The refused requests succeeded only once the first ones had left the window.
    expect(elapsed).toBeGreaterThan(60_000);
    for (const j of jobs) expect(j.scalingo.rules).toEqual([]);
  }, 240_000);
});
