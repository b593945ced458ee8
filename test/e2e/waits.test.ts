// Waits and installs bound the time the firewall stays open: the first of the install and the
// wait to fail stops the other at once, and pg_dump does not wait forever for a table lock.

import { readFileSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PGDG_MIRROR_ENV } from "../../src/postgres/apt-install.js";
import { DEFAULT_LOCK_WAIT_TIMEOUT_MS } from "../../src/postgres/pg-dump.js";
import { type AptRoot, createAptRoot } from "../support/apt-repo.js";
import { runStep, startStep } from "../support/runner.js";
import { describeStep, type Scenario, startWorld, type World } from "./world.js";

describe("waits, installs and timeouts", () => {
  let w: World;
  let root: AptRoot;
  beforeAll(async () => {
    w = await startWorld();
    // The install runs for real up to curl, inside a private apt root (never this machine's).
    root = await createAptRoot();
  });
  afterAll(() => w?.close());

  /** A `curl` first on PATH: the one the install runs to fetch PGDG's key. */
  async function fakeCurl(script: string): Promise<Record<string, string>> {
    const bin = await mkdtemp(path.join(tmpdir(), "fake-bin-"));
    await writeFile(path.join(bin, "curl"), `#!/bin/sh\n${script}\n`);
    await chmod(path.join(bin, "curl"), 0o755);
    return { PATH: `${bin}:${process.env.PATH}`, APT_CONFIG: root.aptConfig, [PGDG_MIRROR_ENV]: "https://127.0.0.1:9/unused" };
  }

  const ours = (s: Scenario) => s.scalingo.rules.filter((r) => r.label?.startsWith("scalingo-pg-dump "));

  // Server 15 and pg-dump-version 16: this machine has no pg_dump 16, so the action installs it.
  it("an install that fails while the wait is still going ends the run at once and removes the rule", async () => {
    const s = await w.scenario({ ruleDelayMs: 120_000 });
    const env = await fakeCurl('echo "curl: (22) The requested URL returned error: 404" >&2; exit 22');
    const started = Date.now();
    const main = await runStep(s.ctx, "main", { ...s.inputs, "pg-dump-version": "16", "reachable-timeout": "600" }, { env });
    const took = Date.now() - started;
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(/Installing postgresql-client-16 failed at `curl .*(exit 22).*404/s);
    // Not the 600 s of reachable-timeout: the wait stopped with the install. The margin is what
    // makes this hold on a loaded machine: a run that waited would take ten minutes.
    expect(took).toBeLessThan(300_000);
    expect(main.summary).toMatch(/Failed during: .*(client|pg_dump)/i);
    expect(ours(s)).toEqual([]);
  }, 400_000);

  it("a wait that fails stops a stalled install at once, its processes included", async () => {
    const s = await w.scenario({ ruleDelayMs: 120_000 });
    const pidFile = path.join(await mkdtemp(path.join(tmpdir(), "curl-pid-")), "pid");
    const env = await fakeCurl(`echo $$ > ${pidFile}; exec sleep 900`);
    const started = Date.now();
    const main = await runStep(s.ctx, "main", { ...s.inputs, "pg-dump-version": "16", "reachable-timeout": "3" }, { env });
    const took = Date.now() - started;
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(/still unreachable after \d+ s/);
    // Not the 900 s of the stalled install (a margin no load closes).
    expect(took).toBeLessThan(300_000);
    expect(ours(s)).toEqual([]);
    const pid = Number(await readFile(pidFile, "utf8"));
    expect(isRunning(pid)).toBe(false);
  }, 400_000);

  it("a cancelled job stops a running install too, its processes included", async () => {
    const s = await w.scenario({ ruleDelayMs: 120_000 });
    const pidFile = path.join(await mkdtemp(path.join(tmpdir(), "curl-pid-")), "pid");
    const env = await fakeCurl(`echo $$ > ${pidFile}; exec sleep 900`);
    const step = startStep(s.ctx, "main", { ...s.inputs, "pg-dump-version": "16" }, { env });
    await step.waitFor(/Installing postgresql-client-16/, 30_000);
    for (let i = 0; i < 50 && !(await readFile(pidFile, "utf8").catch(() => "")); i++) await new Promise((r) => setTimeout(r, 50));
    const pid = Number(await readFile(pidFile, "utf8"));
    const main = await step.cancel();
    expect(main.code, describeStep(main)).toBe(1);
    expect(ours(s)).toEqual([]);
    await new Promise((r) => setTimeout(r, 200));
    expect(isRunning(pid)).toBe(false);
  }, 60_000);

  it("pg_dump waits for a table lock held elsewhere only up to its default lock wait timeout", async () => {
    const s = await w.scenario();
    const locker = new pg.Client({ host: w.pg.socketDir, port: w.pg.port, user: "postgres", database: w.dbName });
    await locker.connect();
    await locker.query("BEGIN; LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE");
    try {
      const step = startStep(s.ctx, "main", s.inputs);
      await step.waitFor(/Running pg_dump/, 30_000);
      let cmdline: string | undefined;
      for (let i = 0; i < 100 && !cmdline; i++) {
        cmdline = await pgDumpCmdline(s.ctx.env.RUNNER_TEMP as string);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(cmdline).toContain(`--lock-wait-timeout=${DEFAULT_LOCK_WAIT_TIMEOUT_MS}`);
      // Still within the bound: once the lock is released, the dump goes on and succeeds.
      await locker.query("ROLLBACK");
      const main = await step.done;
      expect(main.code, describeStep(main)).toBe(0);
    } finally {
      await locker.end();
    }
  });
});

/** Running, and not a zombie (in a container, PID 1 may never reap orphans). */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function pgDumpCmdline(runnerTemp: string): Promise<string | undefined> {
  for (const pid of (await readdir("/proc")).filter((d) => /^\d+$/.test(d))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    const args = cmdline.split("\0");
    // This step's pg_dump only: other test files (and other checkouts) run pg_dumps of their own
    // at the same time; this one writes under the step's RUNNER_TEMP.
    if (args[0]?.endsWith("/pg_dump") && args.some((a) => a.startsWith(`--file=${runnerTemp}/`))) return args.join(" ");
  }
  return undefined;
}
