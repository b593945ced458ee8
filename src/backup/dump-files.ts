import { chmod } from "node:fs/promises";
import { encryptFile } from "../artifact/encrypt.js";
import { packDirectory } from "../artifact/pack.js";
import type { Config } from "../config.js";
import { ActionError } from "../errors.js";
import { manifestPathFor } from "../manifest/record.js";
import { phase, type Report } from "../report/report.js";
import { createPrivate, exists, removeQuietly } from "../runner/files.js";
import type { Log } from "../types.js";
import type { Session } from "./session.js";

// The files a backup writes: each checked before anything starts, created exclusively and private,
// and only then put in the cleanup set, so the action never overwrites or deletes a file it did not
// create in this run.

/**
 * An input problem only the file system can tell: still before anything is contacted. Every file
 * the run will write is checked, not only `path`: a previous backup's .tar or .age too.
 */
export async function refuseExistingOutputs(config: Pick<Config, "dumpPath" | "format" | "encryptionRecipients">): Promise<void> {
  for (const file of outputPaths(config)) {
    if (await exists(file)) {
      throw new ActionError("inputs", `\`path\`: ${file} already exists; the action never overwrites a file. Remove it or choose another path.`);
    }
  }
}

/** Directory dumps become one tar; with recipients the dump is encrypted and the plaintext removed. */
export async function finishFile(config: Config, session: Session, report: Report, dumped: string, log: Log): Promise<string> {
  let file = dumped;
  if (config.format === "directory") {
    log.section?.("Pack");
    const tarPath = `${dumped}.tar`;
    await createOwned(session, tarPath, "file");
    await phase(report, "pack", () => packDirectory(dumped, tarPath));
    await removeQuietly(dumped);
    session.partial.delete(dumped);
    file = tarPath;
  }
  if (config.encryptionRecipients.length) {
    log.section?.("Encrypt");
    const agePath = `${file}.age`;
    await createOwned(session, agePath, "file");
    await phase(report, "encrypt", () => encryptFile(file, agePath, config.encryptionRecipients));
    await removeQuietly(file);
    session.partial.delete(file);
    file = agePath;
  }
  await chmod(file, 0o600);
  return file;
}

/** Every file or folder the run writes, in order: the dump, its .tar (directory format), its .age. */
export function outputPaths(config: Pick<Config, "dumpPath" | "format" | "encryptionRecipients">): string[] {
  const paths = [config.dumpPath];
  if (config.format === "directory") paths.push(`${config.dumpPath}.tar`);
  if (config.encryptionRecipients.length) paths.push(`${paths[paths.length - 1]}.age`);
  paths.push(manifestPathFor(paths[paths.length - 1] as string, config.encryptionRecipients.length > 0));
  return paths;
}

/**
 * Another process may have put something there since the start: refuse it rather than replace it.
 * The path is in the cleanup set (saved for post) before the file exists, and leaves it at once
 * when the exclusive creation finds something there: that is not this run's to remove.
 */
export async function createOwned(session: Pick<Session, "partial">, target: string, kind: "file" | "dir"): Promise<void> {
  session.partial.add(target);
  try {
    await createPrivate(target, kind);
  } catch (error) {
    session.partial.delete(target);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new ActionError("inputs", `\`path\`: ${target} appeared during the run; the action never overwrites a file.`);
    throw error;
  }
}
