import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../src/errors.js";
import { authProblem } from "../src/postgres/auth-guard.js";
import { libpqEnv, parseConnectionUri } from "../src/postgres/connection.js";
import { applyTls, decideTls } from "../src/postgres/tls.js";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const noHome = { HOME: "/nonexistent-home" };

describe("decideTls", () => {
  it("keeps the URI's require, unverified, and then refuses a cleartext password", () => {
    expect(decideTls({ sslmode: "require" }, {}, noHome)).toEqual({ sslmode: "require", channelBinding: "prefer", requireAuth: "!password" });
  });

  it("takes the strongest sslmode of the URI, the input and the runner's PGSSLMODE", () => {
    expect(decideTls({ sslmode: "require" }, { sslMode: "verify-full", sslRootCert: PEM }, noHome).sslmode).toBe("verify-full");
    expect(decideTls({ sslmode: "require" }, { sslRootCert: PEM }, { ...noHome, PGSSLMODE: "verify-ca" }).sslmode).toBe("verify-ca");
    expect(decideTls({ sslmode: "verify-full" }, { sslRootCert: PEM }, { ...noHome, PGSSLMODE: "require" }).sslmode).toBe("verify-full");
    expect(decideTls({ sslmode: "require" }, {}, { ...noHome, PGSSLMODE: "disable" }).sslmode).toBe("require");
  });

  it("refuses an ssl-mode weaker than the URI's, naming the input", () => {
    expect(() => decideTls({ sslmode: "verify-full" }, { sslMode: "require", sslRootCert: PEM }, noHome)).toThrow(InputError);
    expect(() => decideTls({ sslmode: "verify-full" }, { sslMode: "verify-ca", sslRootCert: PEM }, noHome)).toThrow(
      /`ssl-mode`: "verify-ca" is weaker than the database URI's sslmode "verify-full"/,
    );
  });

  it("needs a CA to verify against", () => {
    expect(() => decideTls({ sslmode: "require" }, { sslMode: "verify-full" }, noHome)).toThrow(/`ssl-mode`: verify-full .* set `ssl-root-cert`/);
  });

  it("verifies with ssl-root-cert, else PGSSLROOTCERT, else the URI's sslrootcert; system means verify-full", () => {
    expect(
      decideTls({ sslmode: "require", sslrootcert: "/uri.crt" }, { sslRootCert: "/input.crt" }, { ...noHome, PGSSLROOTCERT: "/env.crt" }).rootCert,
    ).toEqual({
      kind: "file",
      path: "/input.crt",
    });
    expect(decideTls({ sslmode: "require", sslrootcert: "/uri.crt" }, {}, { ...noHome, PGSSLROOTCERT: "/env.crt" }).rootCert).toEqual({
      kind: "file",
      path: "/env.crt",
    });
    expect(decideTls({ sslmode: "require", sslrootcert: "/uri.crt" }, {}, noHome).rootCert).toEqual({ kind: "file", path: "/uri.crt" });
    expect(decideTls({ sslmode: "require" }, { sslRootCert: "system" }, noHome)).toEqual({
      sslmode: "verify-full",
      rootCert: { kind: "system" },
      channelBinding: "prefer",
    });
    // A verified server may be sent the password however it asks: no require_auth.
    expect(decideTls({ sslmode: "require" }, { sslMode: "verify-full", sslRootCert: PEM }, noHome).requireAuth).toBeUndefined();
  });

  it("passes the runner's stricter channel binding and require_auth through", () => {
    const d = decideTls({ sslmode: "require" }, {}, { ...noHome, PGCHANNELBINDING: "require", PGREQUIREAUTH: "scram-sha-256" });
    expect(d).toMatchObject({ channelBinding: "require", requireAuth: "scram-sha-256" });
    expect(decideTls({ sslmode: "require" }, {}, { ...noHome, PGCHANNELBINDING: "disable" }).channelBinding).toBe("prefer");
  });
});

