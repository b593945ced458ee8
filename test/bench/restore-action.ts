// `npm run bench:restore [-- --size 1GB --runs 3 --jobs 2]`: the restore action (restore/action.yml,
// bundled, from `path`) against a bare `pg_restore -j` of the same file into a fresh database, in
// the same run, interleaved. Issue 22's target: the action's wall time, less its wait for the
// firewall rule, at most 1.1x the bare pg_restore's. The load average is printed beside every run:
// on a shared machine it is what stretches wall times.
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_PG_RESTORE_ARGS } from "../../src/restore/pg-restore-options.js";
import { parseWords } from "../../src/words.js";
import { describeStep, startWorld, type World } from "../e2e/world.js";
import { REPO_ROOT, runStep, startStep } from "../support/runner.js";
import { buildDataset, mib, parseSize } from "./dataset.js";
import { ensureGnuTime, killTree, runUnderTime, watchTree } from "./measure.js";
import { median } from "./report.js";

const TARGET = 1.1;
const RESTORE_DIR = path.join(REPO_ROOT, "restore");

interface Sample {
  variant: "bare" | "action";
  wallMs: number;
  /** action only: the wait for the rule, the pg_restore run (restore-seconds), the row counts */
  waitMs?: number;
  restoreMs?: number;
  countMs?: number;
  /** action only: spawn to pg_restore's start less the wait (inputs, sha256, API, rule, database), and pg_restore's end to exit */
  beforeMs?: number;
  afterMs?: number;
  /** pg_restore's own CPU, workers included (GNU time for bare, /proc samples for the action) */
  pgRestoreCpuMs: number;
  /** the action's node process */
  nodeCpuMs?: number;
  load: number;
}

const load = () => loadavg()[0] ?? 0;
let serial = 0;
let world: World | undefined;
let scratch: string | undefined;
let actionPid: number | undefined;
/** `--trace`: each action run's log lines, with the time since its spawn (where the action's own seconds go). */
let trace = false;

/** The backup action's own custom dump (its default compression) of the generated database. */
async function backupOnce(w: World, dir: string): Promise<string> {
  const s = await w.scenario({ ruleDelayMs: 0 });
  const main = await runStep(s.ctx, "main", { ...s.inputs, upload: "false" });
  if (main.code !== 0) throw new Error(`the backup failed:\n${describeStep(main)}`);
  const dump = path.join(dir, path.basename(main.outputs["dump-path"] as string));
  await copyFile(main.outputs["dump-path"] as string, dump);
  await copyFile(main.outputs["manifest-path"] as string, `${dump}.manifest.json`);
  return dump;
}

/** `pg_restore -j` with the action's default arguments, as the target's role over TLS, into a fresh database. */
async function bare(w: World, dump: string, jobs: number): Promise<Sample> {
  const db = `bench_bare_${++serial}`;
  await w.pg.createDatabase(db, "shop_user");
  await w.pg.allowCidr("127.0.0.1/32");
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    PGHOST: w.pg.host,
    PGPORT: String(w.pg.port),
    PGUSER: "shop_user",
    PGPASSWORD: w.dbPassword,
    PGSSLMODE: "require",
  };
  const at = load();
  try {
    const args = [...parseWords(DEFAULT_PG_RESTORE_ARGS), `--jobs=${jobs}`, "--no-password", `--dbname=${db}`, dump];
    const r = await runUnderTime(path.join(w.pg.binDir, "pg_restore"), args, env);
    if (r.code !== 0) throw new Error(`pg_restore exited ${r.code}: ${r.stderr}`);
    return { variant: "bare", wallMs: r.wallMs, pgRestoreCpuMs: r.cpuMs, load: at };
  } finally {
    await w.pg.denyCidr("127.0.0.1/32");
    await w.pg.psql(`DROP DATABASE IF EXISTS "${db}"`);
  }
}

/** The bundled restore action's main step, its rule applied at once (the wait is then near zero, and reported). */
async function action(w: World, dump: string, jobs: number): Promise<Sample> {
  const s = await w.scenario({ ruleDelayMs: 0, roleCreatesDatabases: true }, { actionDir: RESTORE_DIR });
  const at = load();
  const started = performance.now();
  const step = startStep(s.ctx, "main", { ...s.inputs, path: dump, jobs: String(jobs) });
  actionPid = step.pid;
  // Sampled every 250 ms, not 20: on two busy cores the bench's own /proc reads must not slow the run it measures.
  const watch = watchTree(step.pid, 250);
  let restoreStart = Number.NaN;
  let countStart = Number.NaN;
  let countEnd = Number.NaN;
  const timeline: string[] = [];
  step.child.stdout?.on("data", (chunk: Buffer | string) => {
    const text = String(chunk);
    const at = ((performance.now() - started) / 1000).toFixed(2);
    if (trace) for (const line of text.split("\n").filter(Boolean)) timeline.push(`  +${at.padStart(5)} s ${line.slice(0, 150)}`);
    if (/Running \S+\/(pg_restore|psql) /.test(text)) restoreStart = performance.now();
    if (/Restored \w+ dump into/.test(text)) countStart = performance.now();
    if (/Row counts:|Restored \d+ table\(s\)/.test(text)) countEnd = performance.now();
  });
  try {
    const main = await step.done;
    const wallMs = performance.now() - started;
    const tree = watch.stop();
    actionPid = undefined;
    if (main.code !== 0) throw new Error(`the restore action failed:\n${describeStep(main)}`);
    if (s.scalingo.rules.length) throw new Error("the restore action left a firewall rule behind");
    if (trace) console.log(`${timeline.join("\n")}\n  +${(wallMs / 1000).toFixed(2).padStart(5)} s (exit)`);
    const waited = Number(/Database reachable after ([\d.]+) s/.exec(main.stdout)?.[1] ?? Number.NaN) * 1000;
    const restored = main.outputs["restored-database"] as string;
    await w.pg.psql(`DROP DATABASE IF EXISTS "${restored}"`);
    return {
      variant: "action",
      wallMs,
      waitMs: waited,
      restoreMs: Number(main.outputs["restore-seconds"]) * 1000,
      countMs: countEnd - countStart,
      beforeMs: restoreStart - started - waited,
      afterMs: started + wallMs - countStart,
      pgRestoreCpuMs: tree.cpu.get("pg_restore") ?? Number.NaN,
      nodeCpuMs: tree.rootCpuMs,
      load: at,
    };
  } finally {
    watch.stop();
    await s.scalingo.settle().catch(() => undefined);
  }
}

