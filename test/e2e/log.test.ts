// The log a user reads: one collapsible group per sequential phase, never nested or left open,
// diagnostics (request ids, timings) as debug lines, and an entry point that turns anything
// unexpected into one clear failure instead of a stack trace.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runStep, type StepResult } from "../support/runner.js";
import { describeStep, type Scenario, startWorld, type World } from "./world.js";

/** The groups of a log, in order; throws if one opens inside another or is never closed. */
function groups(stdout: string): { title: string; lines: string[] }[] {
  const found: { title: string; lines: string[] }[] = [];
  let open: { title: string; lines: string[] } | undefined;
  for (const line of stdout.split("\n")) {
    if (line.startsWith("::group::")) {
      if (open) throw new Error(`group "${line.slice(9)}" opens inside "${open.title}"`);
      open = { title: line.slice(9), lines: [] };
      found.push(open);
    } else if (line.startsWith("::endgroup::")) {
      if (!open) throw new Error("::endgroup:: without a group");
      open = undefined;
    } else open?.lines.push(line);
  }
  if (open) throw new Error(`group "${open.title}" is never closed`);
  return found;
}

describe("the action's log", () => {
  let w: World;
  let s: Scenario;
  let main: StepResult;

  beforeAll(async () => {
    w = await startWorld();
    s = await w.scenario({ ruleDelayMs: 500 });
    main = await runStep(s.ctx, "main", s.inputs);
  });
  afterAll(() => w?.close());

  it("puts each phase in its own group, in the order the backup runs them", () => {
    expect(main.code, describeStep(main)).toBe(0);
    expect(groups(main.stdout).map((g) => g.title)).toEqual([
      "Scalingo API and the runner's address",
      "pg_dump client",
      "Firewall rule",
      "pg_dump client and database wait",
      "Dump",
      "Verify",
      "Upload",
    ]);
  });

  it("files each line under the phase it belongs to", () => {
    const byTitle = Object.fromEntries(groups(main.stdout).map((g) => [g.title, g.lines.join("\n")]));
    expect(byTitle["Firewall rule"]).toMatch(/Added firewall rule 127\.0\.0\.1\/32/);
    expect(byTitle["pg_dump client and database wait"]).toMatch(/Database reachable after/);
    expect(byTitle.Dump).toMatch(/Running pg_dump/);
    expect(byTitle.Dump).toMatch(/Removed the temporary firewall rule/);
    // The result stays outside the groups, visible without unfolding anything.
    expect(main.stdout.split("\n").filter((l) => l.startsWith("Backup done:"))).toHaveLength(1);
  });

  it("says once, calmly, that the default TLS does not check the server, and where to read how to", () => {
    const tls = main.stdout.split("\n").filter((l) => /TLS|require_auth|certificate/.test(l));
    const oldClient = w.pg.major < 16 ? ` \\(for pg_dump ${w.pg.major}, the action's own connection checks the password method\\)` : "";
    expect(tls).toEqual([
      expect.stringMatching(
        new RegExp(
          `^TLS to the database: sslmode require, encrypted, the server's certificate not checked${oldClient}, as Scalingo's connection string sets it\\. To check it, see "TLS to the database" in the README\\.$`,
        ),
      ),
    ]);
    expect(main.warnings).toEqual([]);
  });

  it("sends diagnostics to debug: each API call's status, request id and time, and each phase's duration", () => {
    const debug = main.stdout.split("\n").filter((l) => l.startsWith("::debug::"));
    expect(debug).toContainEqual(expect.stringMatching(/^::debug::POST \/v1\/tokens\/exchange: 200, request id \S+, \d+ ms$/));
    expect(debug).toContainEqual(expect.stringMatching(/^::debug::Phase durations: .*firewall \d+ ms/));
    expect(debug).toContainEqual(`::debug::Runner IP 127.0.0.1 from ${s.inputs["ip-lookup-urls"]}.`);
  });

  it("fails with one clear message when something unexpected escapes, not with a stack trace", async () => {
    // The runner's output file vanished: setting the outputs throws, after the backup itself.
    const broken = await w.scenario();
    const step = await runStep(broken.ctx, "main", broken.inputs, { env: { GITHUB_OUTPUT: "/nonexistent/set_output" } });
    expect(step.code).toBe(1);
    expect(step.errors).toHaveLength(1);
    expect(step.errors[0]).toMatch(/^Unexpected error in the main step: .*set_output.*\. Please report it/);
    expect(step.stderr).not.toMatch(/^\s+at /m);
  });
});
