import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PGDG_KEY_FINGERPRINT } from "../src/postgres/pgdg-key.js";
import { findServer, planServer } from "../src/restore-check/pg-server.js";
import { installClients } from "../src/restore-check/steps.js";
import type { CommandRunner } from "../src/runner/commands.js";

const platform = { os: "linux", canInstall: true, debianLike: true, codename: "noble", root: false } as const;
// apt-config answers with apt's usual folders; nothing here reads them.
const PGDG_LISTING = `pub:-:4096:1:7FCC7D46ACCC4CF8:::::::::\nfpr:::::::::${PGDG_KEY_FINGERPRINT}:\n`;
const APT_PATHS = "L='/etc/apt/sources.list'\nP='/nonexistent/sources.list.d/'\nC='/var/cache/apt/'\n";

function recorder(): { run: CommandRunner; calls: string[][] } {
  const calls: string[][] = [];
  const run: CommandRunner = async (file, args) => {
    calls.push([file, ...args]);
    // gpg lists the downloaded key as PGDG's: the install checks that fingerprint before it trusts the key.
    const stdout = file === "apt-config" ? APT_PATHS : file === "gpg" && args.includes("--list-keys") ? PGDG_LISTING : "";
    return { code: 0, stdout, stderr: "" };
  };
  return { calls, run };
}
const deps = (run: CommandRunner) => ({ run, log: () => undefined, env: {}, tempDir: tmpdir() });
const installs = (calls: string[][]) => calls.filter((c) => c.includes("install") && c.includes("apt-get"));

describe("the restore check's server: found or installed with pg_dump", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "pg-server-"));
    for (const [major, programs] of [
      ["16", ["pg_dump", "initdb", "pg_ctl", "postgres"]],
      ["17", ["pg_dump"]],
    ] as const) {
      await mkdir(path.join(root, major, "bin"), { recursive: true });
      for (const p of programs) {
        await writeFile(path.join(root, major, "bin", p), "#!/bin/sh\n");
        await chmod(path.join(root, major, "bin", p), 0o755);
      }
    }
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it("finds a major's server only where initdb, pg_ctl and postgres all are, Debian's layout first, then beside pg_dump", async () => {
    expect(await findServer(16, undefined, root)).toBe(path.join(root, "16", "bin"));
    expect(await findServer(17, path.join(root, "17", "bin", "pg_dump"), root)).toBeUndefined();
    expect(await findServer(17, path.join(root, "16", "bin", "pg_dump"), root)).toBe(path.join(root, "16", "bin"));
  });

  it("refuses before anything opens when the server is missing and cannot be installed", async () => {
    await expect(planServer(99, undefined, false)).rejects.toThrow(
      /`verify: restore` needs a PostgreSQL 99 server.*Install postgresql-99 before this step, or use `verify: list`/,
    );
    expect(await planServer(99, undefined, true)).toMatchObject({ install: true, binDir: "/usr/lib/postgresql/99/bin" });
  });

  it("installs the client and the server in one apt run (apt's lock allows one at a time)", async () => {
    const { run, calls } = recorder();
    const pgDump = await installClients(
      { kind: "install", major: 17 },
      { install: true, binDir: "/usr/lib/postgresql/17/bin", hadCluster: true },
      platform,
      deps(run),
    );
    expect(pgDump).toBe("/usr/lib/postgresql/17/bin/pg_dump");
    expect(installs(calls)).toHaveLength(1);
    expect(installs(calls)[0]?.slice(-2)).toEqual(["postgresql-client-17", "postgresql-17"]);
  });

  it("installs only the server when pg_dump is there, and keeps that pg_dump", async () => {
    const { run, calls } = recorder();
    const pgDump = await installClients(
      { kind: "use", major: 17, path: "/opt/pg/bin/pg_dump" },
      { install: true, binDir: "/usr/lib/postgresql/17/bin", hadCluster: true },
      platform,
      deps(run),
    );
    expect(pgDump).toBe("/opt/pg/bin/pg_dump");
    expect(installs(calls)[0]?.at(-1)).toBe("postgresql-17");
    expect(installs(calls)[0]?.includes("postgresql-client-17")).toBe(false);
  });

  it("runs nothing when both are installed", async () => {
    const { run, calls } = recorder();
    await installClients({ kind: "use", major: 17, path: "/x/pg_dump" }, { install: false, binDir: "/x" }, platform, deps(run));
    expect(calls).toEqual([]);
  });
});
