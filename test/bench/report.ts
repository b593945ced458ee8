// Tables and verdicts. Medians, not means: one run disturbed by the machine (page cache
// writeback, another process) should not move the result, and N is small.
import { PHASES, type Sample, type Variant } from "./variants.js";

export const HANDWRITTEN_RATIO = 1.05; // action (default inputs) over pg_dump + uploadArtifact by hand, wall time, at >= 1 GiB
export const EXPOSURE_LIMIT_MS = 1000; // rule added to removed, minus the wait for it and pg_dump's run, any size
export const RSS_GROWTH_LIMIT = 1.1; // the action's peak RSS at the largest size over the smallest: it must not grow
export const ENFORCED_FROM = 2 ** 30; // the ratio targets mean nothing on a database that dumps in seconds

const s = (ms: number) => (ms / 1000).toFixed(1);
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const x = (ratio: number) => `${ratio.toFixed(2)}x`;

export function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (!sorted.length) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** One line per run, printed as soon as it is measured. */
export function runLine(v: Variant, sample: Sample, runs: number): string {
  const node = sample.nodePeak === undefined ? "" : `  node peak ${mb(sample.nodePeak)} MiB (cpu ${s(sample.nodeCpuMs ?? 0)} s)`;
  return (
    `[run ${sample.run}/${runs}] ${v.label.padEnd(27)} wall ${s(sample.wallMs).padStart(6)} s  cpu ${s(sample.cpuMs).padStart(6)} s${node}` +
    `  pg_dump peak ${mb(sample.pgDumpPeak)} MiB  output ${mb(sample.outputBytes)} MiB  server cpu ${s(sample.serverCpuMs)} s  bench cpu ${s(sample.benchCpuMs)} s`
  );
}

interface Stats {
  v: Variant;
  wall: number;
  cpu: number;
  nodePeak?: number;
  pgDumpPeak: number;
  output: number;
  server: number;
  bench: number;
  exposure: number;
  samples: Sample[];
}

function stats(v: Variant, samples: Sample[]): Stats {
  const mine = samples.filter((x) => x.variant === v.id);
  const m = (f: (x: Sample) => number) => median(mine.map(f));
  const nodePeaks = mine.map((x) => x.nodePeak).filter((p): p is number => p !== undefined);
  return {
    v,
    wall: m((x) => x.wallMs),
    cpu: m((x) => x.cpuMs),
    nodePeak: nodePeaks.length ? Math.max(...nodePeaks) : undefined, // a peak: the worst run, not the median
    pgDumpPeak: Math.max(...mine.map((x) => x.pgDumpPeak)),
    output: m((x) => x.outputBytes),
    server: m((x) => x.serverCpuMs),
    bench: m((x) => x.benchCpuMs),
    exposure: m((x) => x.exposureMs ?? Number.NaN),
    samples: mine,
  };
}

