import { describe, expect, it } from "vitest";
import { keptDumpFailure, restoreCheckKeepingDump } from "../src/backup/restore-outcome.js";
import { ActionError } from "../src/errors.js";
import { newReport } from "../src/report/report.js";

const log = { info: () => undefined, warning: () => undefined, debug: () => undefined } as never;

describe("a failed restore check keeps the night's dump", () => {
  it("holds a restore failure or a row-count mismatch, and clears the failed phase for the upload", async () => {
    for (const message of [
      'The dump does not restore: pg_restore exited with code 1:\n- VIEW public.v: SQLSTATE 42P01: relation "a.b" does not exist',
      "The restored dump does not hold the rows pg_dump read (1 table(s)):\npublic.orders: 4000 row(s) in pg_dump's snapshot, 3999 restored.",
    ]) {
      const report = newReport("db", "osc-fr1", "custom", false);
      report.failedPhase = "restore";
      const held = await restoreCheckKeepingDump(() => Promise.reject(new ActionError("restore", message)), report, log);
      expect(held?.message).toBe(message);
      expect(report.failedPhase).toBeUndefined();
      expect(report.restoreVerified).toBe(false);
    }
  });

  it("still throws what is not the restore's own failure: an unreadable table of contents is no backup", async () => {
    const report = newReport("db", "osc-fr1", "custom", false);
    const toc = new ActionError("verify", "pg_restore --list could not read the dump: bad header");
    await expect(restoreCheckKeepingDump(() => Promise.reject(toc), report, log)).rejects.toBe(toc);
    await expect(restoreCheckKeepingDump(() => Promise.resolve(), report, log)).resolves.toBeUndefined();
  });

  it("once uploaded, fails with where the dump went, the failing objects as the tool's output, and what to do", () => {
    const report = newReport("db", "osc-fr1", "custom", false);
    report.artifactName = "db-1.dump";
    const error = keptDumpFailure(
      new ActionError("restore", "The dump does not restore: pg_restore exited with code 1:\n- VIEW public.v: SQLSTATE 42P01"),
      report,
    );
    expect(error.phase).toBe("restore");
    expect(error.sentence).toBe(
      "The dump does not restore: pg_restore exited with code 1. The dump was kept all the same, as the artifact db-1.dump, with restore-verified false.",
    );
    expect(error.detail).toBe("- VIEW public.v: SQLSTATE 42P01");
    expect(error.hint).toMatch(/^The night's dump is uploaded but did not restore cleanly/);
  });
});
