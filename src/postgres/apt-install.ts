import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { ActionError } from "../errors.js";
import type { CommandOptions, CommandRunner } from "../runner/commands.js";
import { fetchCheckedKey } from "./pgdg-key.js";
import { aptAuthConf, pgdgMirror } from "./pgdg-mirror.js";

// Installs packages from the PostgreSQL apt repository (PGDG) without touching the host's apt
// configuration: the PGDG source and its key live in a private folder, apt reads the host's
// sources plus that folder through `-o Dir::...` options, and its package lists go to the private
// folder too. Nothing is written under /etc/apt, /usr/share/keyrings or /var/lib/apt/lists: the
// only lasting change is the installed packages (and dpkg's own records of them).

export { PGDG_MIRROR_ENV, PGDG_REPOSITORY } from "./pgdg-mirror.js";
/** How long apt waits for another apt or dpkg (unattended-upgrades on a fresh VM) to release its lock. */
export const DPKG_LOCK_WAIT_SECONDS = 120;
/** Bounds per step: a stalled download or lock must not keep the firewall open until the job's timeout. */
export const TIMEOUTS = { key: 90, update: 300, install: 600, local: 60 } as const;

/** What apt itself says about its paths (`apt-config`, so APT_CONFIG and apt.conf.d are honoured). */
export interface AptPaths {
  /** Dir::Etc::sourcelist: the host's one-file source list (read in place, never written). */
  sourceList: string;
  /** Dir::Etc::sourceparts: the host's source folder (copied, never written). */
  sourceParts: string;
  /** Dir::Cache: the action's private folder goes under it, as `scalingo-pg-dump/`. */
  cacheDir: string;
  /** Dir::Etc::netrcparts: the host's auth.conf.d (copied, never written), when the mirror has credentials. */
  netrcParts?: string;
}

export interface AptInstallOptions {
  /** Debian/Ubuntu codename: the PGDG suite is `<codename>-pgdg`. */
  codename: string;
  /** Prefix every command with `sudo -n` (the runner's user is not root). */
  sudo: boolean;
  run: CommandRunner;
  log(message: string): void;
  /** Stops the install at once (the wait for the database failed). */
  signal?: AbortSignal;
  /** Environment: the PGDG mirror and APT_CONFIG are read from it. */
  env: Record<string, string | undefined>;
  /** A folder of the runner's own for the source file written before root copies it (RUNNER_TEMP). */
  tempDir: string;
  /** Tests only: the loopback repository's key instead of PGDG's (see KeyFetch); never set by the action. */
  pinnedFingerprint?: string;
}

/**
 * Installs `packages` (e.g. `postgresql-client-17`, `postgresql-17`) from PGDG. Reused for every
 * PostgreSQL package the action needs. Throws an ActionError("pg-dump-client") naming the failed step.
 */
export async function installPackages(packages: string[], o: AptInstallOptions): Promise<void> {
  const label = `Installing ${packages.join(" ")}`;
  let mirror: ReturnType<typeof pgdgMirror>;
  try {
    mirror = pgdgMirror(o.env);
  } catch (error) {
    throw new ActionError("pg-dump-client", `${label}: ${(error as Error).message}`);
  }
  const repository = mirror.url;
  const paths = await aptPaths(o);
  const hostFiles = await sourceFiles(paths);
  const reused = await findPgdgSource(hostFiles, repository, paths.sourceList);
  const privateDir = path.join(paths.cacheDir, "scalingo-pg-dump");
  o.log(
    reused
      ? `${label} with the PostgreSQL apt source already configured in ${reused}...`
      : `${label} from ${repository} (source and key in ${privateDir}, the host's apt configuration untouched)...`,
  );
  // The runner user's private folder (0700): the source, the key and any credentials are written
  // here first, then copied by root with explicit modes.
  const temp = await mkdtemp(path.join(o.tempDir, "pgdg-"));
  const options = (timeout: keyof typeof TIMEOUTS): CommandOptions => ({ timeoutSeconds: TIMEOUTS[timeout], ...(o.signal ? { signal: o.signal } : {}) });
  try {
    const files: { keyFile?: string; sourceFile?: string; authFile?: string } = reused
      ? {}
      : await privateFiles(temp, privateDir, mirror, o, label, options("key"));
    const hostAuth = files.authFile ? await hostAuthFiles(paths) : [];
    const steps = installSteps({
      packages,
      privateDir,
      paths,
      hostFiles,
      reuse: Boolean(reused),
      ...files,
      hostAuthFiles: hostAuth,
      aptConfig: o.env.APT_CONFIG,
    });
    await runSteps(steps, packages, o);
  } finally {
    await rm(temp, { recursive: true, force: true });
    // The private lists are big and a cache only: leave the host as it was, whatever happened.
    const cleanup = o.sudo ? ["sudo", "-n", "rm", "-rf", privateDir] : ["rm", "-rf", privateDir];
    await o.run(cleanup[0], cleanup.slice(1), { silent: true, timeoutSeconds: TIMEOUTS.local });
  }
}

