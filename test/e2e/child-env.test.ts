import { existsSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEnvSpy, type EnvSpy, forbiddenVariables } from "../support/env-spy.js";
import { runStep } from "../support/runner.js";
import { describeStep, startWorld, type World } from "./world.js";

const which = (...candidates: string[]) => candidates.find((f) => existsSync(f)) ?? candidates[0];

// What each program the bundled action starts receives, read from /proc/<pid>/environ by
// stand-ins first on PATH that then run the real program. `pg-dump-version: 39` makes the action
// pick the stand-in pg_dump (it answers --version with 39), and with it the pg_restore beside it.
describe("the environment of every child process, end to end", () => {
  let w: World;
  let spy: EnvSpy;
  beforeAll(async () => {
    w = await startWorld();
    const bin = w.pg.binDir;
    spy = await createEnvSpy({
      pg_dump: { stub: `[ "$1" = "--version" ] && { echo "pg_dump (PostgreSQL) 39.0"; exit 0; }\nexec '${bin}/pg_dump' "$@"` },
      pg_restore: { exec: `${bin}/pg_restore` },
      tar: { exec: which("/usr/bin/tar", "/bin/tar") },
      timeout: { exec: which("/usr/bin/timeout", "/bin/timeout") },
    });
  });
  afterAll(async () => {
    await spy?.remove();
    await w?.close();
  });

  it("pg_dump, pg_restore, tar and the version probe get no input, no runner token, no OIDC token; pg_dump gets the runner's stricter PG settings", async () => {
    const s = await w.scenario();
    const tokens = {
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: "oidc-request-token-secret",
      ACTIONS_ID_TOKEN_REQUEST_URL: "https://token.actions.example/oidc?secret",
      GITHUB_TOKEN: "ghs_secret_token",
      AWS_ACCESS_KEY_ID: "AKIACHILDENVTEST0001",
      AWS_SECRET_ACCESS_KEY: "aws-secret-access-key-child-env",
      AWS_SESSION_TOKEN: "aws-session-token-child-env",
    };
    const env = { ...tokens, PATH: `${spy.binDir}${path.delimiter}${s.ctx.env.PATH}`, PGCHANNELBINDING: "require" };
    // The stand-in answers 39 but runs the installed pg_dump: an explicit level, so the action's
    // default for 16+ (zstd) does not reach a pg_dump that may lack it.
    const inputs = { ...s.inputs, format: "directory", jobs: "1", "pg-dump-version": "39", compress: "6" };
    const main = await runStep(s.ctx, "main", inputs, { env });
    expect(main.code, describeStep(main)).toBe(0);

    const seen = await spy.captured();
    const names = seen.map((c) => c.name);
    for (const program of ["pg_dump", "pg_restore", "tar", "timeout"]) expect(names).toContain(program);
    expect(names.filter((n) => n === "pg_dump").length).toBeGreaterThanOrEqual(2); // the version probe and the dump
    const secrets = [...Object.values(tokens), w.apiToken, s.ctx.env.ACTIONS_RUNTIME_TOKEN];
    for (const { name, env: childEnv } of seen) {
      expect(forbiddenVariables(childEnv), name).toEqual([]);
      expect(
        Object.values(childEnv).filter((v) => secrets.some((secret) => v.includes(secret))),
        name,
      ).toEqual([]);
    }
    // The dump itself: the connection and the TLS settings, the runner's channel binding included.
    const dump = seen.find((c) => c.name === "pg_dump" && c.env.PGPASSWORD);
    expect(dump?.env).toMatchObject({ PGHOST: w.pg.host, PGSSLMODE: "require", PGCHANNELBINDING: "require", PGREQUIREAUTH: "!password" });
    // Nothing else carries the password.
    expect(seen.filter((c) => c.env.PGPASSWORD).every((c) => c.name === "pg_dump")).toBe(true);
  });
});
