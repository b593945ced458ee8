// `npm run demo`: the whole backup against the local emulators and a real PostgreSQL, printed as a
// user would see it in the Actions log, then the artifact restored and compared with the source.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { restoreInto, startWorld } from "./e2e/world.js";
import { compareDatabases } from "./support/fixture.js";
import { runStep, type StepResult } from "./support/runner.js";

const bold = (s: string) => `\x1b[1m${s}\x1b[0m`;

/** The log as GitHub shows it: masked values replaced by ***, workflow commands rendered. */
function asGitHubShows(step: StepResult): string {
  let text = `${step.stdout}${step.stderr}`;
  for (const secret of step.masks.filter((m) => m.length > 3).sort((a, b) => b.length - a.length)) text = text.replaceAll(secret, "***");
  return text
    .split("\n")
    .filter((l) => l && !/^::(add-mask|debug|endgroup)::/.test(l))
    .map((l) => l.replace(/^::group::/, "▸ "))
    .map((l) => l.replace(/^::(error|warning)::/, (_m, kind) => (kind === "error" ? "Error: " : "Warning: ")).replaceAll("%0A", "\n    "))
    .map((l) => `  | ${l}`)
    .join("\n");
}

async function main(): Promise<void> {
  if (!existsSync("dist/main/index.js")) throw new Error("dist/ is missing: run `npm run build` first.");
  if (!execFileSync("bash", ["-c", "ls /usr/lib/postgresql/*/bin/postgres 2>/dev/null || true"]).toString().trim()) {
    console.log("Installing PostgreSQL (Debian's package) for the demo...");
    execFileSync("bash", [".ci/install-postgres"], { stdio: "inherit" });
  }
  console.log(bold("Starting a real PostgreSQL, the Scalingo, IP-lookup and artifact emulators..."));
  const w = await startWorld();
  try {
    // Scalingo applies a rule after a delay: the emulator waits 3 s so the action's wait shows.
    const s = await w.scenario({ ruleDelayMs: 3000 });
    const inputs = { ...s.inputs, "retention-days": "7" };
    console.log(`Database "${w.database}" (PostgreSQL ${w.pg.version}) on 127.0.0.1:${w.pg.port}; firewall closed: connections from 127.0.0.1 are refused.\n`);
    console.log(bold("Workflow step: uses: org/scalingo-pg-dump@v1"));
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the workflow expression a user writes
    for (const [k, v] of Object.entries(inputs)) console.log(`    ${k}: ${k === "api-token" ? "${{ secrets.SCALINGO_API_TOKEN }}" : v}`);
    const mainStep = await runStep(s.ctx, "main", inputs);
    console.log(`\n${bold(`Main step (exit ${mainStep.code}):`)}\n${asGitHubShows(mainStep)}`);
    console.log(`\n${bold("Outputs:")}`);
    for (const [k, v] of Object.entries(mainStep.outputs)) console.log(`    ${k} = ${v}`);
    const postStep = await runStep(s.ctx, "post", inputs, { state: mainStep.state });
    console.log(`\n${bold(`Post step (exit ${postStep.code}):`)}\n${asGitHubShows(postStep)}`);
    console.log(`\n${bold("Job summary (Markdown):")}\n${mainStep.summary.replace(/^/gm, "  | ")}`);
    console.log(`${bold("Firewall rules left on the database:")} ${s.scalingo.rules.length}`);

    const stored = w.artifacts.artifacts.get(mainStep.outputs["artifact-name"]);
    if (!stored) throw new Error("no artifact was uploaded");
    console.log(
      `\n${bold("Restoring the uploaded artifact")} (${stored.name}, ${stored.size} bytes, expires ${stored.expiresAt}) into a fresh database "restored"...`,
    );
    await restoreInto(w.pg, stored.path, "restored");
    const { keys, differing } = await compareDatabases(w.pg, w.dbName, "restored");
    for (const { key, same } of keys) console.log(`    ${same ? "same" : "DIFFERENT"}  ${key}`);
    const ok = mainStep.code === 0 && postStep.code === 0 && s.scalingo.rules.length === 0 && differing.length === 0;
    console.log(
      `\n${bold(ok ? "Demo OK: the restored database matches the source, checked table by table (rows, sequences, large objects, views)." : "Demo FAILED")}`,
    );
    process.exitCode = ok ? 0 : 1;
  } finally {
    await w.close();
  }
}

await main();
