import { describe, expect, it } from "vitest";
import { parseRestoreConfig } from "../src/restore/config.js";
import { restoreArgv } from "../src/restore/pg-restore.js";
import { pgRestoreArgs } from "../src/restore/pg-restore-options.js";

const base = { "api-token": "tk-us-abc", database: "shop-db-123", path: "backup.dump" };
const parse = (inputs: Record<string, string>) =>
  parseRestoreConfig((name) => inputs[name] ?? "", { GITHUB_WORKSPACE: "/ws", GITHUB_REPOSITORY: "acme/shop" }, 2);

describe("the restore action's inputs", () => {
  it("defaults: a fresh database, workers, --exit-on-error", () => {
    const c = parse(base);
    expect(c.source).toEqual({ kind: "path", path: "/ws/backup.dump" });
    expect(c.target).toBeUndefined();
    expect(c.jobs).toBe(2);
    expect(c.pgRestoreArgs).toContain("--exit-on-error");
    expect(c.verifyRowCounts).toBe("auto");
  });

  it("a named target needs confirm equal to it, and refuses drop-after and jobs", () => {
    expect(() => parse({ ...base, "target-database-name": "prod" })).toThrow(/`confirm`: restoring over the existing database "prod"/);
    expect(() => parse({ ...base, "target-database-name": "prod", confirm: "prd" })).toThrow(/\(got "prd"\)/);
    expect(() => parse({ ...base, "target-database-name": "prod", confirm: "prod", "drop-after": "true" })).toThrow(/`drop-after`/);
    expect(() => parse({ ...base, "target-database-name": "prod", confirm: "prod", jobs: "4" })).toThrow(
      /`jobs`: a restore over a named target runs in one transaction/,
    );
    expect(parse({ ...base, "target-database-name": "prod", confirm: "prod" })).toMatchObject({ target: "prod", jobs: 1 });
    expect(() => parse({ ...base, confirm: "prod" })).toThrow(/`confirm`: confirms a `target-database-name`, which is empty/);
  });

  it("exactly one source: path, run-id or latest", () => {
    expect(() => parse({ "api-token": "t", database: "d" })).toThrow(/say which backup to restore/);
    expect(() => parse({ ...base, "run-id": "12" })).toThrow(/got `path` and `run-id`/);
    expect(() => parse({ "api-token": "t", database: "d", "run-id": "12", "artifact-name": "a.dump" })).toThrow(/`github-token`: is required/);
    expect(parse({ "api-token": "t", database: "d", "run-id": "12", "artifact-name": "a.dump", "github-token": "ghs_x" }).source).toEqual({
      kind: "artifact",
      name: "a.dump",
      runId: 12,
      githubToken: "ghs_x",
    });
    expect(() => parse({ "api-token": "t", database: "d", latest: "true", "artifact-name": "a-", "github-token": "g" })).toThrow(/`workflow`: empty/);
  });

  it("pg-restore-args: the action's options are reserved, however written", () => {
    for (const args of ["-d prod", "--dbn=prod", "-1", "--single-transaction", "-j4", "--clean", "-C", "-L list", "-f out.sql", "-xc"]) {
      expect(() => pgRestoreArgs(args), args).toThrow(/set by the action itself/);
    }
    expect(() => pgRestoreArgs("--no-owner dump.file")).toThrow(/not an option as the dump file/);
    expect(pgRestoreArgs("--no-owner --disable-triggers")).toEqual(["--no-owner", "--disable-triggers"]);
  });

  it("a decryption identity must look like one (never echoed)", () => {
    expect(() => parse({ ...base, "decryption-identity": "age1notanidentity" })).toThrow(/`decryption-identity`: is not an age identity/);
  });

  it("pg_restore argv: workers into a fresh database, one transaction over a target, never a connection string", () => {
    const fresh = restoreArgv({ format: "custom", source: "/p/d.dump", binDir: "/b", database: "restore_x", over: false, jobs: 3, args: ["--exit-on-error"] });
    expect(fresh).toEqual({ tool: "pg_restore", args: ["--exit-on-error", "--jobs=3", "--no-password", "--dbname=restore_x", "/p/d.dump"] });
    const over = restoreArgv({ format: "custom", source: "/p/d.dump", binDir: "/b", database: "staging", over: true, jobs: 1, args: [] });
    expect(over.args).toEqual(["--clean", "--if-exists", "--single-transaction", "--no-password", "--dbname=staging", "/p/d.dump"]);
    expect(restoreArgv({ format: "plain", source: "/p/d.sql", binDir: "/b", database: "s", over: true, jobs: 1, args: [] }).args).toContain(
      "--single-transaction",
    );
  });
});
