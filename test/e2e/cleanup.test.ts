import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allWrittenText, runStep, type StepResult, startStep } from "../support/runner.js";
import { describeStep, leakedSecrets, type Scenario, startWorld, type World } from "./world.js";

const run = promisify(execFile);
// Mounting needs root: CI here is root, GitHub's hosted runners have password-less sudo.
const asRoot = (file: string, args: string[]) => (process.getuid?.() === 0 ? run(file, args) : run("sudo", ["-n", file, ...args]));
const RECENT = new Date(Date.now() - 3600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
const LONG_AGO = new Date(Date.now() - 48 * 3600_000).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The parent's pid, from /proc/<pid>/stat (the field after the parenthesised command name). */
async function parentOf(pid: string): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return /\) \S (\d+)/.exec(stat)?.[1];
}

/** Whether `pid` descends from `ancestor`: other pg_dumps on the machine (other test files) are not this step's. */
async function descendsFrom(pid: string, ancestor: number): Promise<boolean> {
  for (let p: string | undefined = pid; p && p !== "0" && p !== "1"; p = await parentOf(p)) if (Number(p) === ancestor) return true;
  return false;
}

/** The step's pg_dump processes running now, with their argv and environment as /proc shows them. */
async function pgDumpProcesses(stepPid: number): Promise<{ cmdline: string; environ: string }[]> {
  const found = [];
  for (const pid of (await readdir("/proc")).filter((d) => /^\d+$/.test(d))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.split("\0")[0].endsWith("/pg_dump") && (await descendsFrom(pid, stepPid)))
      found.push({ cmdline: cmdline.replaceAll("\0", " "), environ: await readFile(`/proc/${pid}/environ`, "utf8").catch(() => "") });
  }
  return found;
}

