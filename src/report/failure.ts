import { ActionError, errorMessage, InputError, type Phase, ScalingoApiError } from "../errors.js";
import { type Failure, newReport, type Report } from "./report.js";

export type { Failure };

// A failed run is read in the job summary, often the next morning and without the log: what
// failed, in the action's own words (wrapped text), what a tool or server said (verbatim, in a
// code block), and what to do about this error, not about the phase in general.

/** What to look at when a phase fails and nothing more specific is known. */
const ADVICE: Record<Phase, string> = {
  inputs: "Fix the inputs named above in the workflow file; nothing was contacted.",
  scalingo: "Check the `api-token` secret, the `database` ID and the `region`.",
  "ip-lookup": "Set `runner-ip`, or `ip-lookup-urls` to services reachable from the runner.",
  firewall: "Check the database's firewall rules in the dashboard (at most 30); remove unused ones.",
  "pg-dump-client": "Install the pg_dump of the server's major before this step, or set `pg-dump-version`.",
  "restore-server": "`verify: restore` needs a PostgreSQL server of the dump's major on the runner: install it before this step, or use `verify: list`.",
  reachability: "Check the rule's IP is the runner's egress address and raise `reachable-timeout`.",
  dump: "Read pg_dump's message above; check free disk space and the database's status.",
  compress: "Check free disk space: each data file is compressed beside itself, then removed.",
  verify: "The dump could not be read back: it was not uploaded. Run again.",
  restore:
    "The dump did not restore, or not with every row. Read the error above; an object depending on something excluded by `pg-dump-args` fails the restore.",
  pack: "Check free disk space: the tar needs as much again as the dump directory.",
  encrypt: "Check `encryption-recipients` and free disk space.",
  upload: "Check the artifact name is unique in the run and the retention is allowed by the repository.",
  download: "Check `run-id` (or `workflow`), `artifact-name`, and that `github-token` may read the repository's actions (`permissions: actions: read`).",
  s3: "Read the S3 error above: credentials (AWS_* variables), `s3-url`, `s3-endpoint` and `s3-region`, the bucket's permissions. Before the firewall opened, nothing was contacted but S3; after, the artifact (if any) is kept.",
};

export const DATABASE_ID_HELP =
  "The ID is the database's name in the Scalingo dashboard (also in its page's address); `SCALINGO_PREVIEW_FEATURES=true scalingo databases` lists them.";

/** Hints that depend on what the error says, first match wins; the phase's advice otherwise. */
const SPECIFIC: { phase?: Phase; status?: number[]; match?: RegExp; hint: string }[] = [
  { phase: "scalingo", match: /is stopped/, hint: "Start the database in the Scalingo dashboard, then run the workflow again." },
  {
    phase: "scalingo",
    status: [401],
    hint: "Scalingo refused the API token: create a new one (dashboard, User settings, API tokens) and store it in the secret passed as `api-token`.",
  },
  {
    phase: "scalingo",
    status: [403, 404],
    hint: `Check \`database\` and \`region\`, and that the token's user can access the database. ${DATABASE_ID_HELP}`,
  },
  { phase: "scalingo", match: /^Region .* not found/, hint: "Set `region` to one of the regions the error lists (osc-fr1, osc-secnum-fr1)." },
  {
    phase: "scalingo",
    match: /No addon found|Multiple addons/,
    hint: `\`database\` must be a Dedicated Resources database ID, not an application. ${DATABASE_ID_HELP}`,
  },
  { phase: "scalingo", status: [429], hint: "Scalingo limited the request rate: run again in a few minutes, and spread several backups over the hour." },
  {
    phase: "scalingo",
    status: [500, 502, 503, 504],
    hint: "Scalingo's API failed: check https://scalingostatus.com and run the workflow again.",
  },
  {
    phase: "scalingo",
    match: /got no answer/,
    hint: "Scalingo's API did not answer: check the runner's network and https://scalingostatus.com, then run again.",
  },
  {
    phase: "reachability",
    match: /refused the connection/,
    hint: "The database answered but the connection was refused: read the reason above; the connection settings come from the database's `SCALINGO_POSTGRESQL_URL`.",
  },
  {
    phase: "dump",
    match: /lock timeout|could not obtain lock/,
    hint: "A lock held by the application (a migration, VACUUM FULL) kept pg_dump waiting: run the backup at another hour, or allow a longer wait with `--lock-wait-timeout=<ms>` in `pg-dump-extra-args`.",
  },
  {
    phase: "dump",
    match: /No space left|could not write/i,
    hint: "The runner's disk is full: set `compress`, write to a larger disk with `path`, or use a bigger runner.",
  },
  {
    phase: "dump",
    match: /server closed the connection|terminating connection|connection to server .* (lost|failed)|SSL SYSCALL/i,
    hint: "The database closed pg_dump's connection (a restart, a failover or maintenance): check the database's events in the dashboard and run again.",
  },
  {
    phase: "dump",
    match: /permission denied/i,
    hint: "The database user cannot read an object: leave it out with `--exclude-table` or `--exclude-schema` in `pg-dump-extra-args`.",
  },
  {
    phase: "dump",
    match: /server version mismatch/,
    hint: "pg_dump is older than the server: set `pg-dump-version` to the server's major, or leave it `auto`.",
  },
];

