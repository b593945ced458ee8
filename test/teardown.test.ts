import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { createOwned } from "../src/backup/dump-files.js";
import { newSession } from "../src/backup/session.js";
import { firstFailureStops, settleInOrder } from "../src/runner/first-failure.js";
import { PlaintextFiles, parseSavedPaths } from "../src/runner/plaintext.js";
import { isRunning, recordProcess, stopRecorded } from "../src/runner/process-record.js";
import { Teardown } from "../src/runner/teardown.js";

const memoryState = () => {
  const saved = new Map<string, string>();
  return { saved, save: (k: string, v: string) => void saved.set(k, v), get: (k: string) => saved.get(k) ?? "" };
};

describe("Teardown", () => {
  it("undoes in the fixed order, whatever the order of registration: writers, plaintext, rule, servers", async () => {
    const done: string[] = [];
    const t = new Teardown(() => undefined);
    t.defer("servers", "server", () => done.push("servers"));
    t.defer("rule", "rule", async () => {
      await new Promise((r) => setTimeout(r, 5));
      done.push("rule");
    });
    t.defer("plaintext", "files", () => done.push("plaintext"));
    t.defer("writers", "pg_dump", () => done.push("writers"));
    await t.run();
    expect(done).toEqual(["writers", "plaintext", "rule", "servers"]);
    expect(t.pending).toBe(0);
  });

  it("its start is a signal: what waits on `ending` stops before the first undo runs", async () => {
    const t = new Teardown(() => undefined);
    let abortedWhenWritersStopped: boolean | undefined;
    t.defer("writers", "pg_dump", () => {
      abortedWhenWritersStopped = t.ending.aborted;
    });
    expect(t.ending.aborted).toBe(false);
    await t.run();
    expect(abortedWhenWritersStopped).toBe(true);
  });

  it("runs each undo once, though the catch, the cancel handler and the finally all call it", async () => {
    let runs = 0;
    const t = new Teardown(() => undefined);
    t.defer("rule", "rule", async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 10));
    });
    await Promise.all([t.run(), t.run()]);
    await t.run();
    expect(runs).toBe(1);
  });

  it("a failed undo is reported and never stops the next", async () => {
    const errors: string[] = [];
    const done: string[] = [];
    const t = new Teardown((what, error) => errors.push(`${what}: ${(error as Error).message}`));
    t.defer("rule", "remove the rule", () => {
      throw new Error("503");
    });
    t.defer("servers", "stop the server", () => done.push("server"));
    await t.run();
    expect(errors).toEqual(["remove the rule: 503"]);
    expect(done).toEqual(["server"]);
  });

  it("now() undoes early and once; release() drops an undo for good", async () => {
    const done: string[] = [];
    const t = new Teardown(() => undefined);
    const rule = t.defer("rule", "rule", () => done.push("rule"));
    const file = t.defer("plaintext", "file", () => done.push("file"));
    await rule.now();
    await rule.now();
    file.release();
    await t.run();
    expect(done).toEqual(["rule"]);
  });

  it("undoes what was registered while it ran (a step that was still starting)", async () => {
    const done: string[] = [];
    const t = new Teardown(() => undefined);
    t.defer("writers", "first", () => {
      done.push("first");
      t.defer("servers", "late", () => done.push("late"));
    });
    await t.run();
    expect(done).toEqual(["first", "late"]);
  });
});

