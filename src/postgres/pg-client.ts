import { access, readdir, readFile, realpath } from "node:fs/promises";
import * as path from "node:path";
import { type CommandRunner, runCommand } from "../runner/commands.js";
import { installPackages } from "./apt-install.js";

/** Installed pg_dump binaries by major version. */
export type Installed = Map<number, string>;

export type Choice = { kind: "use"; major: number; path: string } | { kind: "install"; major: number } | { kind: "fail"; message: string };

export interface Platform {
  /** `process.platform`: the advice for a missing pg_dump depends on it. */
  os: NodeJS.Platform;
  /** Debian or Ubuntu (any architecture PGDG builds), with apt-get and curl, and root or password-less sudo. */
  canInstall: boolean;
  /** Debian or Ubuntu, whether or not this user may install. */
  debianLike: boolean;
  codename?: string;
  root: boolean;
}

/** Refused before any API call: nothing on Windows runners can install or run the right pg_dump here. */
export function unsupportedPlatform(os: NodeJS.Platform): string | undefined {
  if (os === "win32") {
    return "Windows runners are not supported: run this action on a Linux runner (`runs-on: ubuntu-latest`), or on macOS with pg_dump installed.";
  }
  return undefined;
}

/** What to run before this step to get pg_dump `major`, in the platform's own terms. */
export function installAdvice(major: number, platform: Pick<Platform, "os" | "debianLike">): string {
  if (platform.os === "darwin") return `brew install postgresql@${major} (its pg_dump is in $(brew --prefix postgresql@${major})/bin)`;
  if (platform.debianLike) {
    return `sudo /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y && sudo apt-get install -y postgresql-client-${major} (PostgreSQL's own apt setup, from the postgresql-common package)`;
  }
  return `install the PostgreSQL ${major} client with this system's package manager`;
}

export function majorOf(version: string): number {
  return Number(version.split(".")[0]);
}

/** `pg_dump (PostgreSQL) 17.2 (Ubuntu 17.2-1.pgdg24.04+1)` → 17 */
export function parsePgDumpVersion(output: string): number | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)/.exec(output);
  return match ? Number(match[1]) : undefined;
}

/**
 * pg_dump refuses a server newer than itself, and an archive written by a newer pg_dump cannot be
 * read by an older pg_restore: the server's own major is the one that fits. A newer client is used
 * only when asked for by `pg-dump-version`, so nobody gets a dump their pg_restore cannot read.
 */
export function choosePgDump(o: { serverMajor: number; requested: "auto" | number; installed: Installed; platform: Platform }): Choice {
  const wanted = o.requested === "auto" ? o.serverMajor : o.requested;
  if (wanted < o.serverMajor) {
    return {
      kind: "fail",
      message: `\`pg-dump-version\` ${wanted} cannot dump a PostgreSQL ${o.serverMajor} server (pg_dump refuses newer servers). Use \`auto\` or ${o.serverMajor} or later.`,
    };
  }
  const exact = o.installed.get(wanted);
  if (exact) return { kind: "use", major: wanted, path: exact };
  if (o.platform.canInstall) return { kind: "install", major: wanted };
  const newer = [...o.installed.keys()].filter((m) => m > wanted).sort((a, b) => b - a)[0];
  const have = o.installed.size ? `installed: ${[...o.installed.keys()].join(", ")}` : "none installed";
  const alternative =
    newer === undefined
      ? ""
      : ` Or set \`pg-dump-version: ${newer}\` to use the installed pg_dump ${newer} (restore its dumps with pg_restore ${newer} or later).`;
  const why = o.platform.debianLike
    ? "installing it needs apt-get, curl and root or password-less sudo"
    : "the action installs pg_dump on Debian and Ubuntu only";
  return {
    kind: "fail",
    message: `No pg_dump ${wanted} on this runner (${have}) and it cannot be installed here (${why}). Install it before this step, e.g.: ${installAdvice(wanted, o.platform)}.${alternative}`,
  };
}

export const debianBinDir = (major: number) => `/usr/lib/postgresql/${major}/bin`;

/** Debian's layout first (`/usr/bin/pg_dump` is pg_wrapper, which may pick another major), then PATH. */
export async function findInstalled(run: CommandRunner = runCommand, root = "/usr/lib/postgresql"): Promise<Installed> {
  const found: Installed = new Map();
  for (const dir of await readdir(root).catch(() => [] as string[])) {
    const candidate = path.join(root, dir, "bin", "pg_dump");
    if (/^\d+$/.test(dir) && (await isExecutable(candidate))) found.set(Number(dir), candidate);
  }
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, "pg_dump");
    if (!(await isExecutable(candidate)) || (await realpath(candidate)).includes("pg_wrapper")) continue;
    const major = parsePgDumpVersion((await run(candidate, ["--version"], { silent: true })).stdout);
    if (major && !found.has(major)) found.set(major, candidate);
  }
  return found;
}

export async function detectPlatform(run: CommandRunner = runCommand, os: NodeJS.Platform = process.platform): Promise<Platform> {
  const root = process.getuid?.() === 0;
  if (os !== "linux") return { os, canInstall: false, debianLike: false, root };
  const osRelease = await readFile("/etc/os-release", "utf8").catch(() => "");
  const field = (name: string) => new RegExp(`^${name}="?([^"\\n]*)`, "m").exec(osRelease)?.[1] ?? "";
  const debianLike = /\b(debian|ubuntu)\b/.test(`${field("ID")} ${field("ID_LIKE")}`);
  const codename = field("VERSION_CODENAME") || field("UBUNTU_CODENAME") || undefined;
  const hasApt = (await isExecutable("/usr/bin/apt-get")) && (await isExecutable("/usr/bin/curl"));
  const privileged = root || (await run("sudo", ["-n", "true"], { silent: true, timeoutSeconds: 30 })).code === 0;
  return { os, canInstall: debianLike && hasApt && privileged && Boolean(codename), debianLike, codename, root };
}

export interface InstallDeps {
  run: CommandRunner;
  log(message: string): void;
  signal?: AbortSignal;
  env: Record<string, string | undefined>;
  tempDir: string;
}

/**
 * postgresql-client-<major> from PGDG, and with `packages` more of the same repository in the same
 * apt run; Debian's layout puts its pg_dump in /usr/lib/postgresql/<major>/bin.
 */
export async function installPgDump(major: number, platform: Platform, deps: InstallDeps, packages = [`postgresql-client-${major}`]): Promise<string> {
  await installPackages(packages, { ...deps, codename: platform.codename ?? "", sudo: !platform.root });
  return path.join(debianBinDir(major), "pg_dump");
}

async function isExecutable(file: string): Promise<boolean> {
  return access(file, 1).then(
    () => true,
    () => false,
  );
}