/** The failure as the summary and the log's last line tell it. */
export function describeFailure(error: unknown, phase: Phase): Failure {
  const own = error instanceof ActionError ? error : undefined;
  const message = errorMessage(error).replace(/\r\n?/g, "\n").trim();
  const base = splitMessage(message, own);
  const status = error instanceof ScalingoApiError ? error.status : undefined;
  const hint =
    own?.hint ??
    SPECIFIC.find(
      (s) => (!s.phase || s.phase === phase) && (!s.status || (status !== undefined && s.status.includes(status))) && (!s.match || s.match.test(message)),
    )?.hint ??
    ADVICE[phase];
  return { phase, ...base, hint };
}

/**
 * The action's own words and what a tool said: each invalid input is an item; an explicit detail
 * is the tool's; otherwise, what follows a first line ending with a colon is a tool's output
 * (pg_dump's stderr, a server's answer), and anything else is the action's own text.
 */
function splitMessage(message: string, own: ActionError | undefined): Pick<Failure, "text" | "items" | "detail"> {
  if (own instanceof InputError) return { text: own.problems.length > 1 ? "Invalid inputs:" : "Invalid input:", items: own.problems };
  if (own?.detail) return { text: own.sentence, detail: own.detail };
  const newline = message.indexOf("\n");
  if (newline > 0 && message.slice(0, newline).trimEnd().endsWith(":")) {
    return { text: message.slice(0, newline).trim(), detail: message.slice(newline + 1) };
  }
  return { text: message };
}

/** The log's last line on a failed run. */
export function whatToDoLine(failure: Failure): string {
  return `What to do: ${failure.hint}`;
}

/** Records the failure on the report: the phase it happened in, its message, and how to tell it. */
export function recordFailure(report: Report, error: unknown): Failure {
  report.failedPhase ??= error instanceof ActionError ? error.phase : "dump";
  report.error = errorMessage(error);
  report.failure = describeFailure(error, report.failedPhase);
  return report.failure;
}

/** A report for a run stopped by its inputs: only what can be shown of them, whatever they hold. */
export function inputsReport(read: (name: string) => string): Report {
  const database = read("database").trim();
  const region = read("region").trim();
  return newReport(
    /^[\w-]{1,100}$/.test(database) ? database : "?",
    /^[a-z0-9-]{1,63}$/.test(region) ? region : "osc-fr1",
    /^\w{1,20}$/.test(read("format").trim()) ? read("format").trim() : "custom",
    false,
  );
}
