import { readFile, readlink, realpath } from "node:fs/promises";
import * as path from "node:path";

/**
 * The pid in `postmaster.pid`, only if it is that data directory's postmaster: the file belongs to
 * the server's user, who could write any pid into it (a root step must not signal on its word).
 * A postmaster runs in its data directory, as the server's user, and keeps its command line
 * (`.../postgres -D <data> ...`); its backends rename themselves (`postgres: user db ...`).
 */
export async function verifiedPostmaster(data: string, uid: number): Promise<number | undefined> {
  const pid = Number((await readFile(path.join(data, "postmaster.pid"), "utf8").catch(() => "")).split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    const [cwd, expected, status, cmdline] = await Promise.all([
      readlink(`/proc/${pid}/cwd`),
      realpath(data),
      readFile(`/proc/${pid}/status`, "utf8"),
      readFile(`/proc/${pid}/cmdline`, "utf8"),
    ]);
    const owner = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    const program = path.basename(cmdline.split("\0")[0] ?? "");
    return cwd === expected && owner === uid && program === "postgres" ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** SIGQUIT (PostgreSQL's immediate shutdown) to a verified postmaster; false when there is none to signal. */
export async function quitPostmaster(data: string, uid: number): Promise<boolean> {
  const pid = await verifiedPostmaster(data, uid);
  if (!pid) return false;
  try {
    process.kill(pid, "SIGQUIT");
    return true;
  } catch {
    return false;
  }
}
