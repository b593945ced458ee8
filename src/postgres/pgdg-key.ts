import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { ActionError } from "../errors.js";
import type { CommandOptions, CommandResult, CommandRunner } from "../runner/commands.js";
import { curlAuthConfig, type PgdgMirror } from "./pgdg-mirror.js";

// PGDG's signing key, fetched from the repository (or its mirror) and trusted only if it is PGDG's
// own: whoever serves the packages must not also choose the key that vouches for them. The check
// runs with the runner user's rights, in the run's private folder, before root installs anything.

/** The repository's signing key, served at the repository's root (so a full mirror serves it too). */
export const PGDG_KEY_FILE = "ACCC4CF8.asc";
/** The full fingerprint of PGDG's signing key ("PostgreSQL Debian Repository", ACCC4CF8). */
export const PGDG_KEY_FINGERPRINT = "B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8";

export interface KeyFetch {
  mirror: PgdgMirror;
  /** A private folder of the runner user's (0700): the download, gpg's home and the result go there. */
  dir: string;
  run: CommandRunner;
  options: CommandOptions;
  /** What the failure message starts with: the install it is part of. */
  label: string;
  /**
   * Tests only (a loopback repository signed with a test key). The action never sets it: it is not
   * read from inputs or the environment.
   */
  pinnedFingerprint?: string;
}

/** Downloads the key, checks it is exactly the pinned one, and returns the path of that key alone (armored). */
export async function fetchCheckedKey(o: KeyFetch): Promise<string> {
  const pinned = o.pinnedFingerprint ?? PGDG_KEY_FINGERPRINT;
  const downloaded = path.join(o.dir, "downloaded.asc");
  const auth = curlAuthConfig(o.mirror);
  const authFile = path.join(o.dir, "curl.conf");
  if (auth) await writeFile(authFile, auth, { mode: 0o600 });
  const url = `${o.mirror.url}/${PGDG_KEY_FILE}`;
  await step(o, ["curl", "-fsSL", "--retry", "3", "--max-time", "60", ...(auth ? ["-K", authFile] : []), "-o", downloaded, url]);

  const home = path.join(o.dir, "gnupg");
  await mkdir(home, { mode: 0o700 });
  const gpg = ["gpg", "--batch", "--no-tty", "--quiet", "--homedir", home];
  await step(o, [...gpg, "--import", downloaded]);
  const listed = await step(o, [...gpg, "--with-colons", "--fingerprint", "--list-keys"]);
  const primaries = primaryFingerprints(listed.stdout);
  if (primaries.length !== 1 || primaries[0] !== pinned) {
    throw new ActionError(
      "pg-dump-client",
      `The signing key served at ${url} is not PGDG's (expected only ${pinned}; found ${primaries.join(", ") || "no key"}). Nothing was installed. Check the mirror set in SCALINGO_PG_DUMP_PGDG_MIRROR: it must serve PGDG's own key and signatures.`,
    );
  }
  const checked = path.join(o.dir, "pgdg.asc");
  await step(o, [...gpg, "--armor", "--output", checked, "--export", pinned]);
  return checked;
}

/** The fingerprint of each primary key (`pub`) in gpg's machine-readable listing. */
export function primaryFingerprints(colons: string): string[] {
  const found: string[] = [];
  let inPrimary = false;
  for (const line of colons.split("\n")) {
    const [type, , , , , , , , , field] = line.split(":");
    if (type === "pub") inPrimary = true;
    else if (type === "fpr" && inPrimary) {
      found.push((field ?? "").toUpperCase());
      inPrimary = false;
    } else if (type === "sub") inPrimary = false;
  }
  return found;
}

async function step(o: KeyFetch, argv: string[]): Promise<CommandResult> {
  const result = await o.run(argv[0], argv.slice(1), o.options);
  if (result.code !== 0) {
    throw new ActionError("pg-dump-client", `${o.label} failed at \`${argv.join(" ")}\` (exit ${result.code}): ${result.stderr.trim().slice(-500)}`);
  }
  return result;
}
