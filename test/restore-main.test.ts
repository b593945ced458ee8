import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runRestoreMain } from "../src/restore/main.js";
import { runRestorePost } from "../src/restore/post.js";
import { isRunning, type ProcessRecord, recordProcess } from "../src/runner/process-record.js";
import { emulatorInputs, type SeededDatabase, startSeededDatabase } from "./e2e/world.js";
import { type IpEmulator, startIpEmulator } from "./emulators/public-ip.js";
import { type ScalingoEmulatorOptions, startScalingoEmulator } from "./emulators/scalingo.js";
import { snapshot } from "./support/fixture.js";
import { type CancellableStep, cancelBeforeTheRule, cancelDuringTheWait, ObservedState, postInProcess, startInProcess } from "./support/in-process.js";
import { processesWith } from "./support/processes.js";
import { createRunnerContext, REPO_ROOT } from "./support/runner.js";
import { actionInputDefaults } from "./support/runner-parse.js";
import { until } from "./support/until.js";

// The restore action's main step in-process (runRestoreMain() with its surroundings injected), as
// test/main.test.ts runs the backup's: against the Scalingo emulator gating a real PostgreSQL. A
// restore, then a job cancelled at each phase: once the step has exited, the rule is gone, the
// private folder (downloads, decrypted plaintext) is gone and pg_restore is not running; the post
// step, on the saved state, finds nothing more to undo (or undoes the rest).

const RESTORE_DIR = path.join(REPO_ROOT, "restore");
/** What the runner itself keeps in RUNNER_TEMP: anything else there is the action's. */
const RUNNER_FOLDERS = ["_github_workflow", "_runner_file_commands"];

describe("restore main step in-process: a restore, and cancelled at each phase", () => {
  let db: SeededDatabase;
  let ip: IpEmulator;
  let kept: string;
  let dump: string;
  const opened: { close(): Promise<unknown> }[] = [];

  /** pg_dump or pg_restore of the test server's major, as its superuser. */
  const pgTool = (tool: string, args: string[]) =>
    promisify(execFile)(path.join(db.pg.binDir, tool), args, {
      env: { PATH: process.env.PATH ?? "", PGHOST: db.pg.socketDir, PGPORT: String(db.pg.port), PGUSER: "postgres" },
    });
  const restoredDatabases = async () => (await db.pg.psql("SELECT datname FROM pg_database WHERE datname LIKE 'restore\\_%'")).split("\n").filter(Boolean);

  beforeAll(async () => {
    [db, ip] = await Promise.all([startSeededDatabase(), startIpEmulator()]);
    kept = await mkdtemp(path.join(tmpdir(), "restore-in-process-"));
    // A dump as the backup writes it (its defaults), no manifest beside it: the restore goes on without one.
    dump = path.join(kept, "shop.dump");
    await pgTool("pg_dump", ["--format=custom", "--no-owner", "--no-privileges", "--no-comments", `--file=${dump}`, db.dbName]);
  });
  afterEach(async () => {
    // core.setFailed sets the exit code of the process running the tests: the failure is asserted here, not there.
    process.exitCode = 0;
    await Promise.allSettled(opened.splice(0).map((o) => o.close()));
  });
  afterAll(async () => {
    await ip?.close();
    await db?.pg.stop();
    if (kept) await rm(kept, { recursive: true, force: true });
  });

  async function start(o: { scalingo?: Partial<ScalingoEmulatorOptions>; inputs?: Record<string, string> } = {}): Promise<CancellableStep> {
    const scalingo = await startScalingoEmulator({ ...db.scalingo, roleCreatesDatabases: true, ...o.scalingo });
    const ctx = await createRunnerContext({ actionDir: RESTORE_DIR });
    opened.push(scalingo, { close: () => ctx.cleanup() });
    const defaults = actionInputDefaults(RESTORE_DIR, { "github.token": ctx.githubToken });
    const inputs: Record<string, string> = { ...defaults, ...emulatorInputs(db, scalingo, ip), path: dump, ...o.inputs };
    const main = startInProcess(runRestoreMain, { env: ctx.env, inputs });
    const temp = ctx.env.RUNNER_TEMP as string;
    return {
      ...main,
      scalingo,
      leftovers: async () => (await readdir(temp)).filter((f) => !RUNNER_FOLDERS.includes(f)),
      post: () => postInProcess(runRestorePost, { env: ctx.env, state: main.state, inputs }),
    };
  }

  it("restores into a fresh database, removes its rule and its private folder, and leaves post nothing to do", async () => {
    const step = await start();
    await step.running;
    expect(process.exitCode ?? 0).toBe(0);
    const [restored] = await restoredDatabases();
    expect(restored).toMatch(/^restore_\d{8}t\d{6}z$/);
    expect(await snapshot(db.pg, restored as string)).toEqual(await snapshot(db.pg, db.dbName));
    expect(step.scalingo.rules).toEqual([]);
    expect(step.state.get("rule-removed")).toBe("true");
    expect(step.state.get("restore-folder")).toContain("scalingo-pg-dump-restore-");
    expect(await step.leftovers()).toEqual([]);
    expect(await step.post()).toEqual({ connected: false });
    await db.pg.psql(`DROP DATABASE "${restored}"`);
  });

  it("before the rule exists (its request on the way): main stops there, and nothing is left once post ran", async () => {
    await cancelBeforeTheRule(await start());
    // Main did not go on to the wait or the restore.
    expect(await restoredDatabases()).toEqual([]);
  });

  it("during the wait for the database: the rule and the private folder are removed and the wait ends before main exits", async () => {
    await cancelDuringTheWait(await start({ scalingo: { ruleDelayMs: 600_000 } }));
    expect(await restoredDatabases()).toEqual([]);
  });

  it("during pg_restore over a named target: pg_restore is stopped, the folder and the rule removed before main exits; the target is unchanged", async () => {
    await db.pg.createDatabase("staging", "shop_user");
    await pgTool("pg_restore", ["--no-owner", "--no-privileges", "--role=shop_user", "--exit-on-error", "--dbname=staging", dump]);
    const before = await snapshot(db.pg, "staging");
    // A lock held elsewhere keeps pg_restore's DROP waiting, whatever the machine's speed.
    const locker = new pg.Client({ host: db.pg.socketDir, port: db.pg.port, user: "postgres", database: "staging" });
    await locker.connect();
    await locker.query("BEGIN; LOCK TABLE public.orders IN ACCESS SHARE MODE");
    let record: ProcessRecord | undefined;
    try {
      const step = await start({ inputs: { "target-database-name": "staging", confirm: "staging" } });
      const saved: string[] = [];
      step.state.onSave((key, value) => {
        if (key === "pg-restore") saved.push(value);
      });
      record = await until("pg_restore waiting for the lock", () => waitingPgRestore(db, "staging"), 120_000);
      step.cancel();
      expect(await step.exited).toBe(1);
      expect(await isRunning(record)).toBe(false);
      // Recorded for post as it was spawned, and the record cleared once it had ended.
      expect(saved.map((v) => (v ? Object.keys(JSON.parse(v)).sort() : v))).toEqual([["pid", "startTicks"], ""]);
      expect(await step.leftovers()).toEqual([]);
      expect(step.scalingo.rules).toEqual([]);
      await locker.query("ROLLBACK");
      await step.running;
      expect(await step.post()).toEqual({ connected: false });
      // One transaction, never committed: the target is as it was.
      expect(await snapshot(db.pg, "staging")).toEqual(before);
    } finally {
      await locker.end();
      if (record && (await isRunning(record))) process.kill(record.pid, "SIGKILL");
    }
  });
});

