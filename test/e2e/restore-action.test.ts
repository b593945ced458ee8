import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { snapshot } from "../support/fixture.js";
import { allWrittenText, REPO_ROOT, runStep, type StepResult, startStep } from "../support/runner.js";
import { describeStep, leakedSecrets, type Scenario, startWorld, type World } from "./world.js";

// The restore action (restore/action.yml), bundled, run as the runner runs it, against the
// Scalingo emulator gating a real PostgreSQL, restoring what the backup action wrote.
const RESTORE_DIR = path.join(REPO_ROOT, "restore");
const FIXTURE_TABLES = 5;
const FIXTURE_ROWS = 3000 + 4000 + 1001 + 2000 + 3;

describe("the restore action, from a file on the runner", () => {
  let w: World;
  let kept: string;
  let dump: string;

  beforeAll(async () => {
    w = await startWorld();
    // A backup with its restore check: its manifest holds every table's rows.
    const s = await w.scenario();
    const main = await runStep(s.ctx, "main", { ...s.inputs, verify: "restore", upload: "false" });
    expect(main.code, describeStep(main)).toBe(0);
    kept = await mkdtemp(path.join(tmpdir(), "kept-backup-"));
    dump = path.join(kept, path.basename(main.outputs["dump-path"]));
    await copyFile(main.outputs["dump-path"], dump);
    await copyFile(main.outputs["manifest-path"], `${dump}.manifest.json`);
  });
  afterAll(async () => {
    await w?.close();
    await rm(kept, { recursive: true, force: true });
  });

  async function restoreStep(
    inputs: Record<string, string>,
    o: { roleCreatesDatabases?: boolean } = {},
  ): Promise<{ s: Scenario; main: StepResult; post: StepResult }> {
    const s = await w.scenario({ roleCreatesDatabases: o.roleCreatesDatabases ?? true }, { actionDir: RESTORE_DIR });
    const main = await runStep(s.ctx, "main", { ...s.inputs, ...inputs });
    const post = await runStep(s.ctx, "post", { ...s.inputs, ...inputs }, { state: main.state });
    return { s, main, post };
  }

  it("restores into a fresh database, with every table's rows equal to the manifest's, and removes its rule", async () => {
    const { s, main, post } = await restoreStep({ path: dump });
    expect(main.code, describeStep(main)).toBe(0);
    expect(post.code, describeStep(post)).toBe(0);
    const restored = main.outputs["restored-database"] as string;
    expect(restored).toMatch(/^restore_\d{8}t\d{6}z$/);
    expect(main.outputs).toMatchObject({ tables: String(FIXTURE_TABLES), rows: String(FIXTURE_ROWS) });
    expect(Number(main.outputs["restore-seconds"])).toBeGreaterThan(0);
    expect(Number(main.outputs["rule-open-seconds"])).toBeGreaterThan(0);
    expect(main.stdout).toContain(`each of the ${FIXTURE_TABLES} table(s) in the manifest holds exactly its rows`);
    expect(await snapshot(w.pg, restored)).toEqual(await snapshot(w.pg, w.dbName));
    expect(s.scalingo.rules).toEqual([]);
    expect(main.summary).toContain("Scalingo PostgreSQL restore succeeded");
    // The private folder is gone.
    expect((await readdir(s.ctx.env.RUNNER_TEMP)).filter((f) => f.startsWith("scalingo-pg-dump-restore-"))).toEqual([]);
    const everything = await allWrittenText(s.ctx, [main, post]);
    expect(leakedSecrets(everything, s.secrets())).toEqual([]);
  });

  it("drop-after: restored, checked, then dropped", async () => {
    const { main } = await restoreStep({ path: dump, "drop-after": "true" });
    expect(main.code, describeStep(main)).toBe(0);
    const restored = main.outputs["restored-database"] as string;
    expect(await w.pg.psql(`SELECT count(*) FROM pg_database WHERE datname = '${restored}'`)).toBe("0");
    expect(main.outputs.rows).toBe(String(FIXTURE_ROWS));
  });

  it("a role that may not create databases: fails, says to name a target, and never restores into the URI's database", async () => {
    const before = await snapshot(w.pg, w.dbName);
    const { s, main } = await restoreStep({ path: dump }, { roleCreatesDatabases: false });
    expect(main.code).not.toBe(0);
    expect(main.errors.join("\n")).toMatch(/may not create databases.*`target-database-name` and `confirm`/s);
    expect(await snapshot(w.pg, w.dbName)).toEqual(before);
    expect(s.scalingo.rules).toEqual([]);
  });

  it("a failed restore into a fresh database leaves it for inspection and says how to drop it", async () => {
    // pg_restore stops at its first statement: a role to switch to that the instance does not have.
    const { s, main, post } = await restoreStep({ path: dump, "pg-restore-args": "--exit-on-error --no-owner --no-privileges --role=no_such_role" });
    expect(main.code).not.toBe(0);
    expect(post.code, describeStep(post)).toBe(0);
    const left = /The database (restore_\d{8}t\d{6}z) is left as the failure left it, for inspection/.exec(main.errors.join("\n"))?.[1];
    expect(left, main.errors.join("\n")).toBeTruthy();
    expect(main.errors.join("\n")).toContain(`Drop it when done: \`DROP DATABASE "${left}";\``);
    expect(await w.pg.psql(`SELECT count(*) FROM pg_database WHERE datname = '${left}'`)).toBe("1");
    // Not reported as restored; the summary names the phase; the rule is gone.
    expect(main.outputs["restored-database"]).toBeUndefined();
    expect(main.summary).toMatch(/Failed during: restore\./);
    expect(s.scalingo.rules).toEqual([]);
    await w.pg.psql(`DROP DATABASE "${left}"`);
  });

  it("a dump written by a newer pg_dump than the target's server is refused before the firewall opens", async () => {
    const newer = path.join(kept, "newer.dump");
    await copyFile(dump, newer);
    const manifest = JSON.parse(await readFile(`${dump}.manifest.json`, "utf8"));
    await writeFile(`${newer}.manifest.json`, JSON.stringify({ ...manifest, pgDumpVersion: "17.2" }));
    const { s, main } = await restoreStep({ path: newer });
    expect(main.code).not.toBe(0);
    expect(main.errors.join("\n")).toMatch(
      /written by pg_dump 17; the target shop-db-123 runs PostgreSQL 15\.\d+\. .*upgrade the target first\. Nothing was opened\./,
    );
    // Scalingo's database details were read (they give the target's version); no rule was touched.
    expect(s.scalingo.requests.filter((r) => r.path.includes("firewall_rules"))).toEqual([]);
  });

  /** `staging`: the fixture restored and owned by the target's role, then changed (rows deleted). */
  async function staging(name: string): Promise<Record<string, string>> {
    await w.pg.createDatabase(name, "shop_user");
    const bin = path.join(w.pg.binDir, "pg_restore");
    await promisify(execFile)(bin, ["--no-owner", "--no-privileges", "--role=shop_user", "--exit-on-error", "-d", name, dump], {
      env: { PATH: process.env.PATH ?? "", PGHOST: w.pg.socketDir, PGPORT: String(w.pg.port), PGUSER: "postgres" },
    });
    await w.pg.psql("SET ROLE shop_user; DELETE FROM public.orders WHERE id > 3000;", name);
    return snapshot(w.pg, name);
  }

  it("a named target with confirm: restored over it, in one transaction", async () => {
    const changed = await staging("staging_ok");
    const { s, main } = await restoreStep({ path: dump, "target-database-name": "staging_ok", confirm: "staging_ok" });
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.outputs["restored-database"]).toBe("staging_ok");
    expect(main.stdout).toMatch(/pg_restore .*--clean --if-exists --single-transaction/);
    const after = await snapshot(w.pg, "staging_ok");
    expect(after).not.toEqual(changed);
    expect(after).toEqual(await snapshot(w.pg, w.dbName));
    expect(s.scalingo.rules).toEqual([]);
  });

  it("a named target whose restore fails halfway is left exactly as it was", async () => {
    await staging("staging_fail");
    // A view the dump knows nothing of depends on a table the restore must drop and recreate: the
    // restore fails after having dropped other objects; the transaction takes all of it back.
    await w.pg.psql(
      "SET ROLE shop_user; CREATE SCHEMA reports; CREATE VIEW reports.big_orders AS SELECT id FROM public.orders WHERE amount > 100;",
      "staging_fail",
    );
    const before = await snapshot(w.pg, "staging_fail");
    const { s, main } = await restoreStep({ path: dump, "target-database-name": "staging_fail", confirm: "staging_fail" });
    expect(main.code).not.toBe(0);
    expect(main.errors.join("\n")).toMatch(/pg_restore exited with code 1.*It ran in one transaction: staging_fail is unchanged/s);
    expect(await snapshot(w.pg, "staging_fail")).toEqual(before);
    expect(await w.pg.psql("SELECT count(*) FROM reports.big_orders", "staging_fail")).toMatch(/^\d+$/);
    expect(s.scalingo.rules).toEqual([]);
  });

  it("a named target without confirm is refused before anything is contacted", async () => {
    const { s, main } = await restoreStep({ path: dump, "target-database-name": w.dbName });
    expect(main.code).not.toBe(0);
    expect(main.errors.join("\n")).toMatch(/`confirm`: restoring over the existing database "shop_production"/);
    expect(s.scalingo.requests).toEqual([]);
  });

  it("a corrupted dump (sha256 differs from the manifest's) is refused before the firewall opens", async () => {
    const bad = path.join(kept, "corrupt.dump");
    await copyFile(dump, bad);
    const { appendFile } = await import("node:fs/promises");
    await appendFile(bad, "x");
    await copyFile(`${dump}.manifest.json`, `${bad}.manifest.json`);
    const { s, main } = await restoreStep({ path: bad });
    expect(main.code).not.toBe(0);
    expect(main.errors.join("\n")).toMatch(/sha256 is [0-9a-f]{64}, the manifest's [0-9a-f]{64}: the file is not the one the backup wrote/);
    expect(s.scalingo.requests.filter((r) => r.path.includes("firewall_rules"))).toEqual([]);
  });

  it("the sha256 runs while the Scalingo API is read, and a mismatch found after those reads still opens no firewall", async () => {
    // The dump is a FIFO: its hash cannot end before this test writes the bytes, so the action reads
    // the API while the sha256 is pending. A run that opened the firewall before the hash ended would
    // show a firewall request here.
    const fifo = path.join(kept, "slow-corrupt.dump");
    await promisify(execFile)("mkfifo", [fifo]);
    await copyFile(`${dump}.manifest.json`, `${fifo}.manifest.json`);
    const s = await w.scenario({ roleCreatesDatabases: true }, { actionDir: RESTORE_DIR });
    const step = startStep(s.ctx, "main", { ...s.inputs, path: fifo });
    try {
      await vi.waitFor(() => expect(s.scalingo.requests.some((r) => r.method === "GET" && /^\/api\/databases\/[^/]+$/.test(r.path))).toBe(true), {
        timeout: 60_000,
        interval: 100,
      });
      // Time for a run that does not wait for the hash to go on to the firewall (it never may).
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(s.scalingo.requests.filter((r) => r.path.includes("firewall_rules"))).toEqual([]);
      await writeFile(fifo, Buffer.concat([await readFile(dump), Buffer.from("x")]));
      const main = await step.done;
      expect(main.code).not.toBe(0);
      expect(main.errors.join("\n")).toMatch(/sha256 is [0-9a-f]{64}, the manifest's [0-9a-f]{64}: the file is not the one the backup wrote/);
      expect(s.scalingo.requests.filter((r) => r.path.includes("firewall_rules"))).toEqual([]);
      expect(s.scalingo.rules).toEqual([]);
    } finally {
      step.child.kill("SIGKILL");
    }
  });
});
