/**
 * One error type per failure class. Each carries a message a user can act on; `phase` says which
 * part of the backup failed so the job summary can point at it.
 */
export type Phase =
  | "inputs"
  | "scalingo"
  | "ip-lookup"
  | "firewall"
  | "pg-dump-client"
  | "restore-server"
  | "reachability"
  | "dump"
  | "compress"
  | "verify"
  | "restore"
  | "pack"
  | "encrypt"
  | "upload"
  | "download"
  | "s3";

/** What a failure may carry besides its sentence (src/report/failure.ts shows them). */
export interface ErrorParts {
  /** A tool's or a server's own output, kept verbatim (a code block in the summary). */
  detail?: string;
  /** What to do, when the thrower knows better than the phase's general advice. */
  hint?: string;
}

export class ActionError extends Error {
  /** The action's own sentence, without the detail. */
  readonly sentence: string;
  readonly detail?: string;
  readonly hint?: string;
  constructor(
    readonly phase: Phase,
    message: string,
    parts: ErrorParts = {},
  ) {
    super(parts.detail ? `${message}\n${parts.detail}` : message);
    this.name = new.target.name;
    this.sentence = message;
    if (parts.detail) this.detail = parts.detail;
    if (parts.hint) this.hint = parts.hint;
  }
}

/** Every invalid input at once, each named, with what it accepts. */
export class InputError extends ActionError {
  constructor(readonly problems: string[]) {
    super("inputs", `Invalid input${problems.length > 1 ? "s" : ""}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/** A Scalingo API call that failed; the message names method, path, status and request id, never a token. */
export class ScalingoApiError extends ActionError {
  constructor(
    message: string,
    readonly status?: number,
    readonly retryable = false,
  ) {
    super("scalingo", message);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
