import { readFile, stat } from "node:fs/promises";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processesWith } from "../support/processes.js";
import { runStep, startStep } from "../support/runner.js";
import { until } from "../support/until.js";
import { describeStep, startWorld, type World } from "./world.js";

/** The pids of the pg_dump processes whose command line names `file`. */
const pgDumpsWriting = (file: string) => processesWith("pg_dump", `--file=${file}`);

// A main killed outright (SIGKILL: the runner's last word, or the OOM killer) runs no handler. Its
// pg_dump goes on writing production's rows, and its connection may outlive the rule: the post
// step must stop it, then remove the partial dump, then the rule.
describe("a SIGKILLed main", () => {
  let w: World;
  let frozen: { pid: number; file: string } | undefined;
  beforeAll(async () => {
    w = await startWorld();
    // Enough rows that pg_dump is still writing when the test looks (about 60 MB of COPY data).
    await w.pg.psql("CREATE TABLE public.zz_big AS SELECT g AS id, repeat('x', 120) AS pad FROM generate_series(1, 500000) g", w.dbName);
    await w.pg.psql("GRANT SELECT ON public.zz_big TO shop_user", w.dbName);
  });
  afterAll(async () => {
    // A failing run must not leave the frozen pg_dump behind (that pid, if it is still that pg_dump).
    if (frozen && (await pgDumpsWriting(frozen.file)).includes(frozen.pid)) process.kill(frozen.pid, "SIGKILL");
    await w?.close();
  });

  it("post stops the pg_dump main left writing, removes the partial dump, then the rule", async () => {
    const s = await w.scenario();
    const dumpPath = path.join(s.ctx.env.RUNNER_TEMP, "killed", "backup.sql");
    const step = startStep(s.ctx, "main", { ...s.inputs, format: "plain", path: dumpPath, verify: "false" });
    await step.waitFor(/Running pg_dump/, 60_000).catch(async (error) => {
      throw new Error(`${error}\n${describeStep(await step.done)}`);
    });
    // Rows written: past the small tables, into the big one's rows (checked below once frozen).
    await until("pg_dump writing rows", async () => ((await stat(dumpPath).catch(() => ({ size: 0 }))).size > 2_000_000 ? true : undefined));
    const [pid] = await until("the pg_dump process", async () => {
      const pids = await pgDumpsWriting(dumpPath);
      return pids.length ? pids : undefined;
    });
    // Frozen, so it is still there for post whatever the machine's speed; SIGKILL reaches it anyway.
    process.kill(pid, "SIGSTOP");
    frozen = { pid, file: dumpPath };
    step.child.kill("SIGKILL");
    const main = await step.done;
    expect(main.signal).toBe("SIGKILL");
    expect(await readFile(dumpPath, "utf8")).toMatch(/COPY public\.zz_big[^\n]*\n1\txxx/);
    expect(await pgDumpsWriting(dumpPath)).toEqual([pid]);
    expect(s.scalingo.rules).toHaveLength(1);

    const post = await runStep(s.ctx, "post", s.inputs, { state: main.state });
    expect(post.code, describeStep(post)).toBe(0);
    expect(await pgDumpsWriting(dumpPath)).toEqual([]);
    await expect(stat(dumpPath)).rejects.toThrow(/ENOENT/);
    expect(s.scalingo.rules).toEqual([]);
    expect(post.stdout).toContain("Stopped the pg_dump that the main step left running.");
    const order = ["Stopped the pg_dump", "Removed what the main step left unfinished", "Removed the temporary firewall rule"].map((t) =>
      post.stdout.indexOf(t),
    );
    expect(order).toEqual([...order].sort((a, b) => a - b));
  }, 300_000);
});
