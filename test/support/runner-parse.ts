// What the GitHub runner reads back from a node action: file commands (GITHUB_OUTPUT, GITHUB_STATE),
// workflow commands on stdout/stderr (::add-mask::, ::error::), and the input defaults of
// action.yml. Kept apart from runner.ts so the process plumbing stays readable.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Parses a GITHUB_OUTPUT / GITHUB_STATE file as the runner's FileCommandManager does:
 * `name=value` lines, or `name<<DELIM` / value lines / `DELIM` (what @actions/core writes, with a
 * `ghadelimiter_<uuid>` delimiter). Whichever of `=` and `<<` comes first decides. Malformed
 * content fails the step on a real runner, so it throws here.
 */
export function parseFileCommands(text: string, file: string): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === "") continue;
    const eq = line.indexOf("=");
    const heredoc = line.indexOf("<<");
    if (eq >= 0 && (heredoc < 0 || eq < heredoc)) {
      result[nonEmpty(line.slice(0, eq), file)] = line.slice(eq + 1);
      continue;
    }
    if (heredoc < 0) throw new Error(`${file}: invalid format '${line}'`);
    const name = nonEmpty(line.slice(0, heredoc), file);
    const delimiter = line.slice(heredoc + 2);
    const end = lines.indexOf(delimiter, i + 1);
    if (!delimiter || end < 0) throw new Error(`${file}: matching delimiter not found '${delimiter}'`);
    result[name] = lines.slice(i + 1, end).join("\n");
    i = end;
  }
  return result;
}

function nonEmpty(name: string, file: string): string {
  if (!name) throw new Error(`${file}: a line has an empty name`);
  return name;
}

export interface WorkflowCommands {
  masks: string[];
  errors: string[];
  warnings: string[];
}

/**
 * Extracts the workflow commands the runner acts on from one stream. Honors `::stop-commands::<token>`
 * (commands are ignored until `::<token>::`), which an action uses when echoing untrusted output.
 */
export function parseWorkflowCommands(output: string): WorkflowCommands {
  const found: WorkflowCommands = { masks: [], errors: [], warnings: [] };
  let stopToken: string | undefined;
  for (const raw of output.split("\n")) {
    const line = raw.replace(/\r$/, "").trimStart();
    if (stopToken !== undefined) {
      if (line === `::${stopToken}::`) stopToken = undefined;
      continue;
    }
    const m = /^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$/.exec(line);
    if (!m) continue;
    const [, command, , data = ""] = m;
    const message = unescapeData(data);
    if (command === "add-mask") found.masks.push(message);
    else if (command === "error") found.errors.push(message);
    else if (command === "warning") found.warnings.push(message);
    else if (command === "stop-commands") stopToken = message;
  }
  return found;
}

// The escaping @actions/core applies to command data (toCommandValue/escapeData).
function unescapeData(s: string): string {
  return s.replace(/%0D/g, "\r").replace(/%0A/g, "\n").replace(/%25/g, "%");
}

/** Drops the lines the runner consumes instead of logging (`::add-mask::<secret>`), for secret scans. */
export function withoutMaskCommands(output: string): string {
  return output
    .split("\n")
    .filter((l) => !l.trimStart().startsWith("::add-mask::"))
    .join("\n");
}

/**
 * The runner gives every input declared in action.yml an INPUT_ variable: the `with:` value, else the
 * evaluated default, else "". Reads `inputs:` from `<actionDir>/action.yml` with a deliberately small
 * YAML subset (plain, quoted and block scalars); anything else throws rather than guess.
 */
export function actionInputDefaults(actionDir: string, context: Record<string, string> = {}): Record<string, string> {
  const file = join(actionDir, "action.yml");
  if (!existsSync(file)) return {};
  const lines = readFileSync(file, "utf8").split("\n");
  const defaults: Record<string, string> = {};
  const start = lines.findIndex((l) => /^inputs:\s*$/.test(l));
  if (start < 0) return defaults;
  let input: string | undefined;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^\S/.test(line)) break; // next top-level key
    const name = /^ {2}([A-Za-z0-9_-]+):\s*$/.exec(line);
    if (name) {
      input = name[1] as string;
      defaults[input] = "";
      continue;
    }
    const def = /^ {4}default:\s*(.*)$/.exec(line);
    if (!def || input === undefined) continue;
    const value = (def[1] as string).trim();
    if (/^[|>]/.test(value)) {
      const block: string[] = [];
      while (i + 1 < lines.length && (/^ {6}/.test(lines[i + 1] as string) || (lines[i + 1] as string).trim() === "")) {
        block.push((lines[++i] as string).slice(6));
      }
      defaults[input] = foldBlock(value, block);
    } else {
      defaults[input] = scalar(value, file);
    }
    // The one expression actions use in defaults: `${{ github.token }}`, the job's token.
    const whole = /^\$\{\{\s*([a-z.]+)\s*\}\}$/.exec(defaults[input] ?? "");
    if (whole && context[whole[1] as string] !== undefined) defaults[input] = context[whole[1] as string] as string;
    if (defaults[input]?.includes("${{")) throw new Error(`${file}: cannot evaluate the expression in the default of ${input}`);
  }
  return defaults;
}

function scalar(value: string, file: string): string {
  if (value.startsWith("'")) return value.slice(1, value.lastIndexOf("'")).replace(/''/g, "'");
  if (value.startsWith('"')) return JSON.parse(value.slice(0, value.lastIndexOf('"') + 1)) as string;
  if (/^[[{&*!]/.test(value)) throw new Error(`${file}: unsupported YAML default ${value}`);
  return value.replace(/\s+#.*$/, "");
}

function foldBlock(indicator: string, block: string[]): string {
  while (block.length > 0 && block[block.length - 1] === "") block.pop();
  const text = indicator.startsWith(">") ? block.join(" ").replace(/ {2,}/g, " ") : block.join("\n");
  if (indicator.includes("-")) return text; // strip: no final newline
  return `${text}\n`; // clip (the default) keeps one
}
