// The repository explains itself: docs/ describes every input and output action.yml declares,
// Markdown links and the repository paths the docs name exist, and nothing points outside the
// repository (design notes kept elsewhere are invisible to a newcomer who clones it).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT } from "./support/runner.js";

const read = (file: string) => readFileSync(join(REPO_ROOT, file), "utf8");
const tracked = execFileSync("git", ["ls-files"], { cwd: REPO_ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
const markdown = tracked.filter((f) => f.endsWith(".md"));
const action = parse(read("action.yml")) as { inputs: Record<string, unknown>; outputs: Record<string, unknown> };

/** Names in the first column of the Markdown tables under a `## heading` (`name`, or `a`, `b`). */
function tableNames(text: string, heading: string): string[] {
  const section = `\n${text}`.split(`\n## ${heading}\n`)[1]?.split("\n## ")[0] ?? "";
  return section
    .split("\n")
    .filter((line) => line.startsWith("| `"))
    .flatMap((line) => [...(line.split("|")[1] ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1] as string));
}

describe("docs/design.md", () => {
  const design = read("docs/design.md");

  it("describes every input action.yml declares", () => {
    expect(tableNames(design, "Inputs")).toEqual(expect.arrayContaining(Object.keys(action.inputs)));
  });

  it("describes every output action.yml declares", () => {
    expect(tableNames(design, "Outputs")).toEqual(expect.arrayContaining(Object.keys(action.outputs)));
  });

  it("reads its tables the way a reader does (the helper finds names, not noise)", () => {
    const sample = "## Inputs\n\n| Input | x |\n|---|---|\n| `a` | y |\n| `b`, `c` | `not-a-name` |\n\n## Next\n| `d` | z |\n";
    expect(tableNames(sample, "Inputs")).toEqual(["a", "b", "c"]);
  });
});

describe("Markdown files", () => {
  it.each(markdown)("%s links only to files that exist", (file) => {
    const links = [...read(file).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] as string);
    const local = links.filter((l) => !/^(https?:|mailto:|#)/.test(l)).map((l) => l.split("#")[0] as string);
    for (const link of local) expect(existsSync(join(REPO_ROOT, dirname(file), link)), `${file} -> ${link}`).toBe(true);
  });

  it.each(markdown.filter((f) => f.startsWith("docs/")))("%s names only repository paths that exist", (file) => {
    const paths = [...read(file).matchAll(/`((?:src|test|script|docs|\.ci|\.github)\/[\w./-]+)`/g)].map((m) => m[1] as string);
    for (const path of paths) expect(existsSync(join(REPO_ROOT, path)), `${file} names ${path}`).toBe(true);
  });
});

describe("the repository", () => {
  // Built from pieces so that this file does not match itself.
  const outside = [
    ...["shared", "notes"].map((d) => ["/work", d].join("/")),
    ["../", "shared"].join(""),
    ...["design", "scalingo-api", "runner-facts", "artifact-protocol", "style"].map((n) => `shared/${n}.md`),
  ];

  it("never points to notes outside it", () => {
    const offenders = tracked
      .filter((f) => f !== "package-lock.json" && existsSync(join(REPO_ROOT, f)))
      .flatMap((f) => {
        const text = readFileSync(join(REPO_ROOT, f), "latin1");
        return outside.filter((s) => text.includes(s)).map((s) => `${f}: ${s}`);
      });
    expect(offenders).toEqual([]);
  });

  it("the README leads to docs/, CONTRIBUTING.md, SECURITY.md and RELEASES.md", () => {
    const readme = read("README.md");
    for (const target of ["docs/", "CONTRIBUTING.md", "SECURITY.md", "RELEASES.md"]) expect(readme).toContain(`](${target}`);
  });
});