/** The checked key, the deb822 source (no credentials in it) and, for a mirror with credentials, its auth.conf (0600). */
async function privateFiles(
  temp: string,
  privateDir: string,
  mirror: ReturnType<typeof pgdgMirror>,
  o: AptInstallOptions,
  label: string,
  options: CommandOptions,
): Promise<{ keyFile: string; sourceFile: string; authFile?: string }> {
  const keyFile = await fetchCheckedKey({
    mirror,
    dir: temp,
    run: o.run,
    options,
    label,
    ...(o.pinnedFingerprint ? { pinnedFingerprint: o.pinnedFingerprint } : {}),
  });
  const sourceFile = path.join(temp, "pgdg.sources");
  await writeFile(sourceFile, pgdgSource(mirror.url, o.codename, path.join(privateDir, "pgdg.asc")), { mode: 0o644 });
  const authText = aptAuthConf(mirror);
  const authFile = authText ? path.join(temp, "pgdg-auth.conf") : undefined;
  if (authFile) await writeFile(authFile, authText as string, { mode: 0o600 });
  return { keyFile, sourceFile, ...(authFile ? { authFile } : {}) };
}

async function runSteps(steps: Step[], packages: string[], o: AptInstallOptions): Promise<void> {
  let updateErrors = "";
  for (const step of steps) {
    if (o.signal?.aborted) throw new ActionError("pg-dump-client", `Installing ${packages.join(" ")} was stopped: the run failed elsewhere.`);
    const [file, ...args] = o.sudo ? ["sudo", "-n", ...step.argv] : step.argv;
    const options: CommandOptions = { timeoutSeconds: TIMEOUTS[step.timeout], ...(o.signal ? { signal: o.signal } : {}) };
    const result = await o.run(file, args, options);
    // A broken third-party source on the host fails `update` but not what PGDG needs: the install says.
    if (step.name === "update" && result.code !== 0 && result.code !== 124) {
      updateErrors = result.stderr.trim().slice(-300);
      continue;
    }
    if (result.code !== 0) throw installError(packages, step.argv, result, updateErrors);
  }
}

interface Step {
  name: "prepare" | "key" | "source" | "update" | "install";
  argv: string[];
  timeout: keyof typeof TIMEOUTS;
}

interface StepInputs {
  packages: string[];
  privateDir: string;
  paths: AptPaths;
  hostFiles: string[];
  reuse: boolean;
  /** The runner user's copies, checked or written before root runs anything: the key, the source, the mirror's credentials. */
  keyFile?: string;
  sourceFile?: string;
  authFile?: string;
  /** The host's auth.conf.d files, copied beside the mirror's (only with credentials). */
  hostAuthFiles?: string[];
  aptConfig?: string;
}

/** The commands, in order; pure, so the layout can be read (and tested) in one place. */
export function installSteps(o: StepInputs): Step[] {
  const auth = o.authFile && o.paths.netrcParts ? path.join(o.privateDir, "auth.conf.d") : undefined;
  const apt = aptArgv(o, auth);
  return [
    ...folderSteps(o),
    ...authSteps(o, auth),
    { name: "update", argv: [...apt, "update"], timeout: "update" },
    { name: "install", argv: [...apt, "install", "-y", "--no-install-recommends", ...o.packages], timeout: "install" },
  ];
}

