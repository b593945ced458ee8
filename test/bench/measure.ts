// How each run is measured. CPU comes from the kernel's own accounting, never from sampling:
// GNU time (wait4 rusage) for a bare pg_dump, and for the action the growth of this process's
// cutime/cstime — the same rusage, summed by the kernel over every descendant that was reaped
// (node, pg_dump and its workers, pg_restore). Peak RSS per process comes from VmHWM, the
// kernel's high-water mark, read from /proc while the processes live: the action's node process
// and pg_dump are reported apart, which one rusage total cannot do.
import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

export const GNU_TIME = "/usr/bin/time";
const TICK_MS = 1000 / Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** GNU time is Debian's `time` package: install it when missing and we are root, as .ci/install-postgres does. */
export function ensureGnuTime(log: (m: string) => void): void {
  if (existsSync(GNU_TIME)) return;
  if (process.getuid?.() !== 0) throw new Error(`${GNU_TIME} is missing: install Debian's \`time\` package (apt-get install time)`);
  log("installing GNU time (apt-get install time)");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "time"], { stdio: "inherit", env });
}

/** Fields after "pid (comm)": comm may hold spaces and parentheses, so split after the last ')'. */
function statFields(pid: number | "self"): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined; // the process has just ended
  }
}

/** utime+stime (own) and cutime+cstime (reaped descendants) of a process, in ms. */
export function processCpu(pid: number | "self"): { own: number; children: number } {
  const f = statFields(pid);
  if (!f) return { own: 0, children: 0 };
  const ticks = (i: number) => Number(f[i]);
  return { own: (ticks(11) + ticks(12)) * TICK_MS, children: (ticks(13) + ticks(14)) * TICK_MS };
}

function hwmKb(pid: number): number {
  try {
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** Children of every thread: libuv may fork from any of them. */
export function childrenOf(pid: number): number[] {
  const found: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (text) found.push(...text.split(" ").map(Number));
    }
  } catch {}
  return found;
}

export interface TreeWatch {
  /** Peak RSS of the root process (the action's node) in bytes. */
  rootPeak: number;
  /** Own CPU of the root process at the last sample, ms (misses at most one interval). */
  rootCpuMs: number;
  /** Largest single-process peak RSS seen per command name (pg_dump, pg_restore), bytes. */
  peaks: Map<string, number>;
  /** Own CPU per command name, summed over its processes (pg_dump and its workers), ms, at each one's last sample. */
  cpu: Map<string, number>;
}

/** Samples a process tree every `everyMs` until stop(); VmHWM only grows, so sampling loses no peak but the last interval's. */
export function watchTree(rootPid: number, everyMs = 20): { stop(): TreeWatch } {
  const result: TreeWatch = { rootPeak: 0, rootCpuMs: 0, peaks: new Map(), cpu: new Map() };
  const lastCpu = new Map<number, { name: string; ms: number }>();
  const sample = () => {
    const root = hwmKb(rootPid) * 1024;
    if (root === 0) return; // gone: keep what the last sample saw
    result.rootPeak = Math.max(result.rootPeak, root);
    result.rootCpuMs = processCpu(rootPid).own;
    const stack = childrenOf(rootPid);
    while (stack.length) {
      const pid = stack.pop() as number;
      const name = comm(pid);
      if (name) result.peaks.set(name, Math.max(result.peaks.get(name) ?? 0, hwmKb(pid) * 1024));
      const ms = processCpu(pid).own;
      if (name && ms) lastCpu.set(pid, { name, ms });
      stack.push(...childrenOf(pid));
    }
  };
  const timer = setInterval(sample, everyMs);
  sample();
  return {
    stop() {
      clearInterval(timer);
      result.cpu.clear();
      for (const { name, ms } of lastCpu.values()) result.cpu.set(name, (result.cpu.get(name) ?? 0) + ms);
      return result;
    },
  };
}

export interface TimedRun {
  code: number | null;
  wallMs: number;
  cpuMs: number;
  peakRss: number;
  stderr: string;
}

/** Runs a command under GNU time: wall from here, CPU and peak RSS from its rusage; its stdout to `stdoutFile` or nowhere. */
export async function runUnderTime(command: string, args: string[], env: Record<string, string>, stdoutFile?: string): Promise<TimedRun> {
  const dir = await mkdtemp(path.join(tmpdir(), "bench-time-"));
  const out = path.join(dir, "rusage");
  const stdout = stdoutFile ? openSync(stdoutFile, "wx", 0o600) : "ignore";
  try {
    const started = performance.now();
    const child = spawn(GNU_TIME, ["-f", "%U %S %M", "-o", out, command, ...args], { env, stdio: ["ignore", stdout, "pipe"] });
    current.add(child.pid ?? 0);
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
    });
    const code = await new Promise<number | null>((resolve, reject) => child.once("error", reject).once("close", resolve));
    current.delete(child.pid ?? 0);
    const wallMs = performance.now() - started;
    // GNU time writes "Command exited with non-zero status N" first when it fails: take the last line.
    const last = (await readFile(out, "utf8")).trim().split("\n").pop() ?? "";
    const [user, sys, rssKb] = last.split(" ").map(Number);
    return { code, wallMs, cpuMs: ((user ?? 0) + (sys ?? 0)) * 1000, peakRss: (rssKb ?? 0) * 1024, stderr };
  } finally {
    if (typeof stdout === "number") closeSync(stdout);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Processes started by runUnderTime and still running: what Ctrl-C must stop. */
export const current = new Set<number>();

/** Kills a process and its descendants, deepest first (GNU time does not pass signals on to pg_dump). */
export function killTree(pid: number, signal: NodeJS.Signals): void {
  for (const child of childrenOf(pid)) killTree(child, signal);
  try {
    process.kill(pid, signal);
  } catch {}
}