/** Prints the tables and the verdicts; returns the failed targets (empty: all met). */
export function summarize(list: Variant[], samples: Sample[], sizeBytes: number, out: (line: string) => void): { failed: string[]; actionPeak: number } {
  const all = list.map((v) => stats(v, samples));
  const floor = all.find((a) => a.v.id === "floor") as Stats;
  const hand = all.find((a) => a.v.id === "handwritten");
  out("");
  out(`Medians over ${floor.samples.length} run(s); peak RSS is the largest seen in any run; ratios are to the bare pg_dump -Z0 (floor)`);
  out("and to the hand-written workflow (pg_dump -Fc, then @actions/artifact's uploadArtifact of the file). Compression figures: below.");
  out(
    table(
      ["variant", "wall s", "cpu s", "wall/floor", "wall/hand", "cpu/floor", "node peak MiB", "pg_dump peak MiB", "output MiB", "server cpu s", "bench cpu s"],
      all.map((a) => [
        a.v.label,
        s(a.wall),
        s(a.cpu),
        x(a.wall / floor.wall),
        hand ? x(a.wall / hand.wall) : "-",
        x(a.cpu / floor.cpu),
        a.nodePeak === undefined ? "-" : mb(a.nodePeak),
        mb(a.pgDumpPeak),
        mb(a.output),
        s(a.server),
        s(a.bench),
      ]),
    ),
  );
  out("cpu = user+sys of the measured process tree (action: node + pg_dump + pg_restore, and the emulated firewall's psql reloads);");
  out("node peak = the action's node process, or the hand-written upload's; server = postmaster and backends;");
  out("bench = this process: the Scalingo and artifact emulators (HTTP, block md5, writes, sha256).");

  const actions = all.filter((a) => a.v.inputs);
  out("");
  out("Where the action's wall time goes (medians, s): start = node start, inputs, API calls, adding the rule; wait db = until the");
  out("rule lets it in; dump = pg_dump + removing the rule; verify+tar = compress-after, pg_restore --list, tar; to upload = encryption, size;");
  out("upload = @actions/artifact's uploadArtifact (CreateArtifact, the blocks, FinalizeArtifact); exit = outputs, summary, process exit;");
  out("exposure = rule added to removed, minus the wait for it and pg_dump's run (from the job summary).");
  out(
    table(
      ["variant", ...PHASES, "exposure", "node cpu s"],
      actions.map((a) => [
        a.v.label,
        ...PHASES.map((p) => s(median(a.samples.map((x) => x.phases?.[p] ?? Number.NaN)))),
        s(a.exposure),
        s(median(a.samples.map((x) => x.nodeCpuMs ?? Number.NaN))),
      ]),
    ),
  );

  const failed: string[] = [];
  const enforced = sizeBytes >= ENFORCED_FROM;
  const note = enforced ? "" : " (not enforced below 1 GiB)";
  const verdict = (ok: boolean, text: string, counts: boolean) => {
    out(`${ok ? "PASS" : "FAIL"}  ${text}${counts ? "" : note}`);
    if (!ok && counts) failed.push(text);
  };
  out("");
  const base = actions.find((a) => a.v.id === "action");
  if (base && hand) {
    const ratio = base.wall / hand.wall;
    verdict(ratio <= HANDWRITTEN_RATIO, `action (default) over the hand-written workflow: ${x(ratio)} (target <= ${x(HANDWRITTEN_RATIO)})`, enforced);
  }
  const exposed = actions.reduce((a, b) => (b.exposure > a.exposure ? b : a), actions[0] as Stats);
  if (exposed) {
    verdict(
      exposed.exposure <= EXPOSURE_LIMIT_MS,
      `exposure overhead (rule open beyond its wait and pg_dump): ${s(exposed.exposure)} s in ${exposed.v.label} (target <= ${s(EXPOSURE_LIMIT_MS)} s)`,
      true,
    );
  }
  const worst = actions.reduce((a, b) => ((b.nodePeak ?? 0) > (a.nodePeak ?? 0) ? b : a), actions[0] as Stats);
  if (worst) out(`INFO  action's peak RSS at ${mb(sizeBytes)} MiB of data: ${mb(worst.nodePeak ?? 0)} MiB in ${worst.v.label}`);
  return { failed, actionPeak: worst?.nodePeak ?? 0 };
}

/** Across sizes: the action's peak RSS must not grow with the dump (none of it is held in memory). */
export function rssVerdict(peaks: { size: number; peak: number }[], out: (line: string) => void): string[] {
  if (peaks.length < 2) return [];
  const sorted = [...peaks].sort((a, b) => a.size - b.size);
  const small = sorted[0] as { size: number; peak: number };
  const large = sorted[sorted.length - 1] as { size: number; peak: number };
  const growth = large.peak / small.peak;
  const text = `action's peak RSS: ${mb(small.peak)} MiB at ${mb(small.size)} MiB of data, ${mb(large.peak)} MiB at ${mb(large.size)} MiB (${x(growth)}, target <= ${x(RSS_GROWTH_LIMIT)})`;
  out(`${growth <= RSS_GROWTH_LIMIT ? "PASS" : "FAIL"}  ${text}`);
  return growth <= RSS_GROWTH_LIMIT ? [] : [text];
}
