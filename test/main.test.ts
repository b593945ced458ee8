import { readdir } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { run } from "../src/main.js";
import { runPost } from "../src/post.js";
import { isRunning, type ProcessRecord } from "../src/runner/process-record.js";
import { emulatorInputs, type SeededDatabase, startSeededDatabase } from "./e2e/world.js";
import { type ArtifactEmulator, startArtifactEmulator } from "./emulators/artifact.js";
import { type IpEmulator, startIpEmulator } from "./emulators/public-ip.js";
import { type ScalingoEmulatorOptions, startScalingoEmulator } from "./emulators/scalingo.js";
import { type CancellableStep, cancelBeforeTheRule, cancelDuringTheWait, postInProcess, startInProcess } from "./support/in-process.js";
import { createRunnerContext, REPO_ROOT, type RunnerContext } from "./support/runner.js";
import { actionInputDefaults } from "./support/runner-parse.js";

// The main step in-process (run() with its surroundings injected: inputs, environment, state,
// signals, exit) against the emulators, the Scalingo one gating a real PostgreSQL. A job cancelled
// at each phase: once the step has exited, the rule is gone and no plaintext is left, and the
// post step finds nothing more to undo (or undoes the rest).

interface Step extends CancellableStep {
  ctx: RunnerContext;
}

describe("main step in-process: cancelled at each phase", () => {
  let db: SeededDatabase;
  let ip: IpEmulator;
  let artifacts: ArtifactEmulator;
  const opened: { close(): Promise<unknown> }[] = [];

  beforeAll(async () => {
    [db, ip, artifacts] = await Promise.all([startSeededDatabase(), startIpEmulator(), startArtifactEmulator()]);
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    // core.setFailed sets the exit code of the process running the tests: the failure is asserted here, not there.
    process.exitCode = 0;
    await Promise.allSettled(opened.splice(0).map((o) => o.close()));
  });
  afterAll(async () => {
    await Promise.allSettled([ip?.close(), artifacts?.close()]);
    await db?.pg.stop();
  });

  async function start(o: { scalingo?: Partial<ScalingoEmulatorOptions>; inputs?: Record<string, string>; resultsUrl?: string } = {}): Promise<Step> {
    const scalingo = await startScalingoEmulator({ ...db.scalingo, ...o.scalingo });
    const artifact = { ...artifacts.newRun(), ...(o.resultsUrl ? { resultsUrl: o.resultsUrl } : {}) };
    const ctx = await createRunnerContext({ artifact });
    opened.push(scalingo, { close: () => ctx.cleanup() });
    const inputs: Record<string, string> = { ...actionInputDefaults(REPO_ROOT), ...emulatorInputs(db, scalingo, ip), upload: "false", ...o.inputs };
    const main = startInProcess(run, { env: ctx.env, inputs });
    const dumpDir = path.join(ctx.env.RUNNER_TEMP as string, "scalingo-pg-dump");
    return {
      ...main,
      scalingo,
      ctx,
      leftovers: () => readdir(dumpDir).catch(() => []),
      post: () => postInProcess(runPost, { env: ctx.env, state: main.state, inputs }),
    };
  }

  it("before the rule exists (its request on the way): main stops there, and nothing is left once post ran", async () => {
    const step = await start();
    await cancelBeforeTheRule(step);
    // Main did not go on to the wait or the dump once cancelled.
    expect(step.state.get("pg-dump")).toBe("");
  });

  it("during the wait for the database: the rule is removed and the wait ends before main exits", async () => {
    await cancelDuringTheWait(await start({ scalingo: { ruleDelayMs: 600_000 } }));
  });

  it("during pg_dump: pg_dump is stopped, its partial file removed and the rule removed before main exits", async () => {
    // A lock held elsewhere keeps pg_dump waiting, whatever the machine's speed.
    const locker = new pg.Client({ host: db.pg.socketDir, port: db.pg.port, user: "postgres", database: db.dbName });
    await locker.connect();
    await locker.query("BEGIN; LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE");
    try {
      const step = await start();
      let record: ProcessRecord | undefined;
      step.state.onSave((key, value) => {
        if (key === "pg-dump" && value && !record) {
          record = JSON.parse(value) as ProcessRecord;
          step.cancel();
        }
      });
      expect(await step.exited).toBe(1);
      expect(record).toBeDefined();
      expect(await isRunning(record as ProcessRecord)).toBe(false);
      expect(await step.leftovers()).toEqual([]);
      expect(step.scalingo.rules).toEqual([]);
      await step.running;
      expect(await step.post()).toEqual({ connected: false });
    } finally {
      await locker.end();
    }
  });

  it("during the upload: the rule is long gone, no plaintext is left, only the finished encrypted dump", async () => {
    const results = await startHeldService();
    opened.push(results);
    const recipient = await identityToRecipient(await generateIdentity());
    const step = await start({ inputs: { upload: "true", "encryption-recipients": recipient }, resultsUrl: results.url });
    // @actions/artifact reads the runner's variables from the process environment.
    vi.stubEnv("ACTIONS_RUNTIME_TOKEN", step.ctx.env.ACTIONS_RUNTIME_TOKEN);
    vi.stubEnv("ACTIONS_RESULTS_URL", results.url);
    results.onRequest = () => step.cancel();
    expect(await step.exited).toBe(1);
    expect(step.scalingo.rules).toEqual([]);
    const left = await step.leftovers();
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/\.dump\.age$/);
    // Only now does the held request get its answer: the real process would be gone.
    results.release();
    await step.running;
    await step.post();
    expect(await step.leftovers()).toEqual(left);
  });
});

/** A results service whose first request is held (a slow upload) until release(); then every request fails with a 400. */
async function startHeldService(): Promise<{ url: string; onRequest: () => void; release(): void; close(): Promise<void> }> {
  const held: ServerResponse[] = [];
  let released = false;
  const refuse = (res: ServerResponse) => {
    res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ code: "invalid_argument", msg: "refused by the test" }));
  };
  const service: { url: string; onRequest: () => void; release(): void; close(): Promise<void> } = {
    url: "",
    onRequest: () => undefined,
    release: () => {
      released = true;
      for (const res of held.splice(0)) refuse(res);
    },
    close: () =>
      new Promise<void>((resolve) => {
        service.release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (released) return refuse(res);
    held.push(res);
    service.onRequest();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  service.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return service;
}
