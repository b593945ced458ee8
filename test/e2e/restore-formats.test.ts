import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { snapshot } from "../support/fixture.js";
import { unprivilegedUser } from "../support/os-user.js";
import { allWrittenText, REPO_ROOT, runStep, type StepResult } from "../support/runner.js";
import { describeStep, leakedSecrets, startWorld, type World } from "./world.js";

// Every format the backup action writes, restored by the bundled restore action from what the
// backup produced (its dump and its manifest, side by side as `path` finds them): the directory
// format's tar, tar, plain and gzip'd plain beside the custom format of restore-action.test.ts.
const RESTORE_DIR = path.join(REPO_ROOT, "restore");
const FIXTURE_TABLES = 5;
const FIXTURE_ROWS = 3000 + 4000 + 1001 + 2000 + 3;
const SLOW = { timeout: 240_000 };

describe("the restore action restores every format the backup writes", () => {
  let w: World;
  let original: Record<string, string>;
  let kept: string;
  beforeAll(async () => {
    w = await startWorld();
    original = await snapshot(w.pg, w.dbName);
    kept = await mkdtemp(path.join(tmpdir(), "kept-backups-"));
  });
  afterAll(async () => {
    await w?.close();
    await rm(kept, { recursive: true, force: true });
  });

  /** A backup with its restore check (so the manifest counts rows): its dump and manifest, kept in `kept`. */
  async function backup(inputs: Record<string, string>): Promise<string> {
    const s = await w.scenario();
    const main = await runStep(s.ctx, "main", { ...s.inputs, verify: "restore", upload: "false", ...inputs });
    expect(main.code, describeStep(main)).toBe(0);
    const dump = path.join(kept, path.basename(main.outputs["dump-path"] as string));
    await copyFile(main.outputs["dump-path"] as string, dump);
    await copyFile(main.outputs["manifest-path"] as string, `${dump}.manifest.json`);
    return dump;
  }

  /** Restores `inputs` into a fresh database, then checks counts, data, the rule and the private folder. */
  async function restoreAndCompare(
    backupInputs: Record<string, string>,
    o: { asUser?: { uid: number; gid: number }; restoreInputs?: Record<string, string> } = {},
  ): Promise<StepResult> {
    const backedUp = await backup(backupInputs);
    // The next scenario ends the backup's: the dump goes into the restore's workspace, as a download would.
    const s = await w.scenario({ roleCreatesDatabases: true }, { actionDir: RESTORE_DIR });
    const dump = path.join(s.ctx.env.GITHUB_WORKSPACE as string, "backup", path.basename(backedUp));
    await mkdir(path.dirname(dump));
    await copyFile(backedUp, dump);
    await copyFile(`${backedUp}.manifest.json`, `${dump}.manifest.json`);
    if (o.asUser) await promisify(execFile)("chown", ["-R", `${o.asUser.uid}:${o.asUser.gid}`, s.ctx.dir]);
    const inputs = { ...s.inputs, path: dump, ...o.restoreInputs };
    const main = await runStep(s.ctx, "main", inputs, o.asUser ? { asUser: o.asUser } : {});
    const post = await runStep(s.ctx, "post", inputs, { state: main.state, ...(o.asUser ? { asUser: o.asUser } : {}) });
    expect(main.code, describeStep(main)).toBe(0);
    expect(post.code, describeStep(post)).toBe(0);
    expect(main.outputs).toMatchObject({ tables: String(FIXTURE_TABLES), rows: String(FIXTURE_ROWS) });
    expect(main.stdout).toContain(`each of the ${FIXTURE_TABLES} table(s) in the manifest holds exactly its rows`);
    const restored = main.outputs["restored-database"] as string;
    expect(await snapshot(w.pg, restored)).toEqual(original);
    expect(s.scalingo.rules).toEqual([]);
    // Nothing left: no private folder, no decompressed or unpacked copy anywhere in the runner's folders.
    expect((await readdir(s.ctx.env.RUNNER_TEMP as string)).filter((f) => f.startsWith("scalingo-pg-dump-restore-"))).toEqual([]);
    expect(await readdir(path.dirname(dump))).toEqual([path.basename(dump), `${path.basename(dump)}.manifest.json`].sort());
    expect(leakedSecrets(await allWrittenText(s.ctx, [main, post]), s.secrets())).toEqual([]);
    await w.pg.psql(`DROP DATABASE "${restored}"`);
    return main;
  }

  it("directory format (its tar), dumped with 2 jobs, restored with workers", SLOW, async () => {
    const main = await restoreAndCompare({ format: "directory", jobs: "2" }, { restoreInputs: { jobs: "2" } });
    expect(main.stdout).toMatch(/: directory dump, sha256 matches the manifest/);
    expect(main.stdout).toMatch(/pg_restore .*--jobs=2 /);
  });

  it("tar format", SLOW, async () => {
    const main = await restoreAndCompare({ format: "tar" });
    expect(main.stdout).toMatch(/: tar dump, sha256 matches the manifest/);
  });

  it("plain format, through psql", SLOW, async () => {
    const main = await restoreAndCompare({ format: "plain" });
    expect(main.stdout).toMatch(/: plain dump, sha256 matches the manifest/);
    expect(main.stdout).toMatch(/psql -X -q -v ON_ERROR_STOP=1/);
  });

  it("plain format compressed with gzip (.sql.gz)", SLOW, async () => {
    const main = await restoreAndCompare({ format: "plain", compress: "6" });
    expect(main.stdout).toMatch(/\.sql\.gz: plain dump \(gzip\), sha256 matches the manifest/);
  });

  it.runIf(process.getuid?.() === 0)("as an unprivileged uid (setpriv), as a hosted runner's `runner` user: restored, nothing left behind", SLOW, async () => {
    const user = unprivilegedUser();
    const main = await restoreAndCompare({ format: "directory" }, { asUser: user });
    expect(main.stdout).toMatch(/: directory dump/);
  });
});
