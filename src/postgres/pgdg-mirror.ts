// SCALINGO_PG_DUMP_PGDG_MIRROR: a mirror of apt.postgresql.org (a company proxy, an offline copy).
// It serves packages that run as root, so it is reached over https only, and its signing key is
// checked against PGDG's own whatever it serves (pgdg-key.ts). Credentials in its URL
// (`https://user:password@mirror/...`) never reach argv or a world-readable file: they are taken
// out of the URL here and handed to curl and apt in private files.

/** apt.postgresql.org; a mirror of it (same packages, same signatures) replaces it through PGDG_MIRROR_ENV. */
export const PGDG_REPOSITORY = "https://apt.postgresql.org/pub/repos/apt";
export const PGDG_MIRROR_ENV = "SCALINGO_PG_DUMP_PGDG_MIRROR";

export interface PgdgMirror {
  /** The repository's URL without credentials: what the log, argv and the apt source show. */
  url: string;
  username?: string;
  password?: string;
}

/** Why the variable's value cannot be used, or undefined; never echoes the URL (it may hold a password). */
export function mirrorProblem(value: string | undefined): string | undefined {
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "is not a URL (its value is not shown: it may hold a password).";
  }
  if (url.protocol !== "https:")
    return `must use https:// (it is ${url.protocol}//...): the packages it serves are installed as root, and a password in it would travel in clear.`;
  if (/\s/.test(decodeURIComponent(url.username + url.password))) return "has white space in its user name or password, which apt's auth.conf cannot hold.";
  return undefined;
}

/** The mirror from the environment (or PGDG itself); an unusable value throws, as the inputs' check would have. */
export function pgdgMirror(env: Record<string, string | undefined>): PgdgMirror {
  const value = env[PGDG_MIRROR_ENV];
  if (!value) return { url: PGDG_REPOSITORY };
  const problem = mirrorProblem(value);
  if (problem) throw new Error(`${PGDG_MIRROR_ENV} ${problem}`);
  const url = new URL(value);
  const username = decodeURIComponent(url.username) || undefined;
  const password = decodeURIComponent(url.password) || undefined;
  url.username = "";
  url.password = "";
  return { url: url.toString().replace(/\/+$/, ""), ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/** apt_auth.conf(5): `machine host[:port]/path login … password …`, for the mirror only. */
export function aptAuthConf(mirror: PgdgMirror): string | undefined {
  if (!mirror.username && !mirror.password) return undefined;
  const url = new URL(mirror.url);
  return `machine ${url.host}${url.pathname.replace(/\/+$/, "")} login ${mirror.username ?? ""} password ${mirror.password ?? ""}\n`;
}

/** curl's config file (`-K`): the credentials for the key's download, out of argv. */
export function curlAuthConfig(mirror: PgdgMirror): string | undefined {
  if (!mirror.username && !mirror.password) return undefined;
  const quoted = `${mirror.username ?? ""}:${mirror.password ?? ""}`.replace(/[\\"]/g, (c) => `\\${c}`);
  return `user = "${quoted}"\n`;
}
