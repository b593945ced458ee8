import { describe, expect, it } from "vitest";
import { installSteps, PGDG_REPOSITORY, pgdgSource, sourceUris, TIMEOUTS } from "../src/postgres/apt-install.js";
import { type Choice, choosePgDump, type Installed, installAdvice, type Platform, parsePgDumpVersion, unsupportedPlatform } from "../src/postgres/pg-client.js";
import { compressProblem, DEFAULT_LOCK_WAIT_TIMEOUT_MS, pgDumpArgs } from "../src/postgres/pg-dump.js";

const ubuntu: Platform = { os: "linux", canInstall: true, debianLike: true, codename: "noble", root: false };
const macos: Platform = { os: "darwin", canInstall: false, debianLike: false, root: false };
const debianWithoutSudo: Platform = { os: "linux", canInstall: false, debianLike: true, codename: "bookworm", root: false };
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
    [17, "auto", installed(16), macos, /No pg_dump 17 on this runner \(installed: 16\).*brew install postgresql@17/],
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

describe("platforms", () => {
  it("Windows is refused before anything is contacted; Linux and macOS are not", () => {
    expect(unsupportedPlatform("win32")).toMatch(/Windows runners are not supported.*ubuntu-latest/);
    expect(unsupportedPlatform("linux")).toBeUndefined();
    expect(unsupportedPlatform("darwin")).toBeUndefined();
  });

  it("macOS gets Homebrew advice, never apt", () => {
    const choice = choosePgDump({ serverMajor: 17, requested: "auto", installed: installed(), platform: macos });
    const message = (choice as { message: string }).message;
    expect(message).toMatch(/brew install postgresql@17/);
    expect(message).not.toMatch(/apt|sudo/);
  });

  it("Debian or Ubuntu without root or sudo gets PostgreSQL's own apt setup", () => {
    const message = (choosePgDump({ serverMajor: 17, requested: "auto", installed: installed(), platform: debianWithoutSudo }) as { message: string }).message;
    expect(message).toMatch(/needs apt-get, curl and root or password-less sudo.*apt\.postgresql\.org\.sh -y && sudo apt-get install -y postgresql-client-17/);
    expect(installAdvice(16, { os: "linux", debianLike: false })).toMatch(/package manager/);
  });
});