const sec = (ms: number) => (ms / 1000).toFixed(1);

function report(samples: Sample[], jobs: number): number {
  const of = (v: Sample["variant"], f: (x: Sample) => number | undefined) => median(samples.filter((x) => x.variant === v).map((x) => f(x) ?? Number.NaN));
  const bareWall = of("bare", (x) => x.wallMs);
  const actionWall = of("action", (x) => x.wallMs);
  const wait = of("action", (x) => x.waitMs);
  const net = of("action", (x) => x.wallMs - (x.waitMs ?? 0));
  const ratio = net / bareWall;
  console.log(`\n=== restore, medians of ${samples.length / 2} interleaved runs, --jobs=${jobs} ===`);
  console.log(`bare pg_restore -j${jobs}:          wall ${sec(bareWall)} s, pg_restore cpu ${sec(of("bare", (x) => x.pgRestoreCpuMs))} s`);
  console.log(
    `restore action:              wall ${sec(actionWall)} s = wait ${sec(wait)} s + ${sec(net)} s; of which pg_restore ${sec(of("action", (x) => x.restoreMs))} s, ` +
      `before it ${sec(of("action", (x) => x.beforeMs))} s, after it ${sec(of("action", (x) => x.afterMs))} s (row counts ${sec(of("action", (x) => x.countMs))} s); pg_restore cpu ${sec(of("action", (x) => x.pgRestoreCpuMs))} s, node cpu ${sec(of("action", (x) => x.nodeCpuMs))} s`,
  );
  // Each run's own pair too: under a load that drifts, the ratio within a run is the steadier one.
  const actions = samples.filter((x) => x.variant === "action");
  const bares = samples.filter((x) => x.variant === "bare");
  const pairs = actions.map((a, i) => (a.wallMs - (a.waitMs ?? 0)) / (bares[i]?.wallMs ?? Number.NaN));
  console.log(`per run (action - wait) / bare: ${pairs.map((r) => `${r.toFixed(2)}x`).join(", ")}; median ${median(pairs).toFixed(2)}x`);
  console.log(`load average (1 min) at the runs' starts: ${samples.map((x) => x.load.toFixed(1)).join(", ")}`);
  const ok = ratio <= TARGET;
  console.log(`${ok ? "PASS" : "FAIL"}  (action wall - wait) / bare pg_restore: ${ratio.toFixed(2)}x (target <= ${TARGET.toFixed(2)}x)`);
  return ok ? 0 : 1;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { size: { type: "string" }, runs: { type: "string" }, jobs: { type: "string" }, trace: { type: "boolean" } } });
  trace = values.trace ?? false;
  const size = parseSize(values.size ?? process.env.BENCH_SIZE ?? "1GB");
  const runs = Number(values.runs ?? process.env.BENCH_RUNS ?? "3");
  const jobs = Number(values.jobs ?? Math.min(2, availableParallelism()));
  ensureGnuTime(console.log);
  world = await startWorld();
  const w = world;
  scratch = await mkdtemp(path.join(tmpdir(), "bench-restore-"));
  const commit = execFileSync("git", ["-C", REPO_ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  console.log(
    `machine: ${availableParallelism()} cores, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}; PostgreSQL ${w.pg.version}; commit ${commit}`,
  );
  const dataset = await buildDataset(w.pg, w.dbName, "shop_user", size, (m) => console.log(`dataset: ${m}`));
  console.log(`dataset: ${mib(dataset.bytes)} built in ${dataset.seconds.toFixed(0)} s`);
  const dump = await backupOnce(w, scratch);
  console.log(`dump:    ${path.basename(dump)}, ${mib(statSync(dump).size)} (the backup action's default custom format)`);
  const samples: Sample[] = [];
  for (let run = 1; run <= runs; run++) {
    // Alternating which goes first: neither always runs on the other's dirty pages.
    const order = run % 2 ? [bare, action] : [action, bare];
    for (const variant of order) {
      const sample = await variant(w, dump, jobs);
      samples.push(sample);
      const detail = sample.variant === "action" ? ` (wait ${sec(sample.waitMs ?? 0)} s, pg_restore ${sec(sample.restoreMs ?? 0)} s)` : "";
      console.log(`run ${run}/${runs} ${sample.variant.padEnd(6)} wall ${sec(sample.wallMs)} s${detail}, load ${sample.load.toFixed(1)}`);
    }
  }
  return report(samples, jobs);
}

async function cleanup(): Promise<void> {
  if (actionPid) killTree(actionPid, "SIGKILL");
  await world?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));

main().then(
  async (code) => {
    await cleanup();
    process.exit(code);
  },
  async (error) => {
    console.error(error instanceof Error ? error.message : error);
    await cleanup();
    process.exit(2);
  },
);
