// `npm run bench [-- --size 200MB --runs 1]`: what the action costs over a bare pg_dump and over the
// hand-written workflow (pg_dump, then @actions/artifact's uploadArtifact), how long the firewall
// stays open beyond pg_dump, and what its format and compression options buy, on a generated
// database of a chosen size (or two, to compare peak memory). Variants measured round-robin (so
// drift in the machine spreads over all of them), medians and ratios printed at the end, exit 1
// when a target is missed.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, statfs } from "node:fs/promises";
import { availableParallelism, release, tmpdir, totalmem } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startWorld, type World } from "../e2e/world.js";
import { staleBundles } from "../support/fresh-dist.js";
import { NODE24, REPO_ROOT } from "../support/runner.js";
import { chooseGzipLevel, type DatasetLevels, summarizeCompression } from "./compression.js";
import { buildDataset, mib, parseSize } from "./dataset.js";
import { buildTextDataset, dropDatasetTables } from "./dataset-text.js";
import { current, ensureGnuTime, killTree, processCpu } from "./measure.js";
import { ENFORCED_FROM, rssVerdict, runLine, summarize } from "./report.js";
import { summarizeRestore } from "./restore.js";
import { installedPgDumps, runAction, runFloor, type Sample, type Variant, variants } from "./variants.js";

const USAGE = `usage: npm run bench -- [--size 1GB] [--runs 3] [--dataset bench,text] [--only handwritten,action,age]
  --size  database size(s) to generate, comma-separated (default 1GB, or BENCH_SIZE), e.g. 200MB for a
          quick run; with two sizes (200MB,1GB) the action's peak RSS at both is compared
  --dataset  which databases, comma-separated (default both): bench (pgbench, hex text, random bytea)
          and text (a web application's: JSON documents, log lines, customers, with indexes)
  --runs  repetitions of every variant, round-robin (default 3, or BENCH_RUNS)
  --only  comma-separated variant ids to run (the floor always runs: ratios are to it)`;

const DATASETS = { bench: buildDataset, text: buildTextDataset };
type DatasetName = keyof typeof DATASETS;