describe("applyTls and libpqEnv", () => {
  it("writes PEM text to a 0600 file in a private folder and gives pg_dump every setting", async () => {
    const base = await mkdtemp(path.join(tmpdir(), "tls-test-"));
    try {
      const c = parseConnectionUri("postgres://u:p@db.example:5432/d?sslmode=require");
      let folder = "";
      const applied = await applyTls(c, decideTls(c, { sslMode: "verify-full", sslRootCert: PEM }, noHome), base, (dir) => {
        folder = dir;
      });
      expect(path.dirname(applied.sslrootcert as string)).toBe(folder);
      expect((await stat(folder)).mode & 0o777).toBe(0o700);
      expect((await stat(applied.sslrootcert as string)).mode & 0o777).toBe(0o600);
      expect(await readFile(applied.sslrootcert as string, "utf8")).toBe(PEM);
      expect(libpqEnv(applied)).toMatchObject({ PGSSLMODE: "verify-full", PGSSLROOTCERT: applied.sslrootcert, PGCHANNELBINDING: "prefer" });
      expect(libpqEnv(applied).PGREQUIREAUTH).toBeUndefined();
      const unverified = await applyTls(c, decideTls(c, {}, noHome), base, () => undefined);
      expect(libpqEnv(unverified)).toMatchObject({ PGSSLMODE: "require", PGREQUIREAUTH: "!password" });
      expect(libpqEnv(unverified).PGSSLROOTCERT).toBeUndefined();
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  it("writes the system roots to a file, so pg_dump before 16 (which reads `system` as a file name) trusts the same list", async () => {
    const base = await mkdtemp(path.join(tmpdir(), "tls-test-"));
    try {
      const c = parseConnectionUri("postgres://u:p@db.example:5432/d?sslmode=require");
      const applied = await applyTls(c, decideTls(c, { sslRootCert: "system" }, noHome), base, () => undefined);
      const roots = await readFile(applied.sslrootcert as string, "utf8");
      expect(roots.match(/-----BEGIN CERTIFICATE-----/g)?.length).toBeGreaterThan(10);
      expect(applied.sslmode).toBe("verify-full");
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  it("refuses an unreadable ssl-root-cert file, naming the input", async () => {
    const c = parseConnectionUri("postgres://u:p@db.example:5432/d?sslmode=require");
    await expect(applyTls(c, decideTls(c, { sslRootCert: "/no/such/ca.crt" }, noHome), undefined, () => undefined)).rejects.toThrow(
      /`ssl-root-cert`: cannot read \/no\/such\/ca\.crt \(ENOENT\)/,
    );
  });
});

describe("authProblem (libpq's require_auth and channel_binding, for the action's own connections)", () => {
  const cases: [string, Parameters<typeof authProblem>, RegExp | undefined][] = [
    ["!password refuses cleartext", [{ requireAuth: "!password" }, "password", false], /"!password" failed: the server asked for a cleartext password/],
    ["!password allows SCRAM", [{ requireAuth: "!password" }, "scram-sha-256", false], undefined],
    ["!password allows md5", [{ requireAuth: "!password" }, "md5", false], undefined],
    ["a list allows what it names", [{ requireAuth: "scram-sha-256" }, "scram-sha-256", false], undefined],
    ["a list refuses md5", [{ requireAuth: "scram-sha-256" }, "md5", false], /md5 authentication/],
    ["a list refuses no authentication", [{ requireAuth: "scram-sha-256" }, "none", false], /no authentication/],
    ["!password,!md5", [{ requireAuth: "!password,!md5" }, "md5", false], /md5/],
    ["channel binding required, SCRAM without it", [{ channelBinding: "require" }, "scram-sha-256", false], /channel binding is required/],
    ["channel binding required, cleartext", [{ channelBinding: "require" }, "password", false], /channel binding is required/],
    ["channel binding required and used", [{ channelBinding: "require" }, "scram-sha-256", true], undefined],
    ["no policy", [{}, "password", false], undefined],
  ];
  it.each(cases)("%s", (_name, args, expected) => {
    const problem = authProblem(...args);
    if (expected) expect(problem).toMatch(expected);
    else expect(problem).toBeUndefined();
  });
});

describe("the TLS decision's edges", () => {
  it("an ssl-mode equal to the URI's is accepted; a weaker PGSSLMODE never lowers it", () => {
    expect(decideTls({ sslmode: "verify-ca" }, { sslMode: "verify-ca", sslRootCert: PEM }, noHome).sslmode).toBe("verify-ca");
    expect(decideTls({ sslmode: "require" }, { sslMode: "require" }, { ...noHome, PGSSLMODE: "prefer" }).sslmode).toBe("require");
    expect(decideTls({}, {}, noHome).sslmode).toBe("prefer");
  });

  it("only require and above with a CA count as verified: prefer and allow may fall back to plain, so the password stays guarded", () => {
    for (const sslmode of ["allow", "prefer"]) expect(decideTls({ sslmode }, { sslRootCert: PEM }, noHome).requireAuth, sslmode).toBe("!password");
    for (const sslmode of ["require", "verify-ca", "verify-full"])
      expect(decideTls({ sslmode }, { sslRootCert: PEM }, noHome).requireAuth, sslmode).toBeUndefined();
  });

  it("libpq's default root certificate, ~/.postgresql/root.crt of the runner's HOME, is used when nothing is named", async () => {
    const home = await mkdtemp(path.join(tmpdir(), "tls-home-"));
    try {
      expect(decideTls({ sslmode: "require" }, {}, { HOME: home }).rootCert).toBeUndefined();
      await mkdir(path.join(home, ".postgresql"));
      await writeFile(path.join(home, ".postgresql", "root.crt"), PEM);
      const d = decideTls({ sslmode: "require" }, {}, { HOME: home });
      expect(d.rootCert).toEqual({ kind: "file", path: path.join(home, ".postgresql", "root.crt") });
      expect(d.requireAuth).toBeUndefined();
      // A named one wins.
      expect(decideTls({ sslmode: "require" }, { sslRootCert: "/input.crt" }, { HOME: home }).rootCert).toEqual({ kind: "file", path: "/input.crt" });
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it("PEM text without a final newline is written with one, in a scalingo-pg-dump-tls- folder of the temp dir when no base is given", async () => {
    const c = parseConnectionUri("postgres://u:p@db.example:5432/d?sslmode=require");
    let folder = "";
    const applied = await applyTls(c, decideTls(c, { sslRootCert: PEM.trimEnd() }, noHome), undefined, (dir) => {
      folder = dir;
    });
    try {
      expect(path.dirname(folder)).toBe(tmpdir());
      expect(path.basename(folder)).toMatch(/^scalingo-pg-dump-tls-/);
      expect(applied.sslrootcert).toBe(path.join(folder, "root.crt"));
      expect(await readFile(applied.sslrootcert as string, "utf8")).toBe(PEM);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it("a root certificate file is used where it is, and the URI's own sslrootcert never reaches the connection unchecked", async () => {
    const base = await mkdtemp(path.join(tmpdir(), "tls-test-"));
    try {
      const file = path.join(base, "ca.crt");
      await writeFile(file, PEM);
      const c = parseConnectionUri(`postgres://u:p@db.example:5432/d?sslmode=require&sslrootcert=${encodeURIComponent(file)}`);
      const folders: string[] = [];
      const applied = await applyTls(c, decideTls(c, {}, noHome), base, (dir) => folders.push(dir));
      expect(applied.sslrootcert).toBe(file);
      expect(folders).toEqual([]);
      const plain = parseConnectionUri("postgres://u:p@db.example:5432/d?sslmode=require&sslrootcert=/uri.crt");
      const none = await applyTls(plain, { sslmode: "require", channelBinding: "prefer" }, base, () => undefined);
      expect(none.sslrootcert).toBeUndefined();
      expect(none).toEqual({ ...plain, sslrootcert: undefined, sslmode: "require", channelBinding: "prefer" });
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
