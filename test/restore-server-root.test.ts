// Issue 17, item 8: a root step and the files of the server's user. Root never writes through a
// file that user controls, and signals a pid only once /proc shows it is that data directory's
// postmaster. Root only (as the tests run here); no user is created: an existing one is named.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startThrowawayServer, type ThrowawayServer } from "../src/restore-check/throwaway-server.js";
import { unprivilegedUser } from "./support/os-user.js";
import { findPgBinDir } from "./support/postgres.js";
import { tempBase } from "./support/postgres-exec.js";

const root = process.getuid?.() === 0;
const user = unprivilegedUser();

describe.runIf(root)("a root step and the server's user (real server)", () => {
  let binDir: string;
  let dir: string;
  const servers: ThrowawayServer[] = [];
  const start = async (bin = binDir) => {
    // `superuser` is what the check took before issue 17 (kept so this file runs against it too).
    const s = await startThrowawayServer({ binDir: bin, tempDir: dir, role: "shop_user", superuser: "shop_user", root, serverUser: user.name } as Parameters<
      typeof startThrowawayServer
    >[0]);
    servers.push(s);
    return s;
  };

  beforeAll(async () => {
    binDir = await findPgBinDir();
    dir = await mkdtemp(path.join(await tempBase(true), "restore-root-"));
    await chmod(dir, 0o755);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it("runs the server as the named user, not postgres or nobody", async () => {
    const s = await start();
    const pid = Number(readFileSync(path.join(s.folder, "data", "postmaster.pid"), "utf8").split("\n")[0]);
    expect(Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1])).toBe(user.uid);
    await s.stop();
  });

  it("writes nothing through the configuration files the server's user controls", async () => {
    // A root-owned file the server's user cannot write: it changes only if root writes through a link.
    const target = path.join(dir, "root-owned.conf");
    await writeFile(target, "# root's\n", { mode: 0o644 });
    // initdb as the server's user, which then swaps its configuration files for links to that file.
    const wrapped = await mkdtemp(path.join(dir, "bin-"));
    await chmod(wrapped, 0o755);
    for (const program of ["pg_ctl", "postgres"]) await symlink(path.join(binDir, program), path.join(wrapped, program));
    const script = `#!/bin/sh\n"${binDir}/initdb" "$@" || exit 1\nfor f in postgresql.conf pg_hba.conf; do rm -f "$2/$f"; ln -s "${target}" "$2/$f"; done\n`;
    await writeFile(path.join(wrapped, "initdb"), script, { mode: 0o755 });
    await start(wrapped).then(
      (s) => s.stop(),
      () => undefined,
    );
    expect(await readFile(target, "utf8")).toBe("# root's\n");
  });

  it("signals only that data directory's postmaster: a pid planted in postmaster.pid is left alone", async () => {
    const s = await start();
    const pidFile = path.join(s.folder, "data", "postmaster.pid");
    const lines = (await readFile(pidFile, "utf8")).split("\n");
    const postmaster = Number(lines[0]);
    // A root process the server's user would like to see stopped.
    const victim: ChildProcess = spawn("sleep", ["600"], { stdio: "ignore" });
    try {
      await writeFile(pidFile, [String(victim.pid), ...lines.slice(1)].join("\n"));
      await s.stop();
      await sleep(200);
      expect(victim.exitCode).toBeNull();
      expect(victim.signalCode).toBeNull();
    } finally {
      victim.kill("SIGKILL");
      try {
        process.kill(postmaster, "SIGQUIT");
      } catch {}
    }
  });
});
