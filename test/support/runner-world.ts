// The world .github/workflows/e2e-runners.yml backs up on GitHub's own runners, runnable anywhere:
// a real PostgreSQL holding the fixture behind the emulated Scalingo API and IP lookup. No artifact
// emulator: on a runner the action must upload to GitHub's real artifact service.
//
//   node --import tsx test/support/runner-world.ts start   starts it in the background, prints the
//                                                          action's inputs, exits
//   node --import tsx test/support/runner-world.ts stop    stops it
//
// The inputs go as `name=value` lines to $GITHUB_OUTPUT when set (a workflow step's outputs), else
// to stdout. The background process and its log live in $WORLD_DIR (default
// $RUNNER_TEMP/scalingo-pg-dump-world, or the system temp folder).
import { spawn } from "node:child_process";
import { appendFile, mkdir, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { emulatorInputs, startSeededDatabase } from "../e2e/world.js";
import { startIpEmulator } from "../emulators/public-ip.js";
import { startScalingoEmulator } from "../emulators/scalingo.js";

interface WorldState {
  pid: number;
  inputs: Record<string, string>;
}

const START_TIMEOUT_MS = 180_000;
const worldDir = () => process.env.WORLD_DIR || join(process.env.RUNNER_TEMP || tmpdir(), "scalingo-pg-dump-world");
const statePath = () => join(worldDir(), "world.json");
/** Whether a process is still there (signal 0 checks without signalling). */
export const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The background process: starts everything, records its inputs, serves until SIGTERM or SIGINT. */
async function serve(): Promise<void> {
  const db = await startSeededDatabase();
  // Scalingo applies a rule after a delay: a short one makes the action's wait real.
  const ruleDelayMs = Number(process.env.WORLD_RULE_DELAY_MS ?? 2000);
  const [scalingo, ip] = await Promise.all([startScalingoEmulator({ ...db.scalingo, ruleDelayMs }), startIpEmulator()]);
  const stop = async () => {
    await Promise.allSettled([scalingo.close(), ip.close()]);
    await db.pg.stop();
    await rm(statePath(), { force: true });
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  const state: WorldState = { pid: process.pid, inputs: emulatorInputs(db, scalingo, ip) };
  // Written whole, then renamed: `start` never reads half a file.
  await writeFile(`${statePath()}.tmp`, JSON.stringify(state));
  await rename(`${statePath()}.tmp`, statePath());
  console.log(`world ready: PostgreSQL ${db.pg.version} on 127.0.0.1:${db.pg.port}, Scalingo at ${scalingo.authUrl}`);
}

async function start(): Promise<void> {
  await mkdir(worldDir(), { recursive: true });
  await rm(statePath(), { force: true });
  const log = await open(join(worldDir(), "world.log"), "a");
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "serve"], {
    detached: true,
    stdio: ["ignore", log.fd, log.fd],
  });
  child.unref();
  await log.close();
  for (const deadline = Date.now() + START_TIMEOUT_MS; ; await sleep(200)) {
    const state = await readFile(statePath(), "utf8").then(
      (text) => JSON.parse(text) as WorldState,
      () => undefined,
    );
    if (state) return printInputs(state.inputs);
    if (child.exitCode !== null || !processAlive(child.pid ?? 0) || Date.now() > deadline) {
      const tail = await readFile(join(worldDir(), "world.log"), "utf8").catch(() => "");
      throw new Error(`the world did not start:\n${tail.slice(-3000)}`);
    }
  }
}

async function printInputs(inputs: Record<string, string>): Promise<void> {
  const lines = Object.entries(inputs).map(([name, value]) => `${name}=${value}\n`);
  if (process.env.GITHUB_OUTPUT) await appendFile(process.env.GITHUB_OUTPUT, lines.join(""));
  else process.stdout.write(lines.join(""));
}

async function stop(): Promise<void> {
  const state = await readFile(statePath(), "utf8").then(
    (text) => JSON.parse(text) as WorldState,
    () => undefined,
  );
  if (!state) return;
  if (processAlive(state.pid)) process.kill(state.pid, "SIGTERM");
  for (const deadline = Date.now() + 30_000; processAlive(state.pid); await sleep(100)) {
    if (Date.now() > deadline) throw new Error(`the world (pid ${state.pid}) did not stop within 30 s`);
  }
  await rm(statePath(), { force: true });
}

// A command line when run, a module when imported (for processAlive).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const command = process.argv[2] ?? "start";
  const commands: Record<string, () => Promise<void>> = { start, stop, serve };
  if (!commands[command]) throw new Error(`usage: runner-world.ts start|stop (got "${command}")`);
  await commands[command]();
}
