import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unprivilegedUser } from "../support/os-user.js";
import { runStep, type StepResult, startStep } from "../support/runner.js";
import { describeStep, type Scenario, startWorld, type World } from "./world.js";

const execFileP = promisify(execFile);
// The fixture's tables and rows (test/support/fixture.ts).
const FIXTURE_TABLES = 5;
const FIXTURE_ROWS = 3000 + 4000 + 1001 + 2000 + 3;

/** The throwaway server's folder, from the step's log line. */
function restoreFolder(main: StepResult): string {
  const folder = /throwaway PostgreSQL server for the restore check in (\S+?)(?: \(|\.\n|\.$)/m.exec(main.stdout)?.[1];
  expect(folder, main.stdout).toBeTruthy();
  return folder as string;
}

/** Processes whose command line names `folder`: a server left running. */
function processesUsing(folder: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(folder)) found.push(`${pid}: ${cmdline}`);
    } catch {}
  }
  return found;
}

function expectNothingLeft(main: StepResult) {
  const folder = restoreFolder(main);
  expect(() => readdirSync(folder)).toThrow(/ENOENT/);
  expect(processesUsing(folder)).toEqual([]);
}

describe("verify: restore", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.close());

  async function backup(inputs: Record<string, string>): Promise<{ s: Scenario; main: StepResult }> {
    const s = await w.scenario();
    const main = await runStep(s.ctx, "main", { ...s.inputs, verify: "restore", ...inputs });
    return { s, main };
  }

  it.each(["custom", "directory", "plain"])("%s format: restored, every dumped table holds the rows pg_dump read", async (format) => {
    const { s, main } = await backup({ format, "verify-row-counts": "true", ...(format === "directory" ? { jobs: "2" } : {}) });
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.outputs).toMatchObject({ "restore-verified": "true", tables: String(FIXTURE_TABLES), rows: String(FIXTURE_ROWS) });
    expect(main.summary).toContain("### Restore check");
    expect(main.summary).toContain(`each of the ${FIXTURE_TABLES} dumped table(s) holds exactly the rows pg_dump read`);
    // Largest first, by name, with its rows.
    const order = [...main.summary.matchAll(/^\| (\S+) \| ([\d,]+) \| /gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(order).toEqual(["public.orders 4,000", "public.customers 3,000", "app.events 2,000", "public.blobs 1,001", "public.documents 3"]);
    expect(s.scalingo.rules).toEqual([]);
    expectNothingLeft(main);
  });

  it("plain format with compress 6: the .sql.gz is restored through gzip, row counts and all", async () => {
    const { main } = await backup({ format: "plain", compress: "6", "verify-row-counts": "true" });
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.outputs).toMatchObject({ "restore-verified": "true", tables: String(FIXTURE_TABLES), rows: String(FIXTURE_ROWS) });
    expect(main.outputs["dump-path"]).toMatch(/\.sql\.gz$/);
    // The decompressed copy psql read is gone.
    expect(readdirSync(main.outputs["dump-path"].replace(/\/[^/]+$/, "")).filter((f) => f.endsWith(".restore.sql"))).toEqual([]);
    expectNothingLeft(main);
  });

  it("a view over a table of an excluded schema: the restore fails in pg_restore's words, the night's dump is uploaded all the same, the step fails", async () => {
    await w.pg.psql(
      `SET ROLE shop_user;
       CREATE SCHEMA audit;
       CREATE TABLE audit.logins (id int);
       CREATE VIEW public.recent_logins AS SELECT id FROM audit.logins;`,
      w.dbName,
    );
    try {
      const { s, main } = await backup({ "pg-dump-args": "--no-owner --no-privileges --exclude-schema=audit", "artifact-name": "broken-view" });
      expect(main.code, describeStep(main)).toBe(1);
      const error = main.errors.join("\n");
      expect(error).toMatch(/The dump does not restore: pg_restore exited with code 1/);
      // The object, the SQLSTATE, and the message: its form holds names only.
      expect(error).toMatch(/^- VIEW public\.recent_logins: SQLSTATE 42P01: relation "audit\.logins" does not exist$/m);
      expect(main.summary).toMatch(/Failed during: Restore check/);
      expect(main.summary).toMatch(/relation "audit\.logins" does not exist/);
      expect(main.outputs["restore-verified"]).toBe("false");
      // Its data is intact and it may be the only copy of the night: uploaded, flagged, failed.
      const stored = w.artifacts.artifacts.get("broken-view.dump");
      expect(stored?.finalized).toBe(true);
      expect(stored?.sha256).toBe(main.outputs["dump-sha256"]);
      expect(main.outputs["artifact-name"]).toBe("broken-view.dump");
      expect(main.summary).toMatch(/The dump was kept all the same, as the artifact broken-view\.dump, with restore-verified false\./);
      expect(main.summary).toMatch(/\| Artifact \| \[broken-view\.dump\]\(/);
      expect(main.stdout.trimEnd().split("\n").at(-1)).toMatch(/^What to do: The night's dump is uploaded but did not restore cleanly/);
      expect(main.stdout).not.toMatch(/^Backup done:/m);
      // The kept dump stays on the runner; nothing else the run wrote does.
      expect(await s.leftovers()).toEqual(expect.arrayContaining([main.outputs["dump-path"].split("/").at(-1)]));
      expect(s.scalingo.rules).toEqual([]);
      expectNothingLeft(main);
    } finally {
      await w.pg.psql("DROP SCHEMA audit CASCADE", w.dbName);
    }
  });

  it("rows that fail to restore: their values (in DETAIL, in the ERROR line, in `Command was:`) reach no log, summary or output", async () => {
    // Valid in production; on the restore, one row fails its CHECK (DETAIL: Failing row contains
    // (...)) and one (in another table: a failed row aborts its table's transaction) makes the
    // function raise with the value in its message. --inserts makes pg_restore print each failing
    // INSERT, values and all.
    const [inDetail, inError] = ["detail-value-7q3x@example.org", "raise-value-9k2w@example.org"];
    await w.pg.psql(
      `SET ROLE shop_user;
       CREATE SCHEMA leak;
       CREATE FUNCTION leak.email_ok(e text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $f$
       BEGIN
         IF current_database() = '${w.dbName}' THEN RETURN true; END IF;
         IF e LIKE 'raise%' THEN RAISE EXCEPTION 'bad email %', e; END IF;
         RETURN false;
       END $f$;
       CREATE TABLE leak.contacts (id integer, email text CHECK (leak.email_ok(email)));
       INSERT INTO leak.contacts VALUES (1, '${inDetail}');
       CREATE TABLE leak.invites (id integer, email text CHECK (leak.email_ok(email)));
       INSERT INTO leak.invites VALUES (1, '${inError}');`,
      w.dbName,
    );
    try {
      const { main } = await backup({ "pg-dump-args": "--inserts --no-owner --no-privileges", "artifact-name": "leaky-rows" });
      expect(main.code, describeStep(main)).toBe(1);
      const error = main.errors.join("\n");
      expect(error).toMatch(/^- TABLE DATA leak\.contacts: SQLSTATE 23514: new row for relation "contacts" violates check constraint "contacts_email_check"$/m);
      expect(error).toMatch(/^- TABLE DATA leak\.invites: SQLSTATE P0001: message withheld/m);
      const everything = [main.stdout, main.stderr, main.summary, JSON.stringify(main.outputs), JSON.stringify(main.state)].join("\n");
      for (const value of [inDetail, inError, "7q3x", "9k2w"]) expect(everything).not.toContain(value);
      expect(main.outputs["restore-verified"]).toBe("false");
    } finally {
      await w.pg.psql("DROP SCHEMA leak CASCADE", w.dbName);
    }
  });

  it.runIf(process.getuid?.() === 0)("a non-root step (setpriv, an unprivileged uid): the server runs as that user, and it all goes", async () => {
    const user = unprivilegedUser();
    // The rule takes a while: the server is up, and looked at, before the dump starts.
    const s = await w.scenario({ ruleDelayMs: 8_000 });
    await execFileP("chown", ["-R", `${user.uid}:${user.gid}`, s.ctx.dir]);
    // No SCALINGO_PG_DUMP_SERVER_USER: a non-root step never looks for another user.
    const env = { SCALINGO_PG_DUMP_SERVER_USER: "" };
    const step = startStep(s.ctx, "main", { ...s.inputs, verify: "restore", "verify-row-counts": "true" }, { asUser: user, env });
    await step.waitFor(/throwaway PostgreSQL server for the restore check in/);
    const temp = s.ctx.env.RUNNER_TEMP as string;
    const folder = readdirSync(temp).find((f) => f.startsWith("scalingo-pg-dump-restore-"));
    const pid = Number(readFileSync(`${temp}/${folder}/data/postmaster.pid`, "utf8").split("\n")[0]);
    expect(Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1])).toBe(user.uid);
    const main = await step.done;
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.stdout).not.toMatch(/this step runs as root/);
    expect(main.outputs).toMatchObject({ "restore-verified": "true", rows: String(FIXTURE_ROWS) });
    expectNothingLeft(main);
  });

  it("a row committed while pg_dump runs is in neither count: no false mismatch", async () => {
    // Holds pg_dump at its LOCK TABLE, after it took the exported snapshot; a row goes in meanwhile.
    const holder = new pg.Client({ host: w.pg.socketDir, port: w.pg.port, user: "postgres", database: w.dbName });
    await holder.connect();
    try {
      await holder.query("BEGIN; LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE");
      const s = await w.scenario();
      const step = startStep(s.ctx, "main", { ...s.inputs, verify: "restore", "verify-row-counts": "true" });
      await step.waitFor(/Running pg_dump/);
      for (const deadline = Date.now() + 20_000; ; await sleep(50)) {
        const waiting = await w.pg.psql(
          "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'scalingo-pg-dump' AND wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE%'",
        );
        if (waiting === "1") break;
        if (Date.now() > deadline) throw new Error("pg_dump never waited for the lock");
      }
      await holder.query("INSERT INTO public.orders VALUES (999999, 1, 1, '{}'); COMMIT");
      const main = await step.done;
      expect(main.code, describeStep(main)).toBe(0);
      // The new row is in production but neither pg_dump nor the counts saw it.
      expect(await w.pg.psql("SELECT count(*) FROM public.orders", w.dbName)).toBe("4001");
      expect(main.outputs).toMatchObject({ "restore-verified": "true", rows: String(FIXTURE_ROWS) });
      expect(main.summary).toMatch(/\| public\.orders \| 4,000 \|/);
    } finally {
      await holder.query("ROLLBACK").catch(() => undefined);
      await holder.query("DELETE FROM public.orders WHERE id = 999999");
      await holder.end();
    }
  });

  it("cancelled while the rule propagates: the throwaway server stops and its folder goes, with the rule", async () => {
    const s = await w.scenario({ ruleDelayMs: 20_000 });
    const step = startStep(s.ctx, "main", { ...s.inputs, verify: "restore" });
    await step.waitFor(/throwaway PostgreSQL server for the restore check in/);
    const main = await step.cancel();
    expect(main.code, describeStep(main)).toBe(1);
    expect(main.errors.join("\n")).toMatch(/cancelled/);
    expect(s.scalingo.rules).toEqual([]);
    const folder = restoreFolder(main);
    expect(() => readdirSync(folder)).toThrow(/ENOENT/);
    // pg_ctl's immediate stop returns once postmaster.pid is gone; the processes end a moment later.
    for (const deadline = Date.now() + 5_000; processesUsing(folder).length && Date.now() < deadline; ) await sleep(50);
    expect(processesUsing(folder)).toEqual([]);
  });

  it("main killed outright: the post step stops the server it left running and removes its folder", async () => {
    const s = await w.scenario({ ruleDelayMs: 20_000 });
    const step = startStep(s.ctx, "main", { ...s.inputs, verify: "restore" });
    await step.waitFor(/throwaway PostgreSQL server for the restore check in/);
    step.child.kill("SIGKILL");
    const main = await step.done;
    const folder = restoreFolder(main);
    expect(processesUsing(folder)).not.toEqual([]);
    expect(JSON.parse(main.state["restore-server"] ?? "{}")).toMatchObject({ folder });
    const post = await runStep(s.ctx, "post", s.inputs, { state: main.state });
    expect(post.code, describeStep(post)).toBe(0);
    expect(post.stdout).toContain("Stopped the restore check's server that the main step left running");
    expect(() => readdirSync(folder)).toThrow(/ENOENT/);
    for (const deadline = Date.now() + 5_000; processesUsing(folder).length && Date.now() < deadline; ) await sleep(50);
    expect(processesUsing(folder)).toEqual([]);
    expect(s.scalingo.rules).toEqual([]);
  });
});
