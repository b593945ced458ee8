import { readdir, readFile } from "node:fs/promises";
// A restart or failover mid-dump cuts pg_dump's session, as pg_terminate_backend does: the dump
// starts again from scratch within the same rule, up to `dump-retries` times; nothing else is retried.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { snapshot } from "../support/fixture.js";
import { allWrittenText, runStep, type StepResult, startStep } from "../support/runner.js";
import { describeStep, leakedSecrets, restoreInto, type Scenario, startWorld, type World } from "./world.js";

describe("pg_dump losing its connection mid-dump", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.close());

  const ours = (s: Scenario) => s.scalingo.rules.filter((r) => r.label?.startsWith("scalingo-pg-dump acme/shop run"));
  const attempts = (main: StepResult) => main.stdout.match(/Running pg_dump/g)?.length ?? 0;

  /** A session of the superuser holding `public.orders`: pg_dump waits for it, as it would for a migration. */
  async function lockOrders(): Promise<pg.Client> {
    const locker = new pg.Client({ host: w.pg.socketDir, port: w.pg.port, user: "postgres", database: w.dbName });
    await locker.connect();
    await locker.query("BEGIN; LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE");
    return locker;
  }

  /** Terminates the action's sessions waiting for a lock (what a restart does to them); how many it ended. */
  async function terminateWaiting(): Promise<number> {
    const ended = await w.pg.psql(
      `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
       WHERE application_name = 'scalingo-pg-dump' AND wait_event_type = 'Lock' AND datname = '${w.dbName}'`,
    );
    return Number(ended);
  }

  async function terminateOnce(): Promise<void> {
    for (let i = 0; i < 600; i++) {
      if ((await terminateWaiting()) > 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("pg_dump never waited for the lock");
  }

  async function expectFailedCleanly(s: Scenario, main: StepResult, inputs: Record<string, string>) {
    expect(main.code, describeStep(main)).toBe(1);
    expect(ours(s)).toEqual([]);
    const post = await runStep(s.ctx, "post", inputs, { state: main.state });
    expect(post.code, describeStep(post)).toBe(0);
    expect(await s.leftovers()).toEqual([]);
    expect(leakedSecrets(await allWrittenText(s.ctx, [main, post]), s.secrets())).toEqual([]);
  }

  it("a backend terminated once: one retry, and the uploaded artifact restores equal", async () => {
    const s = await w.scenario();
    const locker = await lockOrders();
    let main: StepResult;
    try {
      const step = startStep(s.ctx, "main", s.inputs);
      await terminateOnce();
      await locker.query("ROLLBACK");
      main = await step.done;
    } finally {
      await locker.end();
    }
    expect(main.code, describeStep(main)).toBe(0);
    expect(attempts(main)).toBe(2);
    expect(main.warnings.join("\n")).toMatch(
      /pg_dump lost its connection to the database \(terminating connection due to administrator command\): retry 1 of 1, from scratch/,
    );
    expect(main.summary).toMatch(/\| Dump retries \| 1 \(pg_dump lost its connection: terminating connection due to administrator command\) \|/);
    expect(main.summary).toMatch(/pg_dump \d+\.\d s over 2 attempts, exposure overhead/);
    expect(ours(s)).toEqual([]);
    const stored = w.artifacts.artifacts.get(main.outputs["artifact-name"]);
    await restoreInto(w.pg, stored?.path as string, "restored_after_retry");
    expect(await snapshot(w.pg, "restored_after_retry")).toEqual(await snapshot(w.pg, w.dbName));
  });

  it("terminated on every attempt: fails after `dump-retries` retries, no rule and no partial dump left", async () => {
    const s = await w.scenario();
    const inputs = { ...s.inputs, "dump-retries": "2", format: "directory", jobs: "2" };
    const locker = await lockOrders();
    let main: StepResult;
    try {
      const step = startStep(s.ctx, "main", inputs);
      let done = false;
      step.done.finally(() => {
        done = true;
      });
      while (!done) {
        await terminateWaiting();
        await new Promise((r) => setTimeout(r, 100));
      }
      main = await step.done;
    } finally {
      await locker.query("ROLLBACK");
      await locker.end();
    }
    expect(attempts(main)).toBe(3);
    expect(main.warnings.filter((m) => /pg_dump lost its connection .*retry \d of 2/.test(m))).toHaveLength(2);
    expect(main.errors.join("\n")).toMatch(
      /pg_dump lost its connection to the database .*it was retried 2 time\(s\) \(`dump-retries`\) and lost it every time/,
    );
    expect(main.summary).toMatch(/Failed during: Dump/);
    await expectFailedCleanly(s, main, inputs);
  });

  it("a permission error is not retried", async () => {
    const s = await w.scenario();
    await w.pg.psql("CREATE TABLE public.payroll (id int); REVOKE ALL ON public.payroll FROM PUBLIC", w.dbName);
    let main: StepResult;
    try {
      main = await runStep(s.ctx, "main", s.inputs);
    } finally {
      await w.pg.psql("DROP TABLE public.payroll", w.dbName);
    }
    expect(main.errors.join("\n")).toMatch(/permission denied for table payroll/);
    expect(attempts(main)).toBe(1);
    expect(main.stdout + main.warnings.join("\n")).not.toMatch(/retry/i);
    await expectFailedCleanly(s, main, s.inputs);
  });

  it("`dump-retries: 0`: a lost connection fails the run at once", async () => {
    const s = await w.scenario();
    const inputs = { ...s.inputs, "dump-retries": "0" };
    const locker = await lockOrders();
    let main: StepResult;
    try {
      const step = startStep(s.ctx, "main", inputs);
      await terminateOnce();
      main = await step.done;
    } finally {
      await locker.query("ROLLBACK");
      await locker.end();
    }
    expect(attempts(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(
      /pg_dump lost its connection to the database \(terminating connection due to administrator command\); `dump-retries` is 0/,
    );
    await expectFailedCleanly(s, main, inputs);
  });

  it("`dump-timeout` stops a pg_dump that waits too long, removes the rule and fails clearly; pg_dump has TCP keepalives", async () => {
    const s = await w.scenario();
    const inputs = { ...s.inputs, "dump-timeout": "4s" };
    const locker = await lockOrders();
    let main: StepResult;
    let cmdline: string | undefined;
    try {
      const step = startStep(s.ctx, "main", inputs);
      await step.waitFor(/Running pg_dump/, 60_000);
      for (let i = 0; i < 100 && !cmdline; i++) {
        cmdline = await pgDumpCmdline(s.ctx.dir);
        await new Promise((r) => setTimeout(r, 50));
      }
      // Without the limit, pg_dump would go on once the lock is released, and succeed.
      const released = new Promise((r) => setTimeout(r, 30_000));
      await Promise.race([step.done, released]);
      await locker.query("ROLLBACK");
      main = await step.done;
    } finally {
      await locker.end();
    }
    expect(cmdline).toContain("--dbname=keepalives=1 keepalives_idle=60 keepalives_interval=10 keepalives_count=6 tcp_user_timeout=120000");
    expect(cmdline).not.toContain(w.dbPassword);
    expect(main.errors.join("\n")).toMatch(
      /pg_dump did not finish within `dump-timeout` \(4s, retries included\): it was stopped and the firewall rule removed/,
    );
    expect(main.stdout + main.warnings.join("\n")).not.toMatch(/retry 1 of/);
    expect(await pgDumpCmdline(s.ctx.dir)).toBeUndefined();
    await expectFailedCleanly(s, main, inputs);
  });
});

/** The command line of the step's running pg_dump (its file is in the runner's folder; other tests may run pg_dump too). */
async function pgDumpCmdline(runnerDir: string): Promise<string | undefined> {
  for (const pid of (await readdir("/proc")).filter((d) => /^\d+$/.test(d))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.split("\0")[0].endsWith("/pg_dump") && cmdline.includes(`--file=${runnerDir}`)) return cmdline.replaceAll("\0", " ");
  }
  return undefined;
}
