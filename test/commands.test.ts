import { readFileSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { packDirectory } from "../src/artifact/pack.js";
import { type CommandOptions, type CommandRunner, childEnv, LONG_TIMEOUT_SECONDS, runCommand } from "../src/runner/commands.js";

/** Running, and not a zombie (in a container, PID 1 may never reap orphans). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("every command is bounded", () => {
  it("a command past its timeout is stopped and says so", async () => {
    const started = Date.now();
    const result = await runCommand("sleep", ["30"], { silent: true, timeoutSeconds: 1 });
    expect(result.code).toBe(124);
    expect(result.stderr).toMatch(/timed out after 1 s/);
    // Stopped long before the command's own end (30 s), however loaded the machine.
    expect(Date.now() - started).toBeLessThan(25_000);
  });

  it("a command given a signal stops as soon as it is aborted, with what it started", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "abort-"));
    const pidFile = path.join(dir, "pid");
    const stop = new AbortController();
    // A shell whose child writes its pid: the whole group must go, not only the first process.
    const running = runCommand("sh", ["-c", `sleep 30 & echo $! > ${pidFile}; wait`], { silent: true, signal: stop.signal, timeoutSeconds: 60 });
    for (let i = 0; i < 50 && !(await readFile(pidFile, "utf8").catch(() => "")); i++) await new Promise((r) => setTimeout(r, 20));
    const child = Number(await readFile(pidFile, "utf8"));
    const started = Date.now();
    stop.abort();
    const result = await running;
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(result.stderr).toMatch(/stopped: the run failed elsewhere/);
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(child)).toBe(false);
  });

  it("work that grows with the database (tar of a directory dump) gets the long bound, not the probes' 120 s", async () => {
    const seen: CommandOptions[] = [];
    const run: CommandRunner = async (_file, _args, options = {}) => {
      seen.push(options);
      return { code: 0, stdout: "", stderr: "" };
    };
    await packDirectory("/tmp/dump", "/tmp/dump.tar", run);
    expect(seen[0]?.timeoutSeconds).toBe(LONG_TIMEOUT_SECONDS);
  });
});

describe("a runner behind a proxy", () => {
  it("gives curl and apt the proxy variables, and keeps them through sudo by name, never in argv", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "proxy-env-"));
    const record = path.join(dir, "record");
    // A stand-in for sudo that writes what it was given: its arguments, then its environment.
    await writeFile(path.join(dir, "sudo"), `#!/bin/sh\nprintf '%s\\n' "$@" > ${record}.args\nenv > ${record}.env\n`, { mode: 0o755 });
    const saved = { ...process.env };
    const proxy = "http://user:proxy-secret@proxy.internal:3128";
    for (const name of ["https_proxy", "http_proxy", "HTTP_PROXY", "NO_PROXY"]) delete process.env[name];
    Object.assign(process.env, { PATH: `${dir}:${process.env.PATH}`, HTTPS_PROXY: proxy, no_proxy: "internal", "INPUT_API-TOKEN": "tk-us-never" });
    try {
      const result = await runCommand("sudo", ["-n", "apt-get", "update"], { silent: true });
      expect(result.code).toBe(0);
    } finally {
      process.env = saved;
    }
    const args = (await readFile(`${record}.args`, "utf8")).split("\n");
    expect(args[0]).toBe("-n");
    expect(args[1]).toBe("--preserve-env=HTTPS_PROXY,no_proxy");
    expect(args.join(" ")).not.toContain("proxy-secret");
    const env = await readFile(`${record}.env`, "utf8");
    expect(env).toContain(`HTTPS_PROXY=${proxy}`);
    expect(env).toContain("no_proxy=internal");
    expect(env).not.toContain("tk-us-never");
  });
});

describe("the children's environment", () => {
  it("keeps RUNNER_TRACKING_ID, by which the runner reaps what a killed step left, and no token", () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { RUNNER_TRACKING_ID: "github_0c1d2e3f", "INPUT_API-TOKEN": "tk-us-secret", ACTIONS_RUNTIME_TOKEN: "rt" });
      const env = childEnv({ PGPASSWORD: "pw" });
      expect(env.RUNNER_TRACKING_ID).toBe("github_0c1d2e3f");
      expect(env.PGPASSWORD).toBe("pw");
      expect(Object.values(env)).not.toContain("tk-us-secret");
      expect(env.ACTIONS_RUNTIME_TOKEN).toBeUndefined();
    } finally {
      for (const key of ["RUNNER_TRACKING_ID", "INPUT_API-TOKEN", "ACTIONS_RUNTIME_TOKEN"]) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  });
});
