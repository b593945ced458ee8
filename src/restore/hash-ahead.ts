import { statSync } from "node:fs";
import * as path from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { sha256File } from "../runner/files.js";
import { resolveInputPath } from "./input-path.js";

// The dump's sha256 is the longest check before the firewall opens (about 0.4 s per GiB of one
// core) and needs nothing but `path`. The restore's entry (bin/restore-main.ts) starts it on a
// worker thread before it loads the rest of the action (2 MB of JavaScript, about 0.15 s to
// evaluate), so the hash no longer waits for that, nor holds the main thread while the Scalingo
// API is read. The dump's checks take its result when they come to that file: the firewall still
// opens only once the hash has matched the manifest's.

/** A sha256 started before the action loaded. */
export interface HashAhead {
  /** The file, resolved as the `path` input is (against the workspace). */
  readonly file: string;
  /** Its sha256, once the thread has read all of it. */
  sha256(): Promise<string>;
  /** Ends the thread if it still runs: the step is over (its inputs may have been refused). */
  stop(): Promise<void>;
}

/**
 * The entry's call: a hash ahead of `path` when it names a regular file. Not a FIFO or a device:
 * a read that blocks could not be stopped, and the step could not end when its inputs are refused.
 */
export function hashAheadOf(input: string | undefined, env: NodeJS.ProcessEnv, script: URL): HashAhead | undefined {
  if (!input?.trim()) return undefined;
  const file = resolveInputPath(input.trim(), env);
  try {
    if (statSync(file).isFile()) return startHashAhead(file, script);
  } catch {
    // Whatever this cannot see (a missing file) the dump's checks report in their own words.
  }
  return undefined;
}

/** Starts hashing `file` on a thread that runs `script` (the entry itself: it calls hashAheadInWorker first). */
export function startHashAhead(file: string, script: URL): HashAhead {
  const worker = new Worker(script, { workerData: { hashAhead: file } });
  const result = new Promise<string>((resolve, reject) => {
    worker.once("message", (sha256: string) => resolve(sha256));
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the hashing thread exited with code ${code}`)));
  });
  // Unread when the inputs are refused; a missing file is reported by the dump's checks, in their words.
  result.catch(() => undefined);
  return {
    file,
    sha256: () => result,
    stop: async () => {
      await worker.terminate();
    },
  };
}

/** In the hashing thread: hashes the file, posts the hex digest, and returns true (it does nothing else). */
export async function hashAheadInWorker(): Promise<boolean> {
  const file = isMainThread ? undefined : (workerData as { hashAhead?: string } | null)?.hashAhead;
  if (!file) return false;
  parentPort?.postMessage(await sha256File(file));
  return true;
}

/** The hash of `file`: the thread's when it hashed that file, else one read now. */
export async function sha256Of(file: string, ahead: HashAhead | undefined): Promise<string> {
  // A thread that failed (it could not read the file) leaves the error to the read in this thread.
  if (ahead && ahead.file === path.resolve(file)) return ahead.sha256().catch(() => sha256File(file));
  return sha256File(file);
}