describe("unfinished files", () => {
  it("are saved for post on every change, before the file exists, and dropped when the creation finds another's file", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "plaintext-"));
    try {
      const state = memoryState();
      const session = newSession(state, () => undefined);
      const mine = path.join(dir, "mine.dump");
      const theirs = path.join(dir, "theirs.dump");
      await writeFile(theirs, "not this run's");
      const seen: string[][] = [];
      const spy = new PlaintextFiles((paths) => seen.push(paths));
      spy.add(mine);
      expect(seen).toEqual([[mine]]);
      await createOwned(session, mine, "file");
      expect(parseSavedPaths(state.saved.get("plaintext") ?? "")).toEqual([mine]);
      await expect(createOwned(session, theirs, "file")).rejects.toThrow(/appeared during the run/);
      expect(parseSavedPaths(state.saved.get("plaintext") ?? "")).toEqual([mine]);
      await session.teardown.run();
      expect((await readdir(dir)).sort()).toEqual(["theirs.dump"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a saved list that is not JSON, or not a list of paths, is read as none", () => {
    expect(parseSavedPaths("")).toEqual([]);
    expect(parseSavedPaths("{")).toEqual([]);
    expect(parseSavedPaths('{"a":1}')).toEqual([]);
    expect(parseSavedPaths('["/a", 3, ""]')).toEqual(["/a"]);
  });
});

describe("process records", () => {
  it("stop the recorded process (TERM, then KILL when it ignores TERM), and never a process with another start time", async () => {
    const child = spawn("sh", ["-c", "trap '' TERM; exec sleep 600"], { stdio: "ignore" });
    await new Promise((r) => child.once("spawn", r));
    const record = recordProcess(child.pid);
    expect(record?.pid).toBe(child.pid);
    expect(await isRunning(record ?? { pid: 0, startTicks: "" })).toBe(true);
    // The same pid with another start time is another process: left alone.
    expect(await stopRecorded({ pid: child.pid ?? 0, startTicks: "1" }, 100)).toBe(false);
    expect(await isRunning(record ?? { pid: 0, startTicks: "" })).toBe(true);
    const exited = new Promise((r) => child.once("exit", (_code, signal) => r(signal)));
    expect(await stopRecorded(record ?? { pid: 0, startTicks: "" }, 300)).toBe(true);
    expect(await exited).toBe("SIGKILL");
    expect(await stopRecorded(record ?? { pid: 0, startTicks: "" }, 100)).toBe(false);
  });
});

describe("firstFailureStops", () => {
  it("the first failure stops the others, and it is the one thrown once all have settled", async () => {
    const ending = new AbortController();
    const together = firstFailureStops(ending.signal);
    let stoppedSeen = false;
    const waiting = together.track(
      new Promise<string>((_resolve, reject) =>
        together.signal.addEventListener("abort", () => {
          stoppedSeen = true;
          reject(new Error("stopped"));
        }),
      ),
    );
    const failing = together.track(Promise.reject(new Error("install failed")));
    await expect(together.settle(waiting, failing)).rejects.toThrow("install failed");
    expect(stoppedSeen).toBe(true);
  });

  it("the run's end stops them too", async () => {
    const ending = new AbortController();
    const together = firstFailureStops(ending.signal);
    ending.abort(new Error("the run is ending"));
    expect(together.signal.aborted).toBe(true);
    await expect(together.settle(together.track(Promise.resolve(1)), together.track(Promise.resolve("a")))).resolves.toEqual([1, "a"]);
  });
});

describe("settleInOrder", () => {
  it("waits for every task, then throws the failure of the first in the list, not the first in time", async () => {
    let slowEnded = false;
    const slowFailure = new Promise<string>((_resolve, reject) =>
      setTimeout(() => {
        slowEnded = true;
        reject(new Error("the dump's sha256 differs"));
      }, 20),
    );
    const quickFailure = Promise.reject(new Error("Scalingo answered 401"));
    await expect(settleInOrder(slowFailure, quickFailure)).rejects.toThrow("the dump's sha256 differs");
    expect(slowEnded).toBe(true);
  });

  it("a failure does not end the wait early: a task still running is awaited before the throw", async () => {
    let laterEnded = false;
    const later = new Promise<number>((resolve) =>
      setTimeout(() => {
        laterEnded = true;
        resolve(1);
      }, 20),
    );
    await expect(settleInOrder(Promise.reject(new Error("bad dump")), later)).rejects.toThrow("bad dump");
    expect(laterEnded).toBe(true);
  });

  it("returns every result, in order", async () => {
    await expect(settleInOrder(Promise.resolve(1), Promise.resolve("a"))).resolves.toEqual([1, "a"]);
  });
});
