import { readdir, readFile } from "node:fs/promises";

/** The pids of live (not zombie) processes named `name` (their /proc comm) whose argv holds `word`. */
export async function processesWith(name: string, word: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of (await readdir("/proc")).filter((d) => /^\d+$/.test(d))) {
    if ((await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim() !== name) continue;
    const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0");
    const state = (await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "")).split(") ")[1]?.[0];
    if (argv[0]?.endsWith(`/${name}`) && argv.includes(word) && state !== "Z") found.push(Number(pid));
  }
  return found;
}
