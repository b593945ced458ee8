import { copyFile, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processesWith } from "../support/processes.js";
import { REPO_ROOT, runStep, startStep } from "../support/runner.js";
import { until } from "../support/until.js";
import { describeStep, startWorld, type World } from "./world.js";

const RESTORE_DIR = path.join(REPO_ROOT, "restore");

/** The pg_restore processes (the leader and its -j workers) restoring into `database` from a file under `under`. */
async function pgRestoresInto(database: string, under: string): Promise<number[]> {
  const pids = await processesWith("pg_restore", `--dbname=${database}`);
  const ours: number[] = [];
  for (const pid of pids) {
    const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0");
    if (argv.some((word) => word.startsWith(under))) ours.push(pid);
  }
  return ours;
}

// The restore's main killed outright (SIGKILL: the runner's last word, or the OOM killer) runs no
// handler: its pg_restore goes on, the decrypted dump stays in the private folder, the rule stays
// open. The restore's post step (restore/action.yml `post-if: always()`) must stop the first,
// remove the second, then the third, from main's saved state alone.
describe("the restore action, main SIGKILLed during pg_restore", () => {
  let w: World;
  let kept: string;
  let dump: string;
  let identity: string;
  let frozen: { pids: number[]; database: string; under: string } | undefined;

  beforeAll(async () => {
    w = await startWorld();
    // Enough rows that pg_restore is still running when the test looks.
    await w.pg.psql("CREATE TABLE public.zz_big AS SELECT g AS id, repeat('x', 120) AS pad FROM generate_series(1, 300000) g", w.dbName);
    await w.pg.psql("GRANT SELECT ON public.zz_big TO shop_user", w.dbName);
    identity = await generateIdentity();
    const s = await w.scenario();
    const main = await runStep(s.ctx, "main", { ...s.inputs, upload: "false", verify: "false", "encryption-recipients": await identityToRecipient(identity) });
    expect(main.code, describeStep(main)).toBe(0);
    kept = await mkdtemp(path.join(tmpdir(), "kept-encrypted-backup-"));
    dump = path.join(kept, path.basename(main.outputs["dump-path"]));
    await copyFile(main.outputs["dump-path"], dump);
    await copyFile(main.outputs["manifest-path"], `${dump}.manifest.json`);
  }, 300_000);
  afterAll(async () => {
    // A failing run must not leave the frozen pg_restore behind (those pids, if they still are it).
    if (frozen) for (const pid of await pgRestoresInto(frozen.database, frozen.under)) process.kill(pid, "SIGKILL");
    await w?.close();
    if (kept) await rm(kept, { recursive: true, force: true });
  });

  it("post stops the pg_restore main left running, removes the private folder with the decrypted dump, then the rule", async () => {
    const s = await w.scenario({ roleCreatesDatabases: true }, { actionDir: RESTORE_DIR });
    const temp = s.ctx.env.RUNNER_TEMP as string;
    const inputs = { ...s.inputs, path: dump, "decryption-identity": identity };
    const step = startStep(s.ctx, "main", inputs);
    let database = "";
    step.child.stdout?.on("data", (chunk: Buffer | string) => {
      database ||= /Created the database (\S+)\./.exec(String(chunk))?.[1] ?? "";
    });
    await step.waitFor(/Running \S+\/pg_restore /, 120_000).catch(async (error) => {
      throw new Error(`${error}\n${describeStep(await step.done)}`);
    });
    expect(database).toMatch(/^restore_\d{8}t\d{6}z$/);
    const folder = path.join(temp, (await readdir(temp)).find((name) => name.startsWith("scalingo-pg-dump-restore-")) ?? "(none)");
    const pids = await until("the pg_restore processes", async () => {
      const found = await pgRestoresInto(database, folder);
      return found.length ? found : undefined;
    });
    // Frozen, so it is still there for post whatever the machine's speed (coreutils timeout, whose
    // pid main recorded, sends the TERM on with a CONT to its whole group).
    for (const pid of pids) process.kill(pid, "SIGSTOP");
    // A -j worker forked between the scan and the leader's freeze: frozen too (a frozen leader forks no more).
    for (const pid of await pgRestoresInto(database, folder)) {
      if (pids.includes(pid)) continue;
      pids.push(pid);
      process.kill(pid, "SIGSTOP");
    }
    frozen = { pids, database, under: folder };
    step.child.kill("SIGKILL");
    const main = await step.done;
    expect(main.signal).toBe("SIGKILL");
    // What main left: pg_restore, the decrypted dump in the private folder, the rule.
    expect((await pgRestoresInto(database, folder)).sort()).toEqual([...pids].sort());
    const plaintext = await readdir(folder);
    expect(plaintext.length).toBeGreaterThan(0);
    expect(s.scalingo.rules).toHaveLength(1);

    const post = await runStep(s.ctx, "post", inputs, { state: main.state });
    expect(post.code, describeStep(post)).toBe(0);
    expect(await pgRestoresInto(database, folder)).toEqual([]);
    await expect(readdir(folder)).rejects.toThrow(/ENOENT/);
    expect(s.scalingo.rules).toEqual([]);
    const order = [
      "Stopped the pg_restore that the main step left running.",
      "Removed the restore's private folder that the main step left.",
      "Removed the temporary firewall rule",
    ].map((line) => post.stdout.indexOf(line));
    expect(
      order.every((at) => at >= 0),
      post.stdout,
    ).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    // The database main was restoring into is left for inspection, as a failed restore leaves it.
    expect(await w.pg.psql(`SELECT count(*) FROM pg_database WHERE datname = '${database}'`)).toBe("1");
  }, 300_000);
});