/** The private folders, the host's sources copied in, then PGDG's key and source (unless the host's own PGDG source is reused). */
function folderSteps(o: StepInputs): Step[] {
  const p = o.privateDir;
  const parts = path.join(p, "sources.list.d");
  const dirs = [p, parts, path.join(p, "lists"), path.join(p, "lists/partial"), path.join(p, "archives"), path.join(p, "archives/partial")];
  // Modes are explicit: apt's download and signature checks run as the `_apt` user, who must read
  // the key and the sources whatever the umask root inherited.
  const steps: Step[] = [{ name: "prepare", argv: ["install", "-d", "-m", "0755", ...dirs], timeout: "local" }];
  if (o.hostFiles.length) steps.push({ name: "prepare", argv: ["install", "-m", "0644", ...o.hostFiles, `${parts}/`], timeout: "local" });
  if (!o.reuse && o.keyFile && o.sourceFile) {
    steps.push(
      { name: "key", argv: ["install", "-m", "0644", o.keyFile, path.join(p, "pgdg.asc")], timeout: "local" },
      { name: "source", argv: ["install", "-m", "0644", o.sourceFile, path.join(parts, "pgdg.sources")], timeout: "local" },
    );
  }
  return steps;
}

/**
 * The mirror's credentials: root's alone (0600), in a private auth.conf.d that also holds the
 * host's own files, which apt reads before it drops its privileges (apt_auth.conf(5)).
 */
function authSteps(o: StepInputs, auth: string | undefined): Step[] {
  if (!auth) return [];
  const hostFiles: Step[] = o.hostAuthFiles?.length
    ? [{ name: "source", argv: ["install", "-m", "0600", ...o.hostAuthFiles, `${auth}/`], timeout: "local" }]
    : [];
  return [
    { name: "source", argv: ["install", "-d", "-m", "0700", auth], timeout: "local" },
    ...hostFiles,
    { name: "source", argv: ["install", "-m", "0600", o.authFile as string, path.join(auth, "pgdg.conf")], timeout: "local" },
  ];
}

/** apt-get reading only the private folders (and the host's one-file list), in the host's configuration. */
function aptArgv(o: StepInputs, auth: string | undefined): string[] {
  const p = o.privateDir;
  return [
    "env",
    "DEBIAN_FRONTEND=noninteractive",
    // sudo drops the environment: apt under sudo must read the configuration these paths came from.
    ...(o.aptConfig ? [`APT_CONFIG=${o.aptConfig}`] : []),
    "apt-get",
    "-o",
    `Dir::Etc::sourcelist=${o.paths.sourceList}`,
    "-o",
    `Dir::Etc::sourceparts=${path.join(p, "sources.list.d")}`,
    ...(auth ? ["-o", `Dir::Etc::netrcparts=${auth}`] : []),
    "-o",
    `Dir::State::Lists=${path.join(p, "lists")}`,
    "-o",
    `Dir::Cache::archives=${path.join(p, "archives")}/`,
    // No package cache files: the host's pkgcache.bin must not learn of the private sources.
    "-o",
    "Dir::Cache::pkgcache=",
    "-o",
    "Dir::Cache::srcpkgcache=",
    "-o",
    `DPkg::Lock::Timeout=${DPKG_LOCK_WAIT_SECONDS}`,
    "-o",
    "Acquire::Retries=3",
  ];
}

/** A deb822 source for `<codename>-pgdg`, for every architecture PGDG builds (amd64, arm64, ...). */
export function pgdgSource(repository: string, codename: string, keyring: string): string {
  return `Types: deb\nURIs: ${repository}\nSuites: ${codename}-pgdg\nComponents: main\nSigned-By: ${keyring}\n`;
}

