import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { StateStore } from "../types.js";
import type { Teardown } from "./teardown.js";

// A process the run started, recorded so that a later step can stop it: its pid and its start
// time, since a pid alone may belong to another process by then (pids are reused).

export interface ProcessRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks from boot to the process's start. */
  startTicks: string;
}

/** /proc/<pid>/stat: the name (field 2) may hold spaces and parentheses, so fields are counted after its last ")". */
function parseStat(text: string): { state: string; startTicks: string } {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0] ?? "", startTicks: fields[19] ?? "" };
}

/**
 * Read right after the spawn, synchronously, so the record is saved before anything else runs.
 * Undefined where there is no /proc (macOS): then only the live handle can stop the process.
 */
export function recordProcess(pid: number | undefined): ProcessRecord | undefined {
  if (!pid) return undefined;
  try {
    return { pid, startTicks: parseStat(readFileSync(`/proc/${pid}/stat`, "utf8")).startTicks };
  } catch {
    return undefined;
  }
}

/** Whether the recorded process still runs: same pid, same start time, not a zombie. */
export async function isRunning(record: ProcessRecord): Promise<boolean> {
  try {
    const stat = parseStat(await readFile(`/proc/${record.pid}/stat`, "utf8"));
    return stat.startTicks === record.startTicks && stat.state !== "Z";
  } catch {
    return false;
  }
}

/**
 * Stops the recorded process, if it is still that process: SIGTERM, then SIGKILL when it has not
 * ended after `graceMs`. Resolves whether it was running. Never signals a pid reused by another
 * process.
 */
export async function stopRecorded(record: ProcessRecord, graceMs = 2_000): Promise<boolean> {
  if (!(await isRunning(record))) return false;
  signal(record.pid, "SIGTERM");
  if (await endsWithin(record, graceMs)) return true;
  if (await isRunning(record)) signal(record.pid, "SIGKILL");
  await endsWithin(record, graceMs);
  return true;
}

/**
 * A writer the run started (pg_dump, pg_restore), recorded the moment it is spawned: its record is
 * saved under `key` before anything else runs, so post stops it after a killed main, and its stop
 * is on the teardown's first stage, which waits for its end. Returns what to call once it ended.
 */
export function recordWriter(pid: number | undefined, o: { teardown: Teardown; state: StateStore; key: string; what: string; kill?: () => void }): () => void {
  const record = recordProcess(pid);
  if (record) o.state.save(o.key, JSON.stringify(record));
  // Without /proc there is no record: only the live handle can stop it.
  const stop = o.teardown.defer("writers", `stop ${o.what}`, () => (record ? stopRecorded(record) : o.kill?.()));
  return () => {
    stop.release();
    if (record) o.state.save(o.key, "");
  };
}

/** A record as main saved it; undefined for "" (it ended) or anything that is not one. */
export function savedProcess(saved: string): ProcessRecord | undefined {
  try {
    const record = JSON.parse(saved || "null") as Partial<ProcessRecord> | null;
    return record && Number.isInteger(record.pid) && typeof record.startTicks === "string" && record.startTicks
      ? { pid: record.pid as number, startTicks: record.startTicks }
      : undefined;
  } catch {
    return undefined;
  }
}

async function endsWithin(record: ProcessRecord, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 50) {
    if (!(await isRunning(record))) return true;
    await sleep(50);
  }
  return !(await isRunning(record));
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Ended between the check and the signal.
  }
}
