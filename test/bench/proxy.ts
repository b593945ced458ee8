// lz4 and zstd for pg_dump 16+, by proxy. Only pg_dump 15 can be installed here, so its
// `--compress=lz4|zstd` cannot run. Instead, every floor run (pg_dump -Fc -Z0) feeds its archive
// to the command-line tools, one at a time, and the model is:
//   dump phase with method M  ~  floor dump phase + CPU time of the tool compressing that archive.
// pg_dump compresses in its own single process, in series with reading the COPY stream, so the
// compression CPU adds to the floor (the server's work runs beside it on the other core). The
// gzip tool at the same levels checks the model against pg_dump's measured gzip levels.
// zstd runs with --single-thread (pg_dump 16 and 17 use no zstd workers). Sizes are the tools'
// whole-file streams, a close proxy for pg_dump's per-table streams.
import { rm, stat } from "node:fs/promises";
import { runUnderTime } from "./measure.js";
import { median } from "./report.js";
import type { Sample } from "./variants.js";

export interface ProxyTool {
  id: string;
  command: string;
  args: string[];
  /** The pg_dump 16+ `compress` value it stands for; gzip ones check the model. */
  stands: string;
}

export const PROXY_TOOLS: ProxyTool[] = [
  { id: "gzip -1", command: "gzip", args: ["-1", "-c"], stands: "1 (gzip, model check)" },
  { id: "gzip -6", command: "gzip", args: ["-6", "-c"], stands: "6 (gzip, model check)" },
  { id: "lz4 -1", command: "lz4", args: ["-1", "-c"], stands: "lz4" },
  { id: "zstd -1", command: "zstd", args: ["-1", "--single-thread", "-c"], stands: "zstd:1" },
  { id: "zstd -3", command: "zstd", args: ["-3", "--single-thread", "-c"], stands: "zstd (level 3, its default)" },
];

export interface ProxyResult {
  cpuMs: number;
  bytes: number;
}

/** Compresses `file` with every tool in turn, each under GNU time, its output to a scratch file then deleted. */
export async function runProxies(file: string): Promise<Record<string, ProxyResult>> {
  const results: Record<string, ProxyResult> = {};
  for (const tool of PROXY_TOOLS) {
    const out = `${file}.proxy`;
    try {
      const r = await runUnderTime(tool.command, [...tool.args, file], { PATH: process.env.PATH ?? "/usr/bin:/bin" }, out);
      if (r.code !== 0) throw new Error(`${tool.id} exited ${r.code}: ${r.stderr}`);
      results[tool.id] = { cpuMs: r.cpuMs, bytes: (await stat(out)).size };
    } finally {
      await rm(out, { force: true });
    }
  }
  return results;
}

const s = (ms: number) => (ms / 1000).toFixed(2);
const x = (ratio: number) => `${ratio.toFixed(2)}x`;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

export interface ProxyRow {
  tool: ProxyTool;
  modelMs: number;
  bytes: number;
}

/** The proxy table of one dataset: model dump phase and size against the floor and gzip-6's measured size. */
export function summarizeProxies(
  samples: Sample[],
  floor: { dumpMs: number; cpuMs: number },
  gzip6Bytes: number,
  measured: Record<string, { dumpMs: number; cpuMs: number }>,
  out: (l: string) => void,
): ProxyRow[] {
  const floorMs = floor.dumpMs;
  const floors = samples.filter((x) => x.variant === "floor" && x.proxies);
  if (!floors.length) return [];
  out("");
  out("lz4/zstd by proxy (pg_dump 16+ cannot be installed here): the tools compress each floor run's -Z0 archive, single-threaded;");
  out("model dump = floor dump + the tool's CPU (pg_dump compresses in its own process, in series). gzip rows check the model");
  out("against pg_dump's measured levels, in wall time and in pg_dump's CPU (floor pg_dump CPU + the tool's). Medians.");
  const rows: ProxyRow[] = [];
  const header = ["tool", "stands for", "cpu s", "model dump s", "model/floor", "measured s", "model cpu s", "measured cpu s", "output MiB", "output/gzip-6"];
  const cells = PROXY_TOOLS.map((tool) => {
    const cpu = median(floors.map((f) => f.proxies?.[tool.id]?.cpuMs ?? Number.NaN));
    const bytes = median(floors.map((f) => f.proxies?.[tool.id]?.bytes ?? Number.NaN));
    const modelMs = floorMs + cpu;
    rows.push({ tool, modelMs, bytes });
    const level = /^gzip -(\d)$/.exec(tool.id)?.[1];
    const real = level ? measured[level] : undefined;
    const dash = (v: number | undefined) => (v === undefined ? "-" : s(v));
    return [
      tool.id,
      tool.stands,
      s(cpu),
      s(modelMs),
      x(modelMs / floorMs),
      dash(real?.dumpMs),
      s(floor.cpuMs + cpu),
      dash(real?.cpuMs),
      mb(bytes),
      x(bytes / gzip6Bytes),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i] as number) : v.padStart(widths[i] as number))).join("  ");
  out(line(header));
  out(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of cells) out(line(r));
  return rows;
}
