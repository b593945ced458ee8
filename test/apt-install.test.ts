// The install path against a real apt-get: a signed repository on loopback, installing into a
// private root (APT_CONFIG), so this machine's apt configuration and packages are never touched.
import { execFile } from "node:child_process";
import { access, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installPackages, PGDG_MIRROR_ENV, pgdgSource } from "../src/postgres/apt-install.js";
import { PGDG_KEY_FINGERPRINT } from "../src/postgres/pgdg-key.js";
import { type CommandRunner, runCommand } from "../src/runner/commands.js";
import { type AptRepo, type AptRoot, createAptRoot, startAptRepo } from "./support/apt-repo.js";

const CODENAME = "bookworm";
const PG_DUMP = "usr/lib/postgresql/17/bin/pg_dump";

describe("installing from the PostgreSQL apt repository with a real apt-get", () => {
  let repo: AptRepo;
  let temp: string;
  beforeAll(async () => {
    repo = await startAptRepo(CODENAME, [{ name: "postgresql-client-17", files: { [PG_DUMP]: "#!/bin/sh\necho 'pg_dump (PostgreSQL) 17.0'\n" } }]);
    temp = await mkdtemp(path.join(tmpdir(), "apt-temp-"));
  });
  afterAll(() => repo?.close());

  /** The real commands; curl is told to trust the repository's test CA, as apt is through the root's apt.conf. */
  const trustingRun =
    (ca: string, seen: string[][] = []): CommandRunner =>
    (file, args, options = {}) => {
      seen.push([file, ...args]);
      return runCommand(file, args, file === "curl" ? { ...options, env: { ...options.env, CURL_CA_BUNDLE: ca } } : options);
    };

  async function install(
    root: AptRoot,
    packages = ["postgresql-client-17"],
    o: { from?: AptRepo; mirror?: string; pin?: string | null; seen?: string[][] } = {},
  ) {
    const from = o.from ?? repo;
    const logs: string[] = [];
    const env = { APT_CONFIG: root.aptConfig, [PGDG_MIRROR_ENV]: o.mirror ?? from.url };
    const pin = o.pin === null ? {} : { pinnedFingerprint: o.pin ?? from.fingerprint };
    const run = trustingRun(from.caCertPath, o.seen);
    await installPackages(packages, { codename: CODENAME, sudo: false, run, log: (m) => logs.push(m), env, tempDir: temp, ...pin });
    return logs;
  }

  it("a fresh host: key and source in a private folder, readable by apt's _apt user whatever the umask; nothing else changed", async () => {
    const root = await createAptRoot({ caCertPath: repo.caCertPath });
    const before = await root.snapshot();
    // The action's old process-wide umask, under which the key was written 0600 and apt could not read it.
    const umask = process.umask(0o077);
    let logs: string[];
    try {
      logs = await install(root);
    } finally {
      process.umask(umask);
    }
    expect(logs.join("\n")).toMatch(/source and key in .*scalingo-pg-dump, the host's apt configuration untouched/);
    expect(await readFile(path.join(root.dir, PG_DUMP), "utf8")).toContain("17.0");
    expect(repo.requests).toContain("200 /ACCC4CF8.asc");
    // The host's sources, keys and lists are as they were; the private folder is gone.
    const after = await root.snapshot();
    expect(Object.keys(after).filter((f) => !f.startsWith("usr/share/postgresql-common") && f.startsWith("etc/"))).toEqual(
      Object.keys(before).filter((f) => f.startsWith("etc/")),
    );
    expect(after).toMatchObject(before);
    await expect(access(path.join(root.dir, "var/cache/apt/scalingo-pg-dump"))).rejects.toThrow();
  });

  it("a host that already has PostgreSQL's pgdg.sources keeps it and keeps working (no conflicting Signed-By)", async () => {
    const root = await createAptRoot({ caCertPath: repo.caCertPath });
    // What PostgreSQL's own setup script (apt.postgresql.org.sh) leaves: a deb822 source and a dpkg-owned key.
    const hostKey = path.join(root.dir, "usr/share/postgresql-common/pgdg/apt.postgresql.org.asc");
    await mkdir(path.dirname(hostKey), { recursive: true });
    await writeFile(hostKey, await readFile(repo.keyPath), { mode: 0o644 });
    await writeFile(path.join(root.dir, "etc/apt/sources.list.d/pgdg.sources"), pgdgSource(repo.url, CODENAME, hostKey));
    const before = await root.snapshot();

    // Adding a second source for the same repository with another key is what breaks apt:
    const second = path.join(root.dir, "etc/apt/sources.list.d/second.list");
    await writeFile(second, `deb [signed-by=${root.dir}/other.asc] ${repo.url} ${CODENAME}-pgdg main\n`);
    expect(await aptUpdate(root)).toMatch(/Conflicting values set for option Signed-By/);
    await rm(second);

    const logs = await install(root);
    expect(logs.join("\n")).toMatch(/with the PostgreSQL apt source already configured in .*pgdg\.sources/);
    expect(repo.requests.filter((r) => r.endsWith("/ACCC4CF8.asc"))).toHaveLength(1); // only the first test's
    expect(await readFile(path.join(root.dir, PG_DUMP), "utf8")).toContain("17.0");
    expect(await root.snapshot()).toMatchObject(before);
    // And apt on that host still works for every later step.
    expect(await aptUpdate(root)).not.toMatch(/^E:|Conflicting/m);
  });

  it("waits for the dpkg lock another apt holds instead of failing at once", async () => {
    const root = await createAptRoot({ caCertPath: repo.caCertPath });
    const lock = await root.holdDpkgLock();
    const started = Date.now();
    const released = new Promise<number>((resolve) =>
      setTimeout(() => {
        lock.release();
        resolve(Date.now());
      }, 3000),
    );
    await install(root);
    expect(Date.now()).toBeGreaterThanOrEqual(await released);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
    expect((await stat(path.join(root.dir, PG_DUMP))).mode & 0o111).toBeTruthy();
  });

  it("refuses a mirror that is not https before running anything", async () => {
    const root = await createAptRoot({ caCertPath: repo.caCertPath });
    const seen: string[][] = [];
    const mirror = repo.url.replace("https:", "http:");
    await expect(install(root, undefined, { mirror, seen })).rejects.toThrow(/SCALINGO_PG_DUMP_PGDG_MIRROR must use https:\/\//);
    expect(seen).toEqual([]);
  });

  it("checks the key against the pinned fingerprint, whatever the mirror: a key that is not the pinned one installs nothing", async () => {
    const root = await createAptRoot({ caCertPath: repo.caCertPath });
    const before = await root.snapshot();
    // The action's own pin (PGDG's key): the test repository's key is not it.
    await expect(install(root, undefined, { pin: null })).rejects.toThrow(
      new RegExp(`signing key served at .*ACCC4CF8\\.asc is not PGDG's \\(expected only ${PGDG_KEY_FINGERPRINT}; found ${repo.fingerprint}\\)`),
    );
    await expect(access(path.join(root.dir, PG_DUMP))).rejects.toThrow();
    expect(await root.snapshot()).toEqual(before);
  });

  it("a mirror with credentials: they reach neither argv nor a file others can read, and the install works", async () => {
    const password = "s3cret-pass word".replace(" ", "-");
    const guarded = await startAptRepo(CODENAME, [{ name: "postgresql-client-17", files: { [PG_DUMP]: "#!/bin/sh\necho 'pg_dump (PostgreSQL) 17.0'\n" } }], {
      basicAuth: { user: "mirror-user", password },
    });
    try {
      const root = await createAptRoot({ caCertPath: guarded.caCertPath });
      const seen: string[][] = [];
      const leaks: string[] = [];
      // Before every command: no file under the apt root or the run's temp folder that others may read holds the password.
      const watch = async () => {
        for (const top of [root.dir, temp]) {
          for (const entry of await readdir(top, { recursive: true, withFileTypes: true }).catch(() => [])) {
            if (!entry.isFile()) continue;
            const file = path.join(entry.parentPath, entry.name);
            const info = await stat(file).catch(() => undefined);
            if (info && info.mode & 0o044 && (await readFile(file, "utf8").catch(() => "")).includes(password)) leaks.push(file);
          }
        }
      };
      const mirror = guarded.url.replace("https://", `https://mirror-user:${password}@`);
      const logs: string[] = [];
      const env = { APT_CONFIG: root.aptConfig, [PGDG_MIRROR_ENV]: mirror };
      const base = trustingRun(guarded.caCertPath, seen);
      const run: CommandRunner = async (file, args, options) => {
        await watch();
        return base(file, args, options);
      };
      await installPackages(["postgresql-client-17"], {
        codename: CODENAME,
        sudo: false,
        run,
        log: (m) => logs.push(m),
        env,
        tempDir: temp,
        pinnedFingerprint: guarded.fingerprint,
      });
      expect(await readFile(path.join(root.dir, PG_DUMP), "utf8")).toContain("17.0");
      expect(guarded.requests.filter((r) => r.startsWith("200"))).toContain("200 /ACCC4CF8.asc");
      expect(seen.flat().join(" ")).not.toContain(password);
      expect(logs.join("\n")).not.toContain(password);
      expect(leaks).toEqual([]);
    } finally {
      await guarded.close();
    }
  });
});

/** Async: the repository is served by this very process. */
function aptUpdate(root: AptRoot): Promise<string> {
  return new Promise((resolve) =>
    execFile("apt-get", ["update"], { env: { ...process.env, APT_CONFIG: root.aptConfig } }, (_error, stdout, stderr) => resolve(`${stdout}\n${stderr}`)),
  );
}