// The one thing the action must never do: leave the database allowlisted for the runner's IP.
describe("the temporary rule never outlives the job", () => {
  let w: World;
  // Each scenario's output and files, read before the next scenario removes its runner folder.
  const scanned: { text: string; secrets: string[] }[] = [];
  const record = async (s: Scenario, ...steps: StepResult[]) => {
    scanned.push({ text: await allWrittenText(s.ctx, steps), secrets: s.secrets() });
  };
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.close());

  it("reuses an existing rule for the runner's /32 (another job's) and leaves it in place", async () => {
    const s = await w.scenario();
    const other = await s.scalingo.seedRule({ type: "custom_range", cidr: "127.0.0.1/32", label: `scalingo-pg-dump acme/shop run 5/1 job other at ${RECENT}` });
    const main = await runStep(s.ctx, "main", s.inputs);
    await record(s, main);
    const post = await runStep(s.ctx, "post", s.inputs, { state: main.state });
    await record(s, post);
    expect(main.code, describeStep(main)).toBe(0);
    expect(post.code).toBe(0);
    expect(main.outputs["firewall-rule-id"]).toBe(other.id);
    expect(s.scalingo.rules.map((r) => r.id)).toEqual([other.id]);
    expect(s.scalingo.requests.filter((r) => r.method !== "GET" && r.path.includes("firewall"))).toEqual([]);
    expect(main.summary).toContain("an existing rule was reused and left in place");
  });

  it("removes the rule as soon as pg_dump fails, fails with pg_dump's message, keeps no partial dump, and never shows secrets to ps", async () => {
    const s = await w.scenario();
    // An exclusive lock held elsewhere makes pg_dump give up after it started.
    const locker = new pg.Client({ host: w.pg.socketDir, port: w.pg.port, user: "postgres", database: w.dbName });
    await locker.connect();
    await locker.query("BEGIN; LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE");
    try {
      const args = "--no-owner --no-privileges --lock-wait-timeout=4000";
      const step = startStep(s.ctx, "main", { ...s.inputs, "pg-dump-args": args });
      await step.waitFor(/Running pg_dump/, 30_000);
      let seen: { cmdline: string; environ: string }[] = [];
      for (let i = 0; i < 40 && seen.length === 0; i++) {
        seen = await pgDumpProcesses(step.pid);
        await new Promise((r) => setTimeout(r, 50));
      }
      const main = await step.done;
      await record(s, main);
      expect(seen.length).toBeGreaterThan(0);
      for (const p of seen) {
        expect(leakedSecrets(p.cmdline, s.secrets())).toEqual([]);
        expect(p.cmdline).not.toContain("postgres://");
        expect(p.environ).not.toContain(w.apiToken); // INPUT_API-TOKEN is not passed on
        expect(p.environ).toContain(`PGPASSWORD=${w.dbPassword}`); // the connection travels here
      }
      expect(main.code).toBe(1);
      expect(main.errors.join("\n")).toMatch(/pg_dump exited with code 1:[\s\S]*LOCK TABLE public\.orders/);
      expect(s.scalingo.rules).toEqual([]);
      expect(main.stdout).toMatch(/Removed the temporary firewall rule/);
      expect(await s.leftovers()).toEqual([]);
      expect([...w.artifacts.artifacts.keys()].filter((n) => n.includes(main.state["rule-label"] ?? "none"))).toEqual([]);
      expect(main.outputs["artifact-id"]).toBeUndefined();
      expect(main.summary).toMatch(/Failed during: Dump/);
      expect(leakedSecrets(await allWrittenText(s.ctx, [main]), s.secrets())).toEqual([]);
    } finally {
      await locker.end();
    }
  });

  it("a full disk fails the step with the free space, removes the rule and the partial file", async () => {
    const s = await w.scenario();
    // A real ENOSPC: a 64 KiB tmpfs is smaller than the dump.
    const small = await mkdtemp(path.join(tmpdir(), "full-disk-"));
    await asRoot("mount", ["-t", "tmpfs", "-o", "size=64k,mode=1777", "tmpfs", small]);
    try {
      const main = await runStep(s.ctx, "main", { ...s.inputs, path: path.join(small, "backup.dump") });
      await record(s, main);
      expect(main.code, describeStep(main)).toBe(1);
      expect(main.errors.join("\n")).toMatch(/pg_dump exited with code 1:[\s\S]*No space left on device[\s\S]*Free space left in .*: 0 MB/);
      expect(await readdir(small)).toEqual([]);
      expect(s.scalingo.rules).toEqual([]);
    } finally {
      await asRoot("umount", [small]);
    }
  });

  /** Main with a rule that never takes effect, signalled while it waits for the database. */
  async function signalWhileWaiting(signal: NodeJS.Signals): Promise<{ s: Scenario; main: StepResult }> {
    const s = await w.scenario({ ruleDelayMs: 60_000 });
    const step = startStep(s.ctx, "main", s.inputs);
    await step.waitFor(/Added firewall rule/, 30_000);
    step.child.kill(signal);
    const main = await step.done;
    await record(s, main);
    return { s, main };
  }

  it("post removes the rule when main was killed after adding it", async () => {
    const { s, main } = await signalWhileWaiting("SIGKILL");
    expect(main.signal).toBe("SIGKILL");
    expect(s.scalingo.rules).toHaveLength(1);
    expect(main.state["rule-id"]).toBe(s.scalingo.rules[0].id);
    const post = await runStep(s.ctx, "post", s.inputs, { state: main.state });
    await record(s, post);
    expect(post.code, describeStep(post)).toBe(0);
    expect(post.stdout).toContain("Removed the temporary firewall rule main left behind.");
    expect(s.scalingo.rules).toEqual([]);
  });

  it("post finds the rule by this job's label when main died before the API answered", async () => {
    const s = await w.scenario();
    // The rule is created, but the answer arrives only after main is gone.
    s.scalingo.addFault({ method: "POST", path: /firewall_rules$/, passThrough: true, delayMs: 30_000 });
    const step = startStep(s.ctx, "main", s.inputs);
    for (let i = 0; i < 300 && s.scalingo.rules.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    step.child.kill("SIGKILL");
    const main = await step.done;
    await record(s, main);
    expect(main.state["rule-id"]).toBeUndefined();
    expect(main.state["rule-label"]).toBe(s.scalingo.rules[0]?.label);
    const post = await runStep(s.ctx, "post", s.inputs, { state: main.state });
    await record(s, post);
    expect(post.code, describeStep(post)).toBe(0);
    expect(s.scalingo.rules).toEqual([]);
  });

  // The runner cancels with SIGINT, then SIGTERM 7.5 s later: either one alone must be enough.
  it.each(["SIGINT", "SIGTERM"] as const)("a main cancelled by %s removes its rule before it exits, and post has nothing left to do", async (signal) => {
    const { s, main } = await signalWhileWaiting(signal);
    expect(main.code).toBe(1);
    expect(main.stdout).toContain("Removed the temporary firewall rule");
    expect(main.errors.join("\n")).toContain(`cancelled (${signal})`);
    expect(s.scalingo.rules).toEqual([]);
    const post = await runStep(s.ctx, "post", s.inputs, { state: main.state });
    await record(s, post);
    expect(post.stdout).toContain("No temporary firewall rule left to remove.");
    expect(s.scalingo.requests.filter((r) => r.method === "DELETE")).toHaveLength(1);
  });

  it("removes this action's stale rules at the start, and never a user's rule or a recent one", async () => {
    const s = await w.scenario();
    const stale = await s.scalingo.seedRule({
      type: "custom_range",
      cidr: "198.51.100.7/32",
      label: `scalingo-pg-dump acme/shop run 9/1 job backup at ${LONG_AGO}`,
    });
    const recent = await s.scalingo.seedRule({
      type: "custom_range",
      cidr: "198.51.100.8/32",
      label: `scalingo-pg-dump acme/shop run 10/1 job backup at ${RECENT}`,
    });
    const user = await s.scalingo.seedRule({ type: "custom_range", cidr: "192.0.2.0/24", label: `office VPN, set up ${LONG_AGO}` });
    const main = await runStep(s.ctx, "main", s.inputs);
    await record(s, main);
    expect(main.code, describeStep(main)).toBe(0);
    expect(main.stdout).toContain("Removed stale rule 198.51.100.7/32");
    expect(s.scalingo.rules.map((r) => r.id).sort()).toEqual([recent.id, user.id].sort());
    expect(s.scalingo.rules.find((r) => r.id === stale.id)).toBeUndefined();
  });

  it("printed and wrote no secret in any of these scenarios", async () => {
    expect(scanned.length).toBeGreaterThanOrEqual(10);
    for (const { text, secrets } of scanned) expect(leakedSecrets(text, secrets)).toEqual([]);
  });
});
