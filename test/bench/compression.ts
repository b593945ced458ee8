// The compression variants and their table (issue 20): how long pg_dump runs, i.e. how long the
// database stays open beyond the wait, against the server's floor (pg_dump -Z0), and what each
// choice costs in size against gzip 6 (pg_dump's own default, the action's default before). The
// gzip level chosen for pg_dump 15 and older must hold on every dataset: the choice is made across
// them at the end (chooseGzipLevel).
import { type ProxyRow, summarizeProxies } from "./proxy.js";
import { median } from "./report.js";
import type { Sample, Variant } from "./variants.js";

/** Output at most this much larger than gzip 6's, on every dataset. */
export const SIZE_LIMIT = 1.15;
/** The default (custom format) over gzip 6, dump phase, on the bench dataset. */
export const DEFAULT_SPEEDUP_TARGET = 1.5;
/** The fastest documented option over gzip 6, dump phase, within the size limit. */
export const FASTEST_SPEEDUP_TARGET = 2.5;
/** pg_dump 16+: lz4 or zstd within this much of the floor (by proxy here). */
export const MODERN_FLOOR_TARGET = 1.3;

export const GZIP_LEVELS = [0, 1, 2, 3, 4, 6];

export function compressionVariants(): Variant[] {
  return [
    ...GZIP_LEVELS.map((level) => ({ id: `gzip${level}`, label: `action, compress ${level}`, inputs: { compress: String(level) } })),
    // Hosted runners: 2 vCPUs (private repositories), 4 (public ones).
    { id: "dir-j4", label: "action, directory -j4", inputs: { format: "directory", jobs: "4" } },
    { id: "after-j2", label: "action, dir -j2, compress-after", inputs: { format: "directory", jobs: "2", "compress-after": "true" } },
  ];
}

const s = (ms: number) => (ms / 1000).toFixed(2);
const x = (ratio: number) => `${ratio.toFixed(2)}x`;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

/** What one dataset says about every gzip level: dump phase over the floor, output over gzip 6. */
export interface DatasetLevels {
  dataset: string;
  levels: { level: number; dumpRatio: number; sizeRatio: number }[];
}

/** Prints the dump-phase table, the proxy table and the verdicts of one dataset; returns its gzip levels and missed targets. */
export function summarizeCompression(
  dataset: string,
  list: Variant[],
  samples: Sample[],
  out: (l: string) => void,
): { levels: DatasetLevels; failed: string[] } {
  const of = (id: string) => samples.filter((x) => x.variant === id);
  const dump = (id: string) => median(of(id).map((x) => x.dumpMs));
  const size = (id: string) => median(of(id).map((x) => x.outputBytes));
  const wall = (id: string) => median(of(id).map((x) => x.wallMs));
  const floor = dump("floor");
  const gzip6 = { dump: dump("gzip6"), size: size("gzip6") };
  const hand = wall("handwritten");
  const shown = list.filter(
    (v) => of(v.id).length && (v.id === "floor" || v.id === "handwritten" || v.id === "action" || v.id.startsWith("gzip") || /^dir-j|^after|^zstd/.test(v.id)),
  );
  out("");
  out(`Dump phase (${dataset} dataset, medians): pg_dump's own run (the action's Dump phase, the rule's exposure beyond the wait);`);
  out("floor = bare pg_dump -Fc -Z0; gzip 6 = pg_dump's default, the action's default before issue 20; hand = pg_dump -Fc + uploadArtifact;");
  out("pg_dump cpu = its own CPU and its workers' (what a loaded machine does not change).");
  const cpu = (id: string) => median(of(id).map((x) => x.pgDumpCpuMs));
  const header = ["variant", "dump s", "pg_dump cpu s", "dump/floor", "gzip-6/dump", "output MiB", "output/gzip-6", "wall s", "wall/hand"];
  const rows = shown.map((v) => [
    v.label,
    s(dump(v.id)),
    s(cpu(v.id)),
    x(dump(v.id) / floor),
    x(gzip6.dump / dump(v.id)),
    mb(size(v.id)),
    x(size(v.id) / gzip6.size),
    s(wall(v.id)),
    x(wall(v.id) / hand),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i] as number) : v.padStart(widths[i] as number))).join("  ");
  out(line(header));
  out(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) out(line(r));

  const measured = Object.fromEntries(GZIP_LEVELS.map((l) => [String(l), { dumpMs: dump(`gzip${l}`), cpuMs: cpu(`gzip${l}`) }]));
  const proxies = summarizeProxies(samples, { dumpMs: floor, cpuMs: cpu("floor") }, gzip6.size, measured, out);
  const levels: DatasetLevels = {
    dataset,
    levels: GZIP_LEVELS.filter((l) => of(`gzip${l}`).length).map((level) => ({
      level,
      dumpRatio: dump(`gzip${level}`) / floor,
      sizeRatio: size(`gzip${level}`) / gzip6.size,
    })),
  };
  const failed = verdicts(dataset, shown, { dump, size, floor, gzip6 }, proxies, out);
  return { levels, failed };
}