// A main killed outright (SIGKILL) runs no handler: the post step, from the saved state alone,
// stops the pg_restore it left running, then removes its private folder.
describe("restore post step in-process, after a killed main", () => {
  it("stops the saved pg_restore, removes the saved private folder, and asks nothing of Scalingo when no rule was saved", async () => {
    const temp = await mkdtemp(path.join(tmpdir(), "restore-post-"));
    // Stands in for pg_restore: a process the post step may stop only through its saved record.
    const writer = spawn("sh", ["-c", "exec sleep 600"], { stdio: "ignore" });
    try {
      await new Promise((r) => writer.once("spawn", r));
      const record = recordProcess(writer.pid) as ProcessRecord;
      const folder = path.join(temp, "scalingo-pg-dump-restore-x1");
      await mkdir(folder);
      await writeFile(path.join(folder, "shop.dump"), "PGDMP plaintext");
      const state = new ObservedState();
      state.save("pg-restore", JSON.stringify(record));
      state.save("restore-folder", folder);
      expect(await postInProcess(runRestorePost, { env: {}, state, inputs: {} })).toEqual({ connected: false });
      expect(await isRunning(record)).toBe(false);
      expect(await readdir(temp)).toEqual([]);
      expect(process.exitCode ?? 0).toBe(0);
    } finally {
      writer.kill("SIGKILL");
      await rm(temp, { recursive: true, force: true });
    }
  });
});

/** The pg_restore process restoring into `database` once its session waits for a lock there. */
async function waitingPgRestore(db: SeededDatabase, database: string): Promise<ProcessRecord | undefined> {
  const waiting = await db.pg.psql(`SELECT count(*) FROM pg_stat_activity WHERE datname = '${database}' AND wait_event_type = 'Lock'`);
  if (waiting === "0") return undefined;
  const [pid] = await processesWith("pg_restore", `--dbname=${database}`);
  return pid ? recordProcess(pid) : undefined;
}
