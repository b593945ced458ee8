import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { detectPlatform, findInstalled, installPgDump, type Platform } from "../src/postgres/pg-client.js";
import { PGDG_KEY_FINGERPRINT } from "../src/postgres/pgdg-key.js";
import { runCommand } from "../src/runner/commands.js";
import { createEnvSpy, type EnvSpy, forbiddenVariables } from "./support/env-spy.js";

// Every program the action starts through runCommand gets a reduced environment: the runner's
// secrets are in the action's own environment, and no child needs them. Stand-ins for sudo and the
// install commands (never the real ones: PATH holds only the stand-ins) record what they receive.
const TIMEOUT = ["/usr/bin/timeout", "/bin/timeout"].find((f) => existsSync(f)) ?? "/usr/bin/timeout";
const SECRETS = {
  "INPUT_API-TOKEN": "tk-us-secret-token",
  ACTIONS_RUNTIME_TOKEN: "runtime-token-secret",
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: "oidc-request-token-secret",
  ACTIONS_ID_TOKEN_REQUEST_URL: "https://token.actions.example/oidc?secret",
  GITHUB_TOKEN: "ghs_secret",
  AWS_SECRET_ACCESS_KEY: "aws-secret-access-key",
  AWS_SESSION_TOKEN: "aws-session-token-secret",
};

describe("child processes' environment", () => {
  let spy: EnvSpy;
  const saved = { ...process.env };
  beforeEach(async () => {
    const stub = "exit 0";
    spy = await createEnvSpy({
      sudo: { stub },
      install: { stub },
      curl: { stub },
      chmod: { stub },
      sh: { stub },
      rm: { stub },
      "apt-get": { stub },
      // The install trusts the downloaded key only once gpg lists it as PGDG's own.
      gpg: { stub: `case "$*" in *--list-keys*) echo "pub:-:4096:1:7FCC7D46ACCC4CF8:::::::::"; echo "fpr:::::::::${PGDG_KEY_FINGERPRINT}:";; esac` },
      // apt's folders, made up: only stand-ins ever act on them.
      "apt-config": { stub: `echo "L='/nonexistent/sources.list'"; echo "P='/nonexistent/sources.list.d/'"; echo "C='/nonexistent/cache/'"` },
      env: { stub },
      pg_dump: { stub: 'echo "pg_dump (PostgreSQL) 99.0"' },
      // runCommand bounds every command with coreutils timeout: the real one, which then finds
      // the stand-in on PATH.
      timeout: { exec: TIMEOUT },
    });
    Object.assign(process.env, SECRETS, { PATH: spy.binDir });
  });
  afterEach(async () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    vi.restoreAllMocks();
    await spy.remove();
  });

  async function expectReduced(expected: string[]) {
    const seen = await spy.captured();
    expect(
      seen
        .map((c) => c.name)
        .filter((n) => n !== "timeout")
        .sort(),
    ).toEqual([...expected].sort());
    for (const { name, env } of seen) {
      expect(forbiddenVariables(env), name).toEqual([]);
      expect(
        Object.values(env).filter((v) => Object.values(SECRETS).some((s) => v.includes(s))),
        name,
      ).toEqual([]);
      expect(env.PATH, name).toBe(spy.binDir); // what it needs to run is still there
    }
  }

  /** Runs the install against the stand-ins (it may stop early: a stub is not apt); returns who ran. */
  async function install(platform: Platform): Promise<string[]> {
    const temp = await mkdtemp(path.join(tmpdir(), "install-"));
    try {
      await installPgDump(99, platform, { run: runCommand, log: () => undefined, env: {}, tempDir: temp }).catch(() => undefined);
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
    return (await spy.captured()).map((c) => c.name).filter((n) => n !== "timeout");
  }

  const linux = { os: "linux", canInstall: true, debianLike: true, codename: "bookworm" } as const;

  it("the install commands, through sudo (not root)", async () => {
    const ran = await install({ ...linux, root: false });
    expect(ran.filter((n) => n === "sudo").length).toBeGreaterThanOrEqual(4);
    await expectReduced(ran);
  });

  it("the install commands, as root (install, curl, gpg, env/apt-get, rm)", async () => {
    const ran = await install({ ...linux, root: true });
    expect(ran).toEqual(expect.arrayContaining(["install", "curl", "gpg", "env", "rm"]));
    await expectReduced(ran);
  });

  it("`sudo -n true` and the pg_dump version probes", async () => {
    vi.spyOn(process, "getuid").mockReturnValue(1000);
    await detectPlatform(runCommand);
    const installed = await findInstalled(runCommand, "/nonexistent");
    expect(installed.get(99)).toBe(`${spy.binDir}/pg_dump`);
    await expectReduced(process.platform === "linux" ? ["sudo", "pg_dump"] : ["pg_dump"]);
  });
});