type Figures = { dump(id: string): number; size(id: string): number; floor: number; gzip6: { dump: number; size: number } };

function verdicts(dataset: string, shown: Variant[], f: Figures, proxies: ProxyRow[], out: (l: string) => void): string[] {
  const failed: string[] = [];
  const verdict = (ok: boolean, text: string) => {
    out(`${ok ? "PASS" : "FAIL"}  ${text}`);
    if (!ok) failed.push(text);
  };
  out("");
  const within = (id: string) => f.size(id) <= SIZE_LIMIT * f.gzip6.size;
  if (dataset === "bench" && shown.some((v) => v.id === "action") && !Number.isNaN(f.gzip6.dump)) {
    const speedup = f.gzip6.dump / f.dump("action");
    verdict(
      speedup >= DEFAULT_SPEEDUP_TARGET,
      `${dataset}: the default's dump phase is ${x(speedup)} faster than gzip 6's (target >= ${x(DEFAULT_SPEEDUP_TARGET)})`,
    );
  }
  const options = shown.filter((v) => v.id !== "floor" && v.id !== "handwritten" && within(v.id));
  const fastest = options.reduce<Variant | undefined>((a, b) => (!a || f.dump(b.id) < f.dump(a.id) ? b : a), undefined);
  if (fastest && !Number.isNaN(f.gzip6.dump)) {
    const speedup = f.gzip6.dump / f.dump(fastest.id);
    verdict(
      speedup >= FASTEST_SPEEDUP_TARGET,
      `${dataset}: fastest option within ${x(SIZE_LIMIT)} gzip 6's size: ${fastest.label}, dump phase ${x(speedup)} faster than gzip 6's (target >= ${x(FASTEST_SPEEDUP_TARGET)})`,
    );
  }
  for (const p of proxies.filter((r) => !r.tool.id.startsWith("gzip"))) {
    const ok = p.modelMs <= MODERN_FLOOR_TARGET * f.floor && p.bytes <= SIZE_LIMIT * f.gzip6.size;
    out(
      `${ok ? "FITS" : "MISS"}  ${dataset}: ${p.tool.id} (proxy for pg_dump 16+ ${p.tool.stands}): model dump ${x(p.modelMs / f.floor)} the floor (target <= ${x(MODERN_FLOOR_TARGET)}), output ${x(p.bytes / f.gzip6.size)} gzip 6's (<= ${x(SIZE_LIMIT)})`,
    );
  }
  return failed;
}

/** pg_dump 15 and older: the level with the shortest dump phase (geometric mean over the datasets) whose output is within the limit on all. */
export function chooseGzipLevel(all: DatasetLevels[], out: (l: string) => void): number | undefined {
  const levels = [...new Set(all.flatMap((d) => d.levels.map((l) => l.level)))];
  const ok = levels.filter((level) => all.every((d) => (d.levels.find((l) => l.level === level)?.sizeRatio ?? Number.POSITIVE_INFINITY) <= SIZE_LIMIT));
  const score = (level: number) =>
    Math.exp(all.reduce((sum, d) => sum + Math.log(d.levels.find((l) => l.level === level)?.dumpRatio ?? Number.NaN), 0) / all.length);
  const best = ok.reduce<number | undefined>((a, b) => (a === undefined || score(b) < score(a) ? b : a), undefined);
  out("");
  for (const level of levels)
    out(
      `INFO  gzip ${level}: ${all
        .map((d) => {
          const l = d.levels.find((e) => e.level === level);
          return `${d.dataset} dump ${x(l?.dumpRatio ?? Number.NaN)} floor, size ${x(l?.sizeRatio ?? Number.NaN)} gzip 6`;
        })
        .join("; ")}${ok.includes(level) ? "" : " (too large)"}`,
    );
  out(
    best === undefined
      ? "INFO  no gzip level within the size limit on every dataset"
      : `INFO  pg_dump <= 15: gzip level ${best} (shortest dump phase with output <= ${x(SIZE_LIMIT)} gzip 6's on ${all.map((d) => d.dataset).join(" and ")})`,
  );
  return best;
}
