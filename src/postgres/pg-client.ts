import { access, readdir, readFile, realpath } from "node:fs/promises";
import * as path from "node:path";
import { ActionError } from "../errors.js";
import { type CommandRunner, runCommand } from "../runner/commands.js";

/** Installed pg_dump binaries by major version. */
export type Installed = Map<number, string>;

export type Choice = { kind: "use"; major: number; path: string } | { kind: "install"; major: number } | { kind: "fail"; message: string };

export interface Platform {
  /** Debian or Ubuntu, with apt-get and curl, and root or password-less sudo. */
  canInstall: boolean;
  codename?: string;
  root: boolean;
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
  const install = installCommands(wanted, "<codename>", true)
    .map((c) => c.join(" "))
    .join(" && ");
  return {
    kind: "fail",
    message: `No pg_dump ${wanted} on this runner (${have}) and it cannot be installed here (that needs Debian/Ubuntu with apt-get, curl and root or password-less sudo). Install it before this step, e.g.: ${install}.${alternative}`,
  };
}

const PGDG_KEY = "/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc";
const PGDG_LIST = "/etc/apt/sources.list.d/pgdg.list";

/**
 * GitHub's images remove the PostgreSQL apt source after building: add its key and source back,
 * refresh that source alone (fast, and immune to other broken sources), then install the client.
 */
export function installCommands(major: number, codename: string, sudo: boolean, packages = [`postgresql-client-${major}`]): string[][] {
  const source = `deb [signed-by=${PGDG_KEY}] https://apt.postgresql.org/pub/repos/apt ${codename}-pgdg main`;
  const commands = [
    ["install", "-d", path.dirname(PGDG_KEY)],
    ["curl", "-fsSL", "--retry", "3", "-o", PGDG_KEY, "https://www.postgresql.org/media/keys/ACCC4CF8.asc"],
    ["sh", "-c", `echo '${source}' > ${PGDG_LIST}`],
    ["apt-get", "update", "-o", `Dir::Etc::sourcelist=${PGDG_LIST}`, "-o", "Dir::Etc::sourceparts=-", "-o", "APT::Get::List-Cleanup=0"],
    ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends", ...packages],
  ];
  return sudo ? commands.map((c) => ["sudo", "-n", ...c]) : commands;
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

export async function detectPlatform(run: CommandRunner = runCommand): Promise<Platform> {
  const root = process.getuid?.() === 0;
  if (process.platform !== "linux") return { canInstall: false, root };
  const osRelease = await readFile("/etc/os-release", "utf8").catch(() => "");
  const field = (name: string) => new RegExp(`^${name}="?([^"\\n]*)`, "m").exec(osRelease)?.[1] ?? "";
  const debianLike = /\b(debian|ubuntu)\b/.test(`${field("ID")} ${field("ID_LIKE")}`);
  const codename = field("VERSION_CODENAME") || undefined;
  const hasApt = (await isExecutable("/usr/bin/apt-get")) && (await isExecutable("/usr/bin/curl"));
  const privileged = root || (await run("sudo", ["-n", "true"], { silent: true })).code === 0;
  return { canInstall: debianLike && hasApt && privileged && Boolean(codename), codename, root };
}

/** Installs the client of `major`, and with `packages` more of the same repository in the same apt run. */
export async function installPgDump(
  major: number,
  platform: Platform,
  run: CommandRunner,
  log: (m: string) => void,
  packages = [`postgresql-client-${major}`],
): Promise<string> {
  log(`Installing ${packages.join(", ")} from the PostgreSQL apt repository...`);
  for (const [file, ...args] of installCommands(major, platform.codename ?? "", !platform.root, packages)) {
    const result = await run(file, args);
    if (result.code !== 0) {
      throw new ActionError(
        "pg-dump-client",
        `Installing pg_dump ${major} failed at \`${[file, ...args].join(" ")}\` (exit ${result.code}): ${result.stderr.trim().slice(-500)}. Install ${packages.join(" ")} before this step, or set \`pg-dump-version\`.`,
      );
    }
  }
  return path.join(debianBinDir(major), "pg_dump");
}

async function isExecutable(file: string): Promise<boolean> {
  return access(file, 1).then(
    () => true,
    () => false,
  );
}
