import { describe, expect, it } from "vitest";
import { ActionError } from "../src/errors.js";
import { type Choice, choosePgDump, type Installed, installCommands, installPgDump, type Platform, parsePgDumpVersion } from "../src/postgres/pg-client.js";
import { compressProblem, pgDumpArgs } from "../src/postgres/pg-dump.js";
import type { CommandRunner } from "../src/runner/commands.js";

const ubuntu: Platform = { canInstall: true, codename: "noble", root: false };
const macos: Platform = { canInstall: false, root: false };
const bin = (m: number) => `/usr/lib/postgresql/${m}/bin/pg_dump`;
const installed = (...majors: number[]): Installed => new Map(majors.map((m) => [m, bin(m)]));

describe("choosePgDump", () => {
  // server major, requested, installed clients, platform → expected decision
  const table: [number, "auto" | number, Installed, Platform, Partial<Choice> | RegExp][] = [
    [17, "auto", installed(16), ubuntu, { kind: "install", major: 17 }], // ubuntu-24.04 runner, default Scalingo 17
    [16, "auto", installed(16), ubuntu, { kind: "use", major: 16, path: bin(16) }],
    [14, "auto", installed(14), ubuntu, { kind: "use", major: 14 }], // ubuntu-22.04 runner
    [14, "auto", installed(16), ubuntu, { kind: "install", major: 14 }], // exact major preferred: restorable by pg_restore 14
    [14, "auto", installed(16), macos, /No pg_dump 14 .*Or set `pg-dump-version: 16` to use the installed pg_dump 16/], // never a silent newer client
    [14, 16, installed(16), macos, { kind: "use", major: 16, path: bin(16) }], // unless asked for
    [17, "auto", installed(16), macos, /No pg_dump 17 on this runner \(installed: 16\).*postgresql-client-17/],
    [17, "auto", installed(), macos, /none installed/],
    [15, 17, installed(15), ubuntu, { kind: "install", major: 17 }],
    [17, 16, installed(16, 17), ubuntu, /`pg-dump-version` 16 cannot dump a PostgreSQL 17 server/],
    [15, 17, installed(16), macos, /No pg_dump 17/], // an explicit version is never swapped for another
  ];
  it.each(table)("server %i, requested %s", (serverMajor, requested, have, platform, expected) => {
    const choice = choosePgDump({ serverMajor, requested, installed: have, platform });
    if (expected instanceof RegExp) {
      expect(choice.kind).toBe("fail");
      expect((choice as { message: string }).message).toMatch(expected);
    } else {
      expect(choice).toMatchObject(expected);
    }
  });
});

describe("installing pg_dump", () => {
  it("adds the PGDG source, refreshes only it, then installs the client", () => {
    const commands = installCommands(17, "noble", true).map((c) => c.join(" "));
    expect(commands[0]).toMatch(/^sudo -n install -d \/usr\/share\/postgresql-common\/pgdg$/);
    expect(commands[2]).toContain("noble-pgdg main");
    expect(commands[3]).toContain("Dir::Etc::sourcelist=/etc/apt/sources.list.d/pgdg.list");
    expect(commands[4]).toMatch(/apt-get install -y --no-install-recommends postgresql-client-17$/);
    expect(installCommands(17, "bookworm", false)[0][0]).toBe("install");
  });

  it("runs the commands in order and returns Debian's path for that major", async () => {
    const ran: string[] = [];
    const run: CommandRunner = async (file, args) => {
      ran.push([file, ...args].join(" "));
      return { code: 0, stdout: "", stderr: "" };
    };
    const path = await installPgDump(17, ubuntu, run, () => undefined);
    expect(path).toBe(bin(17));
    expect(ran).toEqual(installCommands(17, "noble", true).map((c) => c.join(" ")));
  });

  it("stops at the first failing command with its message", async () => {
    const run: CommandRunner = async (_file, args) =>
      args.includes("update") ? { code: 100, stdout: "", stderr: "E: Failed to fetch" } : { code: 0, stdout: "", stderr: "" };
    await expect(installPgDump(17, ubuntu, run, () => undefined)).rejects.toThrow(ActionError);
    await expect(installPgDump(17, ubuntu, run, () => undefined)).rejects.toThrow(/apt-get update .*exit 100.*E: Failed to fetch/);
  });

  it("parses pg_dump --version", () => {
    expect(parsePgDumpVersion("pg_dump (PostgreSQL) 17.2 (Ubuntu 17.2-1.pgdg24.04+1)\n")).toBe(17);
    expect(parsePgDumpVersion("pg_dump (PostgreSQL) 9.6.24")).toBe(9);
    expect(parsePgDumpVersion("command not found")).toBeUndefined();
  });
});

describe("pg_dump arguments", () => {
  it("puts the action's options first and never a connection", () => {
    const args = pgDumpArgs({ format: "directory", jobs: 2, compress: "zstd:3", pgDumpArgs: ["--clean"] }, "/tmp/x");
    expect(args).toEqual(["--format=d", "--file=/tmp/x", "--jobs=2", "--compress=zstd:3", "--no-password", "--clean"]);
  });

  it("checks the compression against the client", () => {
    expect(compressProblem("zstd:3", 15, "custom")).toMatch(/needs pg_dump 16/);
    expect(compressProblem("lz4", 16, "custom")).toBeUndefined();
    expect(compressProblem("6", 14, "custom")).toBeUndefined();
    expect(compressProblem("gzip:6", 17, "tar")).toMatch(/tar format cannot be compressed/);
  });
});
