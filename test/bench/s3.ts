// `npm run bench:s3 [-- --size 1GB --runs 3]`: the action's S3 upload against lib-storage's own
// Upload of the same file, side by side (round-robin, each upload in a fresh Node 24 process), to
// the same S3-compatible server on loopback (s3rver behind the test front). Target: the action's
// median within 1.05x of the SDK's. Exit 1 when missed.
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs, promisify } from "node:util";
import { startS3Emulator } from "../emulators/s3.js";
import { NODE24, REPO_ROOT } from "../support/runner.js";
import { parseSize } from "./dataset.js";

const TARGET = 1.05;

async function writeRandom(file: string, size: number): Promise<void> {
  const out = createWriteStream(file);
  for (let left = size; left > 0; left -= 4 << 20) {
    if (!out.write(randomBytes(Math.min(left, 4 << 20)))) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { size: { type: "string" }, runs: { type: "string" } } });
  const size = parseSize(values.size ?? "1GB");
  const runs = Number(values.runs ?? "3");
  const dir = await mkdtemp(path.join(tmpdir(), "bench-s3-"));
  const s3 = await startS3Emulator();
  try {
    const file = path.join(dir, "dump.bin");
    await writeRandom(file, size);
    console.log(
      `file: ${size} bytes of random data; ${runs} runs x 2 variants, round-robin, Node ${execFileSync(NODE24, ["--version"], { encoding: "utf8" }).trim()}`,
    );
    const times: Record<string, number[]> = { sdk: [], action: [] };
    const cpu: Record<string, number[]> = { sdk: [], action: [] };
    for (let run = 1; run <= runs; run++) {
      for (const variant of run % 2 ? ["sdk", "action"] : ["action", "sdk"]) {
        // Asynchronously: the server runs in this process and must keep answering.
        const { stdout: out } = await promisify(execFile)(
          NODE24,
          ["--import", "tsx", "test/bench/s3-upload.ts", variant, file, s3.endpoint, s3.bucket, `bench/${variant}-${run}`, s3.accessKeyId, s3.secretAccessKey],
          { cwd: REPO_ROOT, encoding: "utf8", env: { ...process.env, NO_PROXY: "127.0.0.1" }, maxBuffer: 1 << 20 },
        );
        const { ms, cpuMs } = JSON.parse(out.trim().split("\n").pop() as string) as { ms: number; cpuMs: number };
        times[variant]?.push(ms);
        cpu[variant]?.push(cpuMs);
        console.log(
          `run ${run} ${variant.padEnd(6)} ${(ms / 1000).toFixed(2)} s (${(size / (1 << 20) / (ms / 1000)).toFixed(0)} MiB/s), uploader CPU ${(cpuMs / 1000).toFixed(2)} s`,
        );
      }
    }
    const ratio = median(times.action as number[]) / median(times.sdk as number[]);
    console.log(
      `median: sdk ${(median(times.sdk as number[]) / 1000).toFixed(2)} s, action ${(median(times.action as number[]) / 1000).toFixed(2)} s, ratio ${ratio.toFixed(3)} (target <= ${TARGET})`,
    );
    // The uploading process's own CPU: what the action adds, without the server's and the machine's noise.
    console.log(
      `uploader CPU median: sdk ${(median(cpu.sdk as number[]) / 1000).toFixed(2)} s, action ${(median(cpu.action as number[]) / 1000).toFixed(2)} s, ratio ${(median(cpu.action as number[]) / median(cpu.sdk as number[])).toFixed(3)}`,
    );
    return ratio <= TARGET ? 0 : 1;
  } finally {
    await s3.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(2);
  },
);