async function aptPaths(o: AptInstallOptions): Promise<AptPaths> {
  const env: Record<string, string> = o.env.APT_CONFIG ? { APT_CONFIG: o.env.APT_CONFIG } : {};
  const args = ["shell", "L", "Dir::Etc::sourcelist/f", "P", "Dir::Etc::sourceparts/d", "C", "Dir::Cache/d", "N", "Dir::Etc::netrcparts/d"];
  const result = await o.run("apt-config", args, { silent: true, env, timeoutSeconds: TIMEOUTS.local });
  const value = (name: string) => new RegExp(`^${name}='([^']*)'`, "m").exec(result.stdout)?.[1];
  const [sourceList, sourceParts, cacheDir] = [value("L"), value("P"), value("C")];
  if (result.code !== 0 || !sourceList || !sourceParts || !cacheDir) {
    throw new ActionError("pg-dump-client", `apt-config could not tell apt's folders (exit ${result.code}): ${result.stderr.trim()}`);
  }
  return { sourceList, sourceParts, cacheDir, ...(value("N") ? { netrcParts: value("N") } : {}) };
}

/** The host's auth.conf.d files, so that its own credentials still apply beside the mirror's. */
async function hostAuthFiles(paths: AptPaths): Promise<string[]> {
  if (!paths.netrcParts) return [];
  const files = (await readdir(paths.netrcParts).catch(() => [] as string[])).filter((f) => /^[\w.-]+\.conf$/.test(f)).sort();
  return files.map((f) => path.join(paths.netrcParts as string, f));
}

/** The host's source files: the one-file list and the `.list`/`.sources` of the source folder. */
async function sourceFiles(paths: AptPaths): Promise<string[]> {
  const parts = (await readdir(paths.sourceParts).catch(() => [] as string[])).filter((f) => /^[\w.-]+\.(list|sources)$/.test(f)).sort();
  return parts.map((f) => path.join(paths.sourceParts, f));
}

/**
 * The first host source file with an enabled entry for PGDG (apt.postgresql.org, or the configured
 * mirror): adding a second one with another key would make apt refuse both ("Conflicting values
 * set for option Signed-By"), so the host's is used as it is.
 */
export async function findPgdgSource(hostFiles: string[], repository: string, sourceList?: string): Promise<string | undefined> {
  for (const file of [...(sourceList ? [sourceList] : []), ...hostFiles]) {
    const text = await readFile(file, "utf8").catch(() => "");
    if (sourceUris(text, file.endsWith(".sources")).some((uri) => isPgdg(uri, repository))) return file;
  }
  return undefined;
}

/** The repository URIs of the enabled entries of a one-line (`.list`) or deb822 (`.sources`) file. */
export function sourceUris(text: string, deb822: boolean): string[] {
  if (!deb822) {
    return text
      .split("\n")
      .map((l) => l.replace(/#.*/, "").trim())
      .filter((l) => /^deb\s/.test(l))
      .map((l) => l.replace(/^deb\s+(\[[^\]]*\]\s+)?/, "").split(/\s+/)[0]);
  }
  return text
    .split(/\n\s*\n/)
    .filter((stanza) => !/^Enabled:\s*no\b/im.test(stanza) && /^Types:.*\bdeb\b/im.test(stanza))
    .flatMap((stanza) => /^URIs:\s*(.+)$/im.exec(stanza)?.[1].trim().split(/\s+/) ?? []);
}

function isPgdg(uri: string, repository: string): boolean {
  const bare = (u: string) => u.replace(/^\w+:\/\//, "").replace(/\/+$/, "");
  return bare(uri) === bare(repository) || /^(https?:\/\/)?apt(-archive)?\.postgresql\.org(\/|$)/.test(uri);
}

function installError(packages: string[], argv: string[], result: { code: number; stderr: string }, updateErrors: string): ActionError {
  // The command as a user would type it, without the private `-o` options.
  const command = argv.filter((a, i) => a !== "-o" && argv[i - 1] !== "-o" && !a.includes("=")).join(" ");
  const update = updateErrors ? `\napt-get update had reported: ${updateErrors}` : "";
  return new ActionError(
    "pg-dump-client",
    `Installing ${packages.join(" ")} failed at \`${command}\` (exit ${result.code}): ${result.stderr.trim().slice(-500)}${update}\nInstall it before this step, or set \`pg-dump-version\` to an installed pg_dump.`,
  );
}
