import * as path from "node:path";
import { insecureUrlProblem } from "./urls.js";

// How action inputs are read: each reader takes the raw text, returns a typed value, and reports
// what is wrong through `fail`, naming the input, so that every invalid input is reported at once.

export type InputReader = (name: string) => string;
export type Env = Record<string, string | undefined>;
export type Fail = (input: string, message: string) => void;

/** One pass over the inputs: the raw reader, a trimmed one, and where problems are collected. */
export interface Inputs {
  raw: InputReader;
  text(name: string): string;
  fail: Fail;
  /** A valid value worth a word in the log (main prints these as warnings). */
  warn(message: string): void;
}

export const TRUE = ["true", "True", "TRUE"];
export const FALSE = ["false", "False", "FALSE"];

/** Non-empty lines, comments (`#`) left out: URLs and recipients are given one per line. */
export function lines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

export function integer(value: string, fallback: number, min: number, max: number, input: string, unit: string, fail: Fail): number {
  if (!value) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    fail(input, `"${value}" is not a whole number from ${min} to ${max} (${unit}).`);
    return fallback;
  }
  return n;
}

export function boolean(value: string, fallback: boolean, input: string, fail: Fail): boolean {
  if (!value) return fallback;
  if (TRUE.includes(value)) return true;
  if (FALSE.includes(value)) return false;
  fail(input, `"${value}" is not true or false.`);
  return fallback;
}

/** The API token travels to these URLs (Basic auth): see insecureUrlProblem. */
export function serviceUrl(value: string, input: string, fail: Fail): string {
  const problem = insecureUrlProblem(value);
  if (problem) fail(input, problem);
  return value.replace(/\/+$/, "");
}

/** PEM text is kept as is, `system` and `scalingo` too; anything else is a file, relative to the workspace. */
export function rootCert(value: string, env: Env, fail: Fail): string | undefined {
  if (!value || value === "system" || value === "scalingo") return value || undefined;
  if (value.includes("-----BEGIN")) {
    if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(value))
      fail("ssl-root-cert", "holds PEM text but no complete certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----).");
    return value;
  }
  if (/[\r\n]/.test(value)) {
    fail("ssl-root-cert", "is neither PEM text, a file path, `system` nor `scalingo`.");
    return undefined;
  }
  return path.resolve(env.GITHUB_WORKSPACE || process.cwd(), value);
}