function options(): { sizes: number[]; runs: number; datasets: DatasetName[]; only?: string[] } {
  const { values } = parseArgs({
    options: {
      size: { type: "string" },
      runs: { type: "string" },
      dataset: { type: "string" },
      only: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const sizes = (values.size ?? process.env.BENCH_SIZE ?? "1GB").split(",").map(parseSize);
  const runs = Number(values.runs ?? process.env.BENCH_RUNS ?? "3");
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer\n${USAGE}`);
  const only = values.only?.split(",").map((id) => id.trim());
  const datasets = (values.dataset ?? "bench,text").split(",").map((d) => d.trim()) as DatasetName[];
  const unknown = datasets.filter((d) => !(d in DATASETS));
  if (unknown.length) throw new Error(`--dataset: unknown ${unknown.join(", ")}; known: ${Object.keys(DATASETS).join(", ")}\n${USAGE}`);
  return { sizes, runs, datasets, ...(only ? { only } : {}) };
}

/**
 * The bundle is what the runner executes: refuse to measure a missing one, and warn when it differs
 * from a fresh build of src/ (file times say nothing on a fresh clone, where every file is new).
 */
async function checkBundle(): Promise<void> {
  const bundle = path.join(REPO_ROOT, "dist/main/index.js");
  if (!existsSync(bundle)) throw new Error("dist/main/index.js is missing: run `npm run build` first");
  const stale = await staleBundles(REPO_ROOT);
  if (stale.length) console.log(`WARNING: ${stale.join(" and ")} differ from a fresh build of src/: run \`npm run build\` to measure it`);
}

/** The checkout's commit, or "none" for a copy outside git (a snapshot measured while the worktree moves on). */
function gitCommit(): string {
  try {
    return execFileSync("git", ["-C", REPO_ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "none (not a git checkout)";
  }
}

async function printMachine(w: World): Promise<number> {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown CPU";
  const pgDump = execFileSync(path.join(w.pg.binDir, "pg_dump"), ["--version"], { encoding: "utf8" }).trim();
  const node = execFileSync(NODE24, ["--version"], { encoding: "utf8" }).trim();
  // Which bundle was measured: the repository moves while benchmarks run.
  const bundle = createHash("sha256")
    .update(readFileSync(path.join(REPO_ROOT, "dist/main/index.js")))
    .digest("hex")
    .slice(0, 12);
  const commit = gitCommit();
  const disk = await statfs(tmpdir());
  console.log(`machine:    ${cpu}, ${availableParallelism()} cores, ${mib(totalmem())} memory, Linux ${release()}`);
  console.log(`PostgreSQL: server ${w.pg.version} (${w.pg.binDir}), ${pgDump}, TLS on (sslmode=require)`);
  console.log(`action:     dist/main/index.js (sha256 ${bundle}..., commit ${commit}) on Node ${node}; ${mib(disk.bavail * disk.bsize)} free in ${tmpdir()}`);
  return Number(/\(PostgreSQL\) (\d+)/.exec(pgDump)?.[1] ?? w.pg.major);
}

let world: World | undefined;
let scratch: string | undefined;
let actionPid: number | undefined;
let cleaning: Promise<void> | undefined;

/** Safe to call twice and from a signal handler: stops every process and removes every directory. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    if (actionPid) killTree(actionPid, "SIGKILL");
    for (const pid of current) killTree(pid, "SIGKILL");
    await world?.close(); // emulators, runner dirs, the PostgreSQL server and its data
    if (scratch) await rm(scratch, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping, cleaning up...`);
    cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  const { sizes, runs, datasets, only } = options();
  await checkBundle();
  ensureGnuTime(console.log);
  world = await startWorld();
  const w = world;
  scratch = await mkdtemp(path.join(tmpdir(), "bench-"));
  const major = await printMachine(w);

  // The emulated firewall edits pg_hba.conf and reloads through psql, children of this process:
  // their CPU lands in the action's tree. Measured once so the table can be read net of it.
  const before = processCpu("self").children;
  await w.pg.allowCidr("127.0.0.2/32");
  await w.pg.denyCidr("127.0.0.2/32");
  console.log(
    `firewall:   adding and removing a rule costs ${((processCpu("self").children - before) / 1000).toFixed(2)} s of psql CPU, counted in each action run`,
  );
  const all = variants(major, installedPgDumps());
  const unknown = only?.filter((id) => !all.list.some((v) => v.id === id)) ?? [];
  if (unknown.length) throw new Error(`--only: unknown variant(s) ${unknown.join(", ")}; known: ${all.list.map((v) => v.id).join(", ")}`);
  const list = all.list.filter((v) => v.id === "floor" || !only || only.includes(v.id));
  for (const line of all.skipped) console.log(line);

  const failed: string[] = [];
  const levels: DatasetLevels[] = [];
  for (const dataset of datasets) {
    const peaks: { size: number; peak: number }[] = [];
    for (const size of sizes) {
      const result = await measureSize(w, list, dataset, size, runs);
      failed.push(...result.failed);
      peaks.push({ size, peak: result.actionPeak });
      levels.push(result.levels);
    }
    console.log("");
    failed.push(...rssVerdict(peaks, console.log));
  }
  chooseGzipLevel(levels, console.log);
  if (failed.length) console.log(`\n${failed.length} target(s) missed: ${failed.join("; ")}`);
  return failed.length ? 1 : 0;
}

/** One dataset of `size` (replacing the previous one), every variant `runs` times round-robin, its tables and verdicts. */
async function measureSize(
  w: World,
  list: Variant[],
  name: DatasetName,
  size: number,
  runs: number,
): Promise<ReturnType<typeof summarize> & { levels: DatasetLevels }> {
  await dropDatasetTables(w.pg, w.dbName);
  const dataset = await DATASETS[name](w.pg, w.dbName, "shop_user", size, (m) => console.log(`dataset:    ${name}: ${m}`));
  console.log(
    `dataset:    ${mib(dataset.bytes)} built in ${dataset.seconds.toFixed(0)} s; ${dataset.tables.map((t) => `${t.name} ${mib(t.bytes)}`).join(", ")}`,
  );
  console.log(`runs:       ${runs} x ${list.length} variants, round-robin\n`);
  const samples: Sample[] = [];
  for (let run = 1; run <= runs; run++) {
    // Each round starts one variant later, so no variant always follows the same one.
    const order = list.map((_, i) => list[(i + run - 1) % list.length] as Variant);
    for (const v of order) {
      const sample = v.inputs ? await runAction(w, v, run, (pid) => (actionPid = pid)) : await runFloor(w, scratch as string, run, v.id === "handwritten");
      samples.push(sample);
      console.log(runLine(v, sample, runs));
    }
  }
  console.log(`\n=== ${name} dataset, ${mib(dataset.bytes)} ===`);
  const result = summarize(list, samples, size, console.log);
  const compression = summarizeCompression(name, list, samples, console.log);
  // The restore check's variants get their own table and verdicts (restore time against the dump's).
  return {
    ...result,
    levels: compression.levels,
    failed: [...result.failed, ...compression.failed, ...summarizeRestore(list, samples, size, ENFORCED_FROM, console.log)],
  };
}

main()
  .then(
    async (code) => {
      await cleanup();
      process.exit(code);
    },
    async (error) => {
      if (cleaning) return; // a signal is already ending the run
      console.error(error instanceof Error ? error.message : error);
      await cleanup();
      process.exit(2);
    },
  )
  .catch(() => process.exit(2));
