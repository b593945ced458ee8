// The restore check's modules against real binaries: the test PostgreSQL as production, a real
// throwaway server, real pg_dump and pg_restore. Broken dumps are made by damaging real ones.
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActionError } from "../src/errors.js";
import { restoreCheck } from "../src/restore-check/check.js";
import { openSnapshot } from "../src/restore-check/row-counts.js";
import { removeLeftoverServer, type SavedServer, startThrowawayServer, type ThrowawayServer } from "../src/restore-check/throwaway-server.js";
import { type CommandRunner, runCommand } from "../src/runner/commands.js";
import { seedFixture } from "./support/fixture.js";
import { unprivilegedUser } from "./support/os-user.js";
import { type PgServer, startPostgres } from "./support/postgres.js";
import { tempBase } from "./support/postgres-exec.js";

const execFileP = promisify(execFile);
const ROLE = "shop_user";
const PASSWORD = "pw-restore-check";
const DB = "shop";
const ROWS = { "public.customers": 3000, "public.orders": 4000, "public.blobs": 1001, "app.events": 2000, "public.documents": 3 };
const root = process.getuid?.() === 0;

describe("restore check (modules, real binaries)", () => {
  let source: PgServer;
  let dir: string;
  const servers: ThrowawayServer[] = [];

  const dumpEnv = () => ({
    PATH: process.env.PATH ?? "",
    PGHOST: "127.0.0.1",
    PGPORT: String(source.port),
    PGUSER: ROLE,
    PGPASSWORD: PASSWORD,
    PGDATABASE: DB,
    PGSSLMODE: "require",
  });
  async function pgDump(file: string, args: string[] = []): Promise<void> {
    await execFileP(path.join(source.binDir, "pg_dump"), [`--file=${file}`, "--no-owner", "--no-privileges", ...args], { env: dumpEnv() });
  }
  async function server(tempDir = dir): Promise<ThrowawayServer> {
    const s = await startThrowawayServer({ binDir: source.binDir, tempDir, role: ROLE, root, serverUser: unprivilegedUser().name });
    servers.push(s);
    return s;
  }
  const connection = () => ({ host: "127.0.0.1", port: source.port, user: ROLE, password: PASSWORD, database: DB, sslmode: "require" });
  const check = (s: ThrowawayServer, format: "custom" | "directory" | "tar" | "plain", file: string) =>
    restoreCheck({ format, source: file, clientDir: source.binDir, server: s, jobs: 2 });

  beforeAll(async () => {
    source = await startPostgres();
    await source.createRole(ROLE, PASSWORD);
    await source.createDatabase(DB, ROLE);
    await seedFixture(source, DB, ROLE);
    await source.allowCidr("127.0.0.1/32");
    // As root the server runs as another user, which must reach the folder: a traversable base.
    dir = await mkdtemp(path.join(await tempBase(root), "restore-check-"));
    if (root) await execFileP("chmod", ["0755", dir]);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
    await source?.stop();
  });

  it("restores a custom dump in its own private folder under the temp dir, and stop() leaves nothing", async () => {
    const file = path.join(dir, "good.dump");
    await pgDump(file, ["--format=c"]);
    const s = await server();
    expect(path.dirname(s.folder)).toBe(dir);
    // As root, others may pass through (the server's user must reach its two subfolders), not list it.
    expect((await stat(s.folder)).mode & 0o777).toBe(root ? 0o711 : 0o700);
    expect((await stat(path.join(s.folder, "data"))).mode & 0o777).toBe(0o700);
    const report = await check(s, "custom", file);
    expect(Object.fromEntries(report.tables.map((t) => [`${t.schema}.${t.name}`, t.rows]))).toEqual(ROWS);
    expect(report.tables.map((t) => t.name)).toEqual(["orders", "customers", "events", "blobs", "documents"]);
    expect(report.rows).toBe(10_004);
    // Only a Unix socket in the private folder: nothing listens on TCP.
    expect(path.dirname(s.socketDir)).toBe(s.folder);
    expect((await readdir(s.socketDir)).filter((f) => f.startsWith(".s.PGSQL"))).toEqual([".s.PGSQL.5432", ".s.PGSQL.5432.lock"]);
    const pid = Number(readFileSync(path.join(s.folder, "data", "postmaster.pid"), "utf8").split("\n")[0]);
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")).toContain("listen_addresses=");
    if (root) expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(/^Uid:\s+[1-9]\d*\s/m);
    await s.stop();
    await expect(stat(s.folder)).rejects.toThrow(/ENOENT/);
    // pg_ctl returns once postmaster.pid is gone; the process itself ends a moment later.
    for (const deadline = Date.now() + 5_000; isRunning(pid) && Date.now() < deadline; ) await sleep(20);
    expect(isRunning(pid)).toBe(false);
  });

  it("a truncated custom dump fails, in pg_restore's words", async () => {
    const file = path.join(dir, "truncated.dump");
    await pgDump(file, ["--format=c", "--compress=0"]);
    await truncate(file, Math.floor((await stat(file)).size * 0.6));
    const error = await check(await server(), "custom", file).catch((e) => e);
    expect(error).toBeInstanceOf(ActionError);
    expect(error.phase).toBe("restore");
    expect(error.message).toMatch(/The dump does not restore: pg_restore exited with code 1:\n- (.*: )?could not read from input file: end of file/);
  });

  it("a corrupted custom dump (bytes overwritten in the compressed data) fails", async () => {
    const file = path.join(dir, "corrupted.dump");
    await pgDump(file, ["--format=c"]);
    const handle = await open(file, "r+");
    const { size } = await handle.stat();
    await handle.write(Buffer.alloc(4096, 0x5a), 0, 4096, Math.floor(size * 0.5));
    await handle.close();
    const error = await check(await server(), "custom", file).catch((e) => e);
    expect(error).toBeInstanceOf(ActionError);
    expect(error.message).toMatch(/pg_restore exited with code 1:\n- /);
  });

  it("a directory dump missing a data file fails; a whole one restores with jobs", async () => {
    const good = path.join(dir, "dir-good");
    await pgDump(good, ["--format=d", "--jobs=2"]);
    expect((await check(await server(), "directory", good)).rows).toBe(10_004);
    const broken = path.join(dir, "dir-broken");
    await mkdir(broken);
    const files = await readdir(good);
    for (const f of files) await copyFile(path.join(good, f), path.join(broken, f));
    const biggest = (await Promise.all(files.filter((f) => f !== "toc.dat").map(async (f) => ({ f, size: (await stat(path.join(broken, f))).size })))).sort(
      (a, b) => b.size - a.size,
    )[0];
    await rm(path.join(broken, biggest?.f as string));
    const error = await check(await server(), "directory", broken).catch((e) => e);
    expect(error.message).toMatch(/pg_restore exited with code 1:\n- (.*: )?could not open input file ".*\.dat": No such file or directory/);
  });

  it('an object that does not restore: pg_restore goes on, exits 1 with "errors ignored on restore", and the check fails naming it', async () => {
    // A database of its own, so the fixture's counts stay as the other cases expect them.
    await source.createDatabase("broken_view", ROLE);
    await source.psql(
      `SET ROLE ${ROLE};
       CREATE SCHEMA audit;
       CREATE TABLE audit.logins (id int);
       CREATE TABLE public.kept (id int);
       INSERT INTO public.kept VALUES (1), (2);
       CREATE VIEW public.recent_logins AS SELECT id FROM audit.logins;`,
      "broken_view",
    );
    const file = path.join(dir, "broken-view.dump");
    await execFileP(path.join(source.binDir, "pg_dump"), [`--file=${file}`, "--format=c", "--no-owner", "--no-privileges", "--exclude-schema=audit"], {
      env: { ...dumpEnv(), PGDATABASE: "broken_view" },
    });
    // The real pg_restore's answers, as the check saw them.
    const results: { args: string[]; code: number; stderr: string }[] = [];
    const run: CommandRunner = async (file, args, options) => {
      const result = await runCommand(file, args, options);
      if (file.endsWith("pg_restore")) results.push({ args, code: result.code, stderr: result.stderr });
      return result;
    };
    const error = await restoreCheck({ format: "custom", source: file, clientDir: source.binDir, server: await server(), jobs: 2, run }).catch((e) => e);
    const restored = results.find((r) => r.args.some((a) => a.startsWith("--use-list=")) && r.code !== 0);
    expect(restored?.code).toBe(1);
    expect(restored?.stderr).toMatch(/errors ignored on restore: 1/);
    expect(error).toBeInstanceOf(ActionError);
    expect(error.phase).toBe("restore");
    expect(error.message).toMatch(
      /^The dump does not restore: pg_restore exited with code 1:\n- VIEW public\.recent_logins: SQLSTATE 42P01: relation "audit\.logins" does not exist$/,
    );
  });

  it("plain dumps compressed by pg_dump (gzip) or as one zstd/lz4 stream restore through their decompression, rows compared", async () => {
    const plain = path.join(dir, "plain.sql");
    const counter = await openSnapshot(connection(), { allowPlain: false, serverVersionNum: 150000, rowSecurity: false });
    try {
      await pgDump(plain, ["--format=p", `--snapshot=${counter.snapshot}`]);
      await pgDump(`${plain}.gz`, ["--format=p", "--compress=6", `--snapshot=${counter.snapshot}`]);
      const counted = await counter.countAll();
      // pg_dump 16+ writes these itself; one zstd or lz4 stream of the SQL is the same file.
      await execFileP("zstd", ["-q", "-f", plain, "-o", `${plain}.zst`]);
      await execFileP("lz4", ["-q", "-f", plain, `${plain}.lz4`]);
      for (const [file, compression] of [
        [`${plain}.gz`, "6"],
        [`${plain}.zst`, "zstd"],
        [`${plain}.lz4`, "lz4"],
      ] as const) {
        const report = await restoreCheck({
          format: "plain",
          compress: compression,
          source: file,
          clientDir: source.binDir,
          server: await server(),
          jobs: 2,
          counted,
        });
        expect([compression, report.compared, report.rows]).toEqual([compression, 5, 10_004]);
      }
      // A file of the user's beside the dump, with the name the plaintext copy once had: untouched.
      const neighbour = `${plain}.gz.restore.sql`;
      await writeFile(neighbour, "a file the action did not create\n");
      const partial = new Set<string>();
      await restoreCheck({ format: "plain", compress: "6", source: `${plain}.gz`, clientDir: source.binDir, server: await server(), jobs: 2, partial });
      expect(await readFile(neighbour, "utf8")).toBe("a file the action did not create\n");
      expect(partial.size).toBe(0);
      await rm(neighbour);
      // Cut short: the stream is broken, and the check says so.
      await truncate(`${plain}.gz`, Math.floor((await stat(`${plain}.gz`)).size / 2));
      const error = await restoreCheck({
        format: "plain",
        compress: "6",
        source: `${plain}.gz`,
        clientDir: source.binDir,
        server: await server(),
        jobs: 2,
      }).catch((e) => e);
      expect(error).toBeInstanceOf(ActionError);
      expect(error.message).toMatch(/Could not decompress the plain dump \(gzip\): unexpected end of file/);
      // No partial plaintext copy is left beside the dump.
      expect((await readdir(dir)).filter((f) => f.startsWith(".scalingo-pg-dump-restore-") || f.endsWith(".restore.sql"))).toEqual([]);
    } finally {
      await counter.close();
    }
  });

  it("the server's folder is saved before pg_ctl start, and post stops the server from that record alone", async () => {
    // Issue 17 item 6: a main killed while the server starts leaves a record post can act on.
    let saved: SavedServer | undefined;
    let savedWhenStarting: SavedServer | undefined;
    const run: CommandRunner = (file, args, options) => {
      if ([file, ...args].some((a) => a.endsWith("/pg_ctl")) && args.at(-1) === "start") savedWhenStarting = saved;
      return runCommand(file, args, options);
    };
    const s = await startThrowawayServer({
      binDir: source.binDir,
      tempDir: dir,
      role: ROLE,
      root,
      serverUser: unprivilegedUser().name,
      run,
      onFolder: (record) => {
        saved = record;
      },
    });
    expect(savedWhenStarting?.folder).toBe(s.folder);
    const pid = Number((await readFile(path.join(s.folder, "data", "postmaster.pid"), "utf8").catch(() => "")).split("\n")[0]);
    if (!root) expect(pid).toBeGreaterThan(0);
    // Main is gone: only the JSON record is left, as post reads it from the state.
    expect(await removeLeftoverServer(JSON.parse(JSON.stringify(savedWhenStarting)))).toBe(true);
    await expect(stat(s.folder)).rejects.toThrow(/ENOENT/);
    // A stopped postmaster may linger as a zombie until its adoptive parent reaps it: not running.
    if (pid > 0) {
      const state = (await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "")).replace(/^.*\) /s, "")[0];
      expect(state === undefined || state === "Z").toBe(true);
    }
  });

  it("the post step's cleanup touches only a folder the action created", async () => {
    const other = await mkdtemp(path.join(dir, "not-ours-"));
    await mkdir(path.join(other, "data"));
    await writeFile(path.join(other, "data", "PG_VERSION"), "15\n");
    expect(await removeLeftoverServer({ folder: other, binDir: source.binDir })).toBe(false);
    expect((await stat(other)).isDirectory()).toBe(true);
  });

  it("falls back to /tmp when the server's user cannot reach the temp dir (root only)", async () => {
    if (!root) return;
    const closed = await mkdtemp(path.join(dir, "closed-"));
    await execFileP("chmod", ["0700", closed]);
    const s = await server(closed);
    expect(s.folder).toMatch(/^\/tmp\/scalingo-pg-dump-restore-/);
    expect(s.osUser?.name).toBe(unprivilegedUser().name);
    await s.stop();
    await expect(stat(s.folder)).rejects.toThrow(/ENOENT/);
  });

  describe("row counts in pg_dump's snapshot", () => {
    const orders = async () => Number(await source.psql("SELECT count(*) FROM public.orders", DB));

    it("a row committed after the export is neither dumped nor counted; without --snapshot it would be dumped", async () => {
      const counter = await openSnapshot(connection(), { allowPlain: false, serverVersionNum: 150000, rowSecurity: false });
      try {
        await source.psql("INSERT INTO public.orders VALUES (777777, 1, 1, '{}')", DB);
        const inSnapshot = path.join(dir, "snap.dump");
        const fresh = path.join(dir, "fresh.dump");
        await Promise.all([pgDump(inSnapshot, ["--format=c", `--snapshot=${counter.snapshot}`]), pgDump(fresh, ["--format=c"])]);
        const counted = await counter.countAll();
        expect(counted.find((t) => t.name === "orders")?.rows).toBe(4000);
        expect(await orders()).toBe(4001);
        // The snapshot's dump matches the counts exactly; a dump in its own snapshot would not.
        const s = await server();
        const report = await restoreCheck({ format: "custom", source: inSnapshot, clientDir: source.binDir, server: s, jobs: 2, counted });
        expect(report.compared).toBe(5);
        const other = await server();
        const mismatch = await restoreCheck({ format: "custom", source: fresh, clientDir: source.binDir, server: other, jobs: 2, counted }).catch((e) => e);
        expect(mismatch.message).toMatch(/public\.orders: 4000 row\(s\) in pg_dump's snapshot, 4001 restored\./);
      } finally {
        await counter.close();
        await source.psql("DELETE FROM public.orders WHERE id = 777777", DB);
      }
    });

    it("holds no table lock between counts: DDL is not queued behind the open transaction", async () => {
      const counter = await openSnapshot(connection(), { allowPlain: false, serverVersionNum: 150000, rowSecurity: false });
      try {
        await counter.countAll();
        // NOWAIT: fails at once if any lock on the table is still held by the counting transaction.
        await source.psql("BEGIN; LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE NOWAIT; ROLLBACK;", DB);
      } finally {
        await counter.close();
      }
    });

    it("plain dumps: tables come from their COPY blocks", async () => {
      const counter = await openSnapshot(connection(), { allowPlain: false, serverVersionNum: 150000, rowSecurity: false });
      try {
        const file = path.join(dir, "snap.sql");
        await pgDump(file, ["--format=p", `--snapshot=${counter.snapshot}`, "--exclude-table-data=public.blobs"]);
        const counted = await counter.countAll();
        const report = await restoreCheck({ format: "plain", source: file, clientDir: source.binDir, server: await server(), jobs: 2, counted });
        // blobs' rows were excluded: its table is restored empty and not compared.
        expect(report.compared).toBe(4);
        expect(report.tables.find((t) => t.name === "blobs")?.rows).toBe(0);
      } finally {
        await counter.close();
      }
    });
  });

  it("stop() ends every server: no process runs from a restore folder", async () => {
    await Promise.all(servers.map((s) => s.stop()));
    const deadline = Date.now() + 5_000;
    while (serverProcesses(dir).length && Date.now() < deadline) await sleep(20);
    expect(serverProcesses(dir)).toEqual([]);
  });
});

function isRunning(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** Processes whose command line names a restore folder under `dir` or /tmp. */
function serverProcesses(dir: string): string[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        return isRunning(Number(pid)) && (cmdline.includes(`${dir}/scalingo-pg-dump-restore-`) || cmdline.includes("/tmp/scalingo-pg-dump-restore-"));
      } catch {
        return false;
      }
    });
}