describe("installing from PGDG", () => {
  const paths = { sourceList: "/etc/apt/sources.list", sourceParts: "/etc/apt/sources.list.d/", cacheDir: "/var/cache/apt/" };
  const base = {
    packages: ["postgresql-client-17"],
    privateDir: "/var/cache/apt/scalingo-pg-dump",
    paths,
    keyFile: "/tmp/x/pgdg.asc",
    sourceFile: "/tmp/x/pgdg.sources",
  };

  it("writes only inside its private folder, with explicit modes, and reads the host's sources in place", () => {
    const steps = installSteps({ ...base, hostFiles: ["/etc/apt/sources.list.d/ubuntu.sources"], reuse: false });
    const argv = steps.map((s) => s.argv.join(" "));
    // Every destination (install's last word) is in the private folder.
    for (const s of steps.filter((s) => ["install", "chmod"].includes(s.argv[0]))) expect(s.argv.at(-1)).toMatch(/^\/var\/cache\/apt\/scalingo-pg-dump\b/);
    expect(argv.join("\n")).not.toMatch(/-o \/etc|> \/etc|\/usr\/share\/postgresql-common|\/etc\/apt\/trusted/);
    // The key root installs is the one checked beforehand, with the runner user's rights; root downloads nothing itself.
    expect(argv).toContain("install -m 0644 /tmp/x/pgdg.asc /var/cache/apt/scalingo-pg-dump/pgdg.asc");
    expect(argv.some((a) => a.startsWith("curl"))).toBe(false);
    expect(argv[0]).toMatch(/^install -d -m 0755 /);
    const update = argv.find((a) => a.endsWith(" update")) as string;
    expect(update).toContain("Dir::Etc::sourcelist=/etc/apt/sources.list");
    expect(update).toContain("Dir::Etc::sourceparts=/var/cache/apt/scalingo-pg-dump/sources.list.d");
    expect(update).toContain("Dir::State::Lists=/var/cache/apt/scalingo-pg-dump/lists");
    expect(argv.at(-1)).toMatch(/DPkg::Lock::Timeout=120 .*install -y --no-install-recommends postgresql-client-17$/);
    // Each step is bounded.
    expect(steps.every((s) => TIMEOUTS[s.timeout] > 0)).toBe(true);
  });

  it("reuses the host's PGDG source: no key, no second source", () => {
    const argv = installSteps({ ...base, hostFiles: [], reuse: true }).map((s) => s.argv.join(" "));
    expect(argv.join("\n")).not.toMatch(/pgdg\.(asc|sources)/);
  });

  it("a mirror's credentials: root's alone (0600) in a private auth.conf.d beside the host's, never in argv", () => {
    const steps = installSteps({
      ...base,
      paths: { ...paths, netrcParts: "/etc/apt/auth.conf.d/" },
      hostFiles: [],
      reuse: false,
      authFile: "/tmp/x/pgdg-auth.conf",
      hostAuthFiles: ["/etc/apt/auth.conf.d/corp.conf"],
    });
    const argv = steps.map((s) => s.argv.join(" "));
    expect(argv).toContain("install -d -m 0700 /var/cache/apt/scalingo-pg-dump/auth.conf.d");
    expect(argv).toContain("install -m 0600 /etc/apt/auth.conf.d/corp.conf /var/cache/apt/scalingo-pg-dump/auth.conf.d/");
    expect(argv).toContain("install -m 0600 /tmp/x/pgdg-auth.conf /var/cache/apt/scalingo-pg-dump/auth.conf.d/pgdg.conf");
    expect(argv.find((a) => a.endsWith(" update"))).toContain("Dir::Etc::netrcparts=/var/cache/apt/scalingo-pg-dump/auth.conf.d");
  });

  it("nothing in the source is tied to amd64: arm64 runners get their own packages", () => {
    const source = pgdgSource(PGDG_REPOSITORY, "noble", "/k.asc");
    expect(source).toBe("Types: deb\nURIs: https://apt.postgresql.org/pub/repos/apt\nSuites: noble-pgdg\nComponents: main\nSigned-By: /k.asc\n");
    expect(
      installSteps({ ...base, hostFiles: [], reuse: false })
        .flatMap((s) => s.argv)
        .join(" "),
    ).not.toMatch(/amd64|arch=/);
  });

  it("finds an enabled PGDG entry in one-line and deb822 files", () => {
    expect(
      sourceUris(
        "# deb http://apt.postgresql.org/pub/repos/apt noble-pgdg main\ndeb [signed-by=/k] https://apt.postgresql.org/pub/repos/apt noble-pgdg main\n",
        false,
      ),
    ).toEqual(["https://apt.postgresql.org/pub/repos/apt"]);
    expect(
      sourceUris("Types: deb\nURIs: https://apt.postgresql.org/pub/repos/apt\nSuites: noble-pgdg\n\nTypes: deb\nURIs: http://x\nEnabled: no\n", true),
    ).toEqual(["https://apt.postgresql.org/pub/repos/apt"]);
  });

  it("parses pg_dump --version", () => {
    expect(parsePgDumpVersion("pg_dump (PostgreSQL) 17.2 (Ubuntu 17.2-1.pgdg24.04+1)\n")).toBe(17);
    expect(parsePgDumpVersion("pg_dump (PostgreSQL) 9.6.24")).toBe(9);
    expect(parsePgDumpVersion("command not found")).toBeUndefined();
  });
});

describe("pg_dump arguments", () => {
  it("puts the action's options first and never a connection: only libpq's TCP bounds, which hold no secret", () => {
    const args = pgDumpArgs({ format: "directory", jobs: 2, compress: "zstd:3", pgDumpArgs: ["--clean"] }, "/tmp/x");
    expect(args).toEqual([
      "--format=d",
      "--file=/tmp/x",
      "--jobs=2",
      "--compress=zstd:3",
      "--no-password",
      "--dbname=keepalives=1 keepalives_idle=60 keepalives_interval=10 keepalives_count=6 tcp_user_timeout=120000",
      "--lock-wait-timeout=180000",
      "--clean",
    ]);
    const conninfo = args.find((a) => a.startsWith("--dbname="))?.slice("--dbname=".length) ?? "";
    expect(conninfo.split(" ").map((word) => word.split("=")[0])).toEqual([
      "keepalives",
      "keepalives_idle",
      "keepalives_interval",
      "keepalives_count",
      "tcp_user_timeout",
    ]);
  });

  it("bounds the wait for table locks by default; pg-dump-args may set another bound", () => {
    const args = (extra: string[]) => pgDumpArgs({ format: "custom", pgDumpArgs: extra }, "/tmp/x").filter((a) => a.startsWith("--lock-wait-timeout"));
    expect(args([])).toEqual([`--lock-wait-timeout=${DEFAULT_LOCK_WAIT_TIMEOUT_MS}`]);
    expect(args(["--lock-wait-timeout=5000"])).toEqual(["--lock-wait-timeout=5000"]);
    expect(args(["--lock-wait-timeout", "1s"])).toEqual(["--lock-wait-timeout"]);
  });

  it("checks the compression against the client", () => {
    expect(compressProblem("zstd:3", 15, "custom")).toMatch(/needs pg_dump 16/);
    expect(compressProblem("lz4", 16, "custom")).toBeUndefined();
    expect(compressProblem("6", 14, "custom")).toBeUndefined();
    expect(compressProblem("gzip:6", 17, "tar")).toMatch(/tar format cannot be compressed/);
  });
});
