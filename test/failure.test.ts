import MarkdownIt from "markdown-it";
import { describe, expect, it } from "vitest";
import { ActionError, InputError, ScalingoApiError } from "../src/errors.js";
import { describeFailure, inputsReport, recordFailure } from "../src/report/failure.js";
import { newReport } from "../src/report/report.js";
import { markdownText, summaryMarkdown } from "../src/report/summary.js";

const md = new MarkdownIt();

describe("a failure as the summary tells it", () => {
  it("gives a hint for the error, not the phase: a stopped database is not a bad token", () => {
    const stopped = describeFailure(
      new ActionError("scalingo", "Database shop is stopped: start it in the Scalingo dashboard before backing it up."),
      "scalingo",
    );
    expect(stopped.hint).toMatch(/^Start the database/);
    expect(stopped.hint).not.toContain("api-token");
    const token = describeFailure(new ScalingoApiError("Scalingo refused the API token (POST /v1/tokens/exchange answered 401).", 401), "scalingo");
    expect(token.hint).toMatch(/create a new one .* `api-token`/);
    const missing = describeFailure(new ScalingoApiError('Database "x" not found in region osc-fr1 (GET ... answered 404).', 404), "scalingo");
    expect(missing.hint).toContain("SCALINGO_PREVIEW_FEATURES=true scalingo databases");
    const down = describeFailure(new ScalingoApiError("GET /v1/regions answered 503: unavailable", 503), "scalingo");
    expect(down.hint).toContain("scalingostatus.com");
    const lock = describeFailure(
      new ActionError("dump", "pg_dump exited with code 1:\npg_dump: error: query failed: ERROR:  canceling statement due to lock timeout"),
      "dump",
    );
    expect(lock.hint).toContain("`--lock-wait-timeout=<ms>` in `pg-dump-extra-args`");
    const full = describeFailure(
      new ActionError("dump", "pg_dump exited with code 1:\npg_dump: error: could not write to file: No space left on device"),
      "dump",
    );
    expect(full.hint).toMatch(/disk is full/);
    // Nothing specific: the phase's advice.
    expect(describeFailure(new ActionError("dump", "pg_dump exited with code 1:\nsomething new"), "dump").hint).toMatch(/^Read pg_dump's message/);
    // The thrower's own hint wins.
    expect(describeFailure(new ActionError("upload", "x", { hint: "Do this." }), "upload").hint).toBe("Do this.");
  });

  it("keeps the action's sentence as text and a tool's output as detail", () => {
    expect(describeFailure(new ActionError("dump", "pg_dump exited with code 1:\npg_dump: error: boom\nmore"), "dump")).toMatchObject({
      text: "pg_dump exited with code 1:",
      detail: "pg_dump: error: boom\nmore",
    });
    expect(describeFailure(new ActionError("restore", "It failed", { detail: "pg_restore: error" }), "restore")).toMatchObject({
      text: "It failed",
      detail: "pg_restore: error",
    });
    const own = describeFailure(new ActionError("upload", "Uploading failed: quota.\nThe dump is still at /tmp/x."), "upload");
    expect(own.detail).toBeUndefined();
    expect(own.text).toContain("The dump is still at /tmp/x.");
    expect(describeFailure(new InputError(["`format`: bad", "`jobs`: bad"]), "inputs")).toMatchObject({
      text: "Invalid inputs:",
      items: ["`format`: bad", "`jobs`: bad"],
    });
  });

  it("shows the sentence wrapped (not in a one-line code block) and the tool's output fenced", () => {
    const r = newReport("my-db", "osc-fr1", "custom", false);
    recordFailure(r, new ActionError("reachability", "The database was still unreachable after 300 s. Raise `reachable-timeout`."));
    const tokens = md.parse(summaryMarkdown(r), {});
    expect(tokens.filter((t) => t.type === "fence")).toEqual([]);
    const paragraph = tokens.find((t) => t.type === "inline" && t.content.includes("unreachable"));
    expect(paragraph?.children?.some((c) => c.type === "code_inline" && c.content === "reachable-timeout")).toBe(true);

    const dump = newReport("my-db", "osc-fr1", "custom", false);
    recordFailure(dump, new ActionError("dump", "pg_dump exited with code 1:\npg_dump: error: boom"));
    const fences = md.parse(summaryMarkdown(dump), {}).filter((t) => t.type === "fence");
    expect(fences.map((t) => t.content)).toEqual(["pg_dump: error: boom\n"]);
  });

  it("renders the action's text inertly: a server's words make no heading, list, link, HTML or emphasis", () => {
    const hostile = "Scalingo answered 500: # x\n- item\n[link](https://evil.example) <img src=x> **bold** | a | and `code` & &amp; 1. one";
    const html = md.render(markdownText(hostile));
    expect(html).not.toMatch(/<h1|<li|<a |<img|<strong|<table/);
    expect(html).toContain("<code>code</code>");
    expect(html).toContain("&amp;amp;");
    // Every character survives: the rendered text is the input, line breaks as <br>.
    const text = html
      .replace(/<br>\n/g, "\n")
      .replace(/<\/?(p|code)>/g, "")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, "&");
    expect(text.trim()).toBe(hostile.replace("`code`", "code"));
  });

  it("an input error's report shows only what is safe of the inputs", () => {
    const read = (inputs: Record<string, string>) => (name: string) => inputs[name] ?? "";
    expect(inputsReport(read({ database: "shop-db", region: "osc-secnum-fr1" }))).toMatchObject({
      database: "shop-db",
      region: "osc-secnum-fr1",
      format: "custom",
    });
    expect(inputsReport(read({ database: "a|b`\n# x", region: "OSC FR1", format: "z ip" }))).toMatchObject({
      database: "?",
      region: "osc-fr1",
      format: "custom",
    });
  });
});
