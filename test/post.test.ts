import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { runPost } from "../src/post.js";
import { isRunning, recordProcess } from "../src/runner/process-record.js";

// The post step in-process, with the state a SIGKILLed main saved: its teardown, in its order.
describe("post step (in-process)", () => {
  it("stops the recorded writer, removes only the saved unfinished files, and asks nothing of Scalingo when no rule was saved", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "post-"));
    const writer = spawn("sh", ["-c", "exec sleep 600"], { stdio: "ignore" });
    try {
      await new Promise((r) => writer.once("spawn", r));
      const record = recordProcess(writer.pid);
      const partial = path.join(dir, "db.dump");
      const folder = path.join(dir, "db-dir");
      const finished = path.join(dir, "db.dump.age");
      await writeFile(partial, "COPY public.t ...");
      await writeFile(finished, "age-encryption.org/v1 ...");
      const saved = new Map([
        ["plaintext", JSON.stringify([partial, folder])],
        ["pg-dump", JSON.stringify(record)],
      ]);
      const state = { save: (k: string, v: string) => void saved.set(k, v), get: (k: string) => saved.get(k) ?? "" };
      let connected = false;
      await runPost({
        env: {},
        state,
        newClient: () => {
          connected = true;
          throw new Error("no rule was saved: post must not call Scalingo");
        },
      });
      expect(await isRunning(record ?? { pid: 0, startTicks: "" })).toBe(false);
      expect(await readdir(dir)).toEqual(["db.dump.age"]);
      expect(connected).toBe(false);
      expect(process.exitCode ?? 0).toBe(0);
    } finally {
      writer.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });
});
