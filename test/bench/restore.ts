// The restore check's variants and their table: the restore's time against the dump's in the same
// run, the whole run against the default (`verify: list`), and what `verify-row-counts` costs the
// database server. Kept apart from report.ts so both evolve without stepping on each other.
import { median } from "./report.js";
import type { Sample, Variant } from "./variants.js";

export const RESTORE_RATIO_TARGET = 1.0; // restore check over dump, wall time, at >= 1 GiB, with parallel jobs

export function restoreVariants(): Variant[] {
  return [
    { id: "restore", label: "action, verify restore", inputs: { verify: "restore" } },
    { id: "restore-counts", label: "action, verify restore + counts", inputs: { verify: "restore", "verify-row-counts": "true" } },
    { id: "dir-j2-restore", label: "action, dir -j2, verify restore", inputs: { format: "directory", jobs: "2", verify: "restore" } },
  ];
}

/** Every `| <phase> | <n> s |` row of the job summary's phase table, in ms. */
export function summaryPhases(summary: string): Record<string, number> {
  const phases: Record<string, number> = {};
  for (const m of summary.matchAll(/^\| ([^|]+?) \| ([\d.]+) s \|$/gm)) phases[m[1] as string] = Number(m[2]) * 1000;
  return phases;
}

const s = (ms: number) => (ms / 1000).toFixed(1);
const x = (ratio: number) => `${ratio.toFixed(2)}x`;

/** Prints the restore table and verdicts; returns the missed targets (enforced from `enforceFrom` bytes). */
export function summarizeRestore(list: Variant[], samples: Sample[], sizeBytes: number, enforceFrom: number, out: (line: string) => void): string[] {
  const mine = list.filter((v) => v.inputs?.verify === "restore");
  if (!mine.length) return [];
  const of = (id: string) => samples.filter((x) => x.variant === id);
  const phase = (id: string, name: string) => median(of(id).map((x) => x.summaryPhases?.[name] ?? Number.NaN));
  const wall = (id: string) => median(of(id).map((x) => x.wallMs));
  const server = (id: string) => median(of(id).map((x) => x.serverCpuMs));
  const base = { wall: wall("action"), server: server("action"), dump: phase("action", "Dump") };
  const failed: string[] = [];
  out("");
  out("Restore check (medians, s): dump = pg_dump (+ the row counts, in parallel); restore = restore, count and compare, after the");
  out("rule is closed; server start = initdb + start, from the end of the install, beside the wait and the dump. Server cpu = the dumped database's server.");
  out("The throwaway server's own CPU is not in any column: pg_ctl detaches it from the action's process tree.");
  const header = ["variant", "dump s", "restore s", "restore/dump", "server start s", "wall s", "wall vs default", "server cpu s", "vs default"];
  const rows = mine.map((v) => {
    const dump = phase(v.id, "Dump");
    const restore = phase(v.id, "Restore check");
    return [
      v.label,
      s(dump),
      s(restore),
      x(restore / dump),
      s(phase(v.id, "Restore server")),
      s(wall(v.id)),
      x(wall(v.id) / base.wall),
      s(server(v.id)),
      x(server(v.id) / base.server),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join("  ");
  out(line(header));
  out(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) out(line(r));

  const enforced = sizeBytes >= enforceFrom;
  const note = enforced ? "" : " (not enforced below 1 GiB)";
  out("");
  for (const v of mine.filter((v) => v.id !== "restore-counts")) {
    const ratio = phase(v.id, "Restore check") / phase(v.id, "Dump");
    const ok = ratio <= RESTORE_RATIO_TARGET;
    const text = `restore check / dump in ${v.label}: ${x(ratio)} (target <= ${x(RESTORE_RATIO_TARGET)})`;
    out(`${ok ? "PASS" : "FAIL"}  ${text}${note}`);
    if (!ok && enforced) failed.push(text);
  }
  if (mine.some((v) => v.id === "restore-counts") && mine.some((v) => v.id === "restore")) {
    const extraServer = server("restore-counts") - server("restore");
    const extraDump = phase("restore-counts", "Dump") - phase("restore", "Dump");
    out(
      `INFO  verify-row-counts costs ${s(extraServer)} s more database-server CPU (${x(server("restore-counts") / server("restore"))}) ` +
        `and ${s(extraDump)} s more in the dump phase (counted in parallel with pg_dump), ${s(wall("restore-counts") - wall("restore"))} s of wall time in all`,
    );
  }
  return failed;
}
