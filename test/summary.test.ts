import MarkdownIt from "markdown-it";
import { describe, expect, it } from "vitest";
import { formatBytes, formatCount } from "../src/report/format.js";
import { doneLine, newReport, outputsOf } from "../src/report/report.js";
import { summaryMarkdown } from "../src/report/summary.js";

describe("job summary", () => {
  it("on success: versions, size, hash, artifact link, phases and how long the rule was open", () => {
    const r = newReport("my-db", "osc-fr1", "custom", false);
    Object.assign(r, {
      serverVersion: "17.2",
      pgDumpVersion: "17",
      dumpSize: 5 * 1024 * 1024,
      sha256: "ab".repeat(32),
      artifactName: "my-db-1.dump",
      artifactId: 9,
      artifactUrl: "https://github.com/a/b/actions/runs/1/artifacts/9",
      ruleId: "r1",
      ruleCreated: true,
      ruleAddedAt: new Date("2026-11-25T03:00:00Z"),
      ruleRemovedAt: new Date("2026-11-25T03:02:31Z"),
      durationsMs: { reachability: 120_000, dump: 30_500 },
    });
    const md = summaryMarkdown(r);
    expect(md).toContain("✅ Scalingo PostgreSQL backup succeeded");
    expect(md).toContain("| Size | 5.0 MiB |");
    expect(md).toContain("[my-db-1.dump](https://github.com/a/b/actions/runs/1/artifacts/9)");
    expect(md).toContain("open 151.0 s (wait for the database 120.0 s, pg_dump 30.5 s, exposure overhead 0.5 s)");
    expect(md).toContain("| Wait for database | 120.0 s |");
    expect(md).not.toContain("WARNING");
  });

  it("a retried dump: each retry and why, and the exposure counts every attempt", () => {
    const r = newReport("my-db", "osc-fr1", "custom", false);
    Object.assign(r, {
      ruleId: "r1",
      ruleCreated: true,
      ruleAddedAt: new Date("2026-11-25T03:00:00Z"),
      ruleRemovedAt: new Date("2026-11-25T03:03:00Z"),
      // Both waits (the first and the one after the lost connection), both pg_dump runs.
      durationsMs: { reachability: 125_000, dump: 50_000 },
      dumpRetries: ["terminating connection due to administrator command"],
    });
    const md = summaryMarkdown(r);
    expect(md).toContain("| Dump retries | 1 (pg_dump lost its connection: terminating connection due to administrator command) |");
    expect(md).toContain("open 180.0 s (wait for the database 125.0 s, pg_dump 50.0 s over 2 attempts, exposure overhead 5.0 s)");
  });

  it("on failure: the phase and what to check", () => {
    const r = newReport("my-db", "osc-fr1", "custom", false);
    Object.assign(r, { failedPhase: "reachability", error: "still unreachable", ruleId: "r1", ruleCreated: true, ruleAddedAt: new Date() });
    const md = summaryMarkdown(r);
    expect(md).toContain("❌ Scalingo PostgreSQL backup failed");
    expect(md).toContain("**Failed during: Wait for database.** still unreachable");
    expect(md).toMatch(/\*\*What to do:\*\* .*raise `reachable-timeout`/);
    expect(md).toContain("**not removed by this step** (the post step removes it)");
  });

  it("warns about an unencrypted dump of a public repository", () => {
    const r = newReport("my-db", "osc-fr1", "custom", false);
    r.publicRepository = true;
    expect(summaryMarkdown(r)).toMatch(/\[!WARNING\]\n> This repository is public/);
    expect(summaryMarkdown({ ...r, encrypted: true })).not.toContain("WARNING");
  });

  // Read back by a CommonMark + GFM-tables parser: the tool's output must come out as one code block,
  // verbatim, and the table must keep its rows and columns.
  it("keeps error text from pg_dump or a server inside one code block, whatever Markdown it holds", () => {
    const error = [
      "pg_dump: error: query failed: ERROR:  syntax error",
      "```",
      "# not a heading",
      "| not | a | table |",
      "````` even five",
      "<script>alert(1)</script>",
      "[link](https://evil.example)",
    ].join("\n");
    const r = newReport("my-db", "osc-fr1", "custom", false);
    Object.assign(r, {
      failedPhase: "dump",
      error: `pg_dump exited with code 1:\n${error}`,
      serverVersion: "17.2 | injected\n# heading",
      runnerIp: "203.0.113.9",
    });
    const tokens = new MarkdownIt().parse(summaryMarkdown(r), {});
    const blocks = tokens.filter((t) => t.type === "fence" || t.type === "code_block");
    expect(blocks.map((t) => t.content)).toEqual([`${error}\n`]);
    expect(tokens.filter((t) => t.type === "heading_open")).toHaveLength(1); // the summary's own title
    expect(tokens.some((t) => t.type === "html_block" || t.type === "link_open")).toBe(false);
    // The facts table: two columns on every row, the version whole in its cell.
    const rows = tokens.filter((t) => t.type === "tr_open").length;
    expect(tokens.filter((t) => t.type === "td_open" || t.type === "th_open")).toHaveLength(rows * 2);
    expect(tokens.some((t) => t.type === "inline" && t.content === "17.2 | injected # heading")).toBe(true);
  });

  it("formats sizes and outputs only what is known", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(3 * 1024 ** 3)).toBe("3.0 GiB");
    // As toLocaleString("en-US") groups them, without its first call's 30 ms.
    for (const n of [0, 7, 999, 1000, 12345, 999999, 1000000, 2314940, 1234567890123, 12.5, 1234.5])
      expect(formatCount(n), String(n)).toBe(n.toLocaleString("en-US", { maximumFractionDigits: 20 }));
    const r = newReport("my-db", "osc-fr1", "custom", false);
    r.runnerIp = "203.0.113.9";
    expect(outputsOf(r)).toEqual({ "runner-ip": "203.0.113.9" });
  });

  it("names the artifact and its link in the last line and the artifact-url output", () => {
    const r = newReport("my-db", "osc-fr1", "custom", false);
    Object.assign(r, { dumpPath: "/tmp/x/my-db.dump", dumpSize: 42, sha256: "ab".repeat(32) });
    expect(doneLine(r)).toBe(`Backup done: /tmp/x/my-db.dump (42 bytes, sha256 ${"ab".repeat(32)}); not uploaded (\`upload: false\`).`);
    Object.assign(r, { artifactName: "my-db.dump", artifactId: 9, artifactUrl: "https://github.com/a/b/actions/runs/1/artifacts/9" });
    expect(doneLine(r)).toMatch(
      /^Backup done: artifact my-db\.dump https:\/\/github\.com\/a\/b\/actions\/runs\/1\/artifacts\/9 \(42 bytes, .*\); the runner's copy: \/tmp\/x\/my-db\.dump\.$/,
    );
    expect(outputsOf(r)["artifact-url"]).toBe("https://github.com/a/b/actions/runs/1/artifacts/9");
  });
});
