import { createHash, randomBytes } from "node:crypto";

// The firewall rule's label, in one place: the label the action writes by default, and the labels
// it recognises as its own (this format and the one before it). Scalingo documents no rule for
// labels (length, characters, normalisation), so the default label keeps to a strict subset that
// any sane rule accepts: at most 64 characters of letters, digits, space, dot, dash and underscore.

/** Every default label starts with this, so a person reading the rules knows who added it. */
export const LABEL_PREFIX = "scalingo-pg-dump";
export const MAX_LABEL_LENGTH = 64;
/** The label rule the action assumes for its own labels (and names when Scalingo refuses one). */
export const LABEL_RULE = `at most ${MAX_LABEL_LENGTH} characters, only letters, digits, space, dot, dash and underscore`;
const LABEL_CHARS = /^[A-Za-z0-9 ._-]*$/;

/** What makes a label this job's own, whatever Scalingo does to the rest of it. */
export interface LabelIdentity {
  /** The label sent. */
  label: string;
  /** The random token of a default label; a user's label has none. */
  token?: string;
}

export function followsLabelRule(label: string): boolean {
  return label.length <= MAX_LABEL_LENGTH && LABEL_CHARS.test(label);
}

/**
 * A random token per job attempt and matrix leg (legs share GITHUB_JOB and may share an egress IP
 * and a second): 8 characters of lower-case base32, 40 bits. Lower case only, so a Scalingo that
 * changes the case of labels cannot change it.
 */
export function newLabelToken(random: (size: number) => Buffer = randomBytes): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  return [...random(8)].map((byte) => alphabet[byte & 31]).join("");
}

/** A short hash of `owner/repo`: recognisable per repository, whatever its name's length or characters. */
export function repositoryTag(repository: string): string {
  return createHash("sha256").update(repository.toLowerCase()).digest("hex").slice(0, 8);
}

/** `20261205T0317Z`: the creation time to the minute, in characters any label rule accepts. */
function labelStamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\d\d\.\d{3}Z$/, "Z");
}

/**
 * `scalingo-pg-dump <token> <repo-hash> <time> <run>-<attempt> <job>`, cut at 64 characters: the
 * token first (a trimmed label keeps it), then what the stale sweep needs (repository and time),
 * then the run and job for people, as far as they fit.
 */
export function defaultRuleLabel(o: { token: string; repository: string; at: Date; runId: string; attempt: string; job: string }): string {
  const tail = ` ${o.runId}-${o.attempt} ${o.job}`.replace(/[^A-Za-z0-9 ._-]/g, "_");
  const label = `${LABEL_PREFIX} ${o.token} ${repositoryTag(o.repository)} ${labelStamp(o.at)}${tail}`;
  return label.slice(0, MAX_LABEL_LENGTH).trimEnd();
}

const NEW_FORMAT = new RegExp(`^${LABEL_PREFIX} ([a-z2-7]{8}) ([0-9a-f]{8}) (\\d{4})(\\d\\d)(\\d\\d)T(\\d\\d)(\\d\\d)Z(?: .*)?$`, "i");
// Before 2026-12: `scalingo-pg-dump <owner/repo> run <id>/<attempt> job <job> at <ISO time>`.
const OLD_FORMAT = new RegExp(`^${LABEL_PREFIX} (\\S+) run \\d+/\\d+ job \\S+(?: at (\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ))?$`, "i");

/** A label in either of the action's default formats: its repository check, token and creation time. */
export function parseOwnLabel(label: string): { isRepository(repository: string): boolean; token?: string; createdAtMs?: number } | undefined {
  const fresh = NEW_FORMAT.exec(label);
  if (fresh) {
    const [, token, tag, y, mo, d, h, mi] = fresh;
    return {
      isRepository: (repository) => repositoryTag(repository) === tag.toLowerCase(),
      token: token.toLowerCase(),
      createdAtMs: Date.parse(`${y}-${mo}-${d}T${h}:${mi}:00Z`),
    };
  }
  const old = OLD_FORMAT.exec(label);
  if (!old) return undefined;
  return { isRepository: (repository) => repository.toLowerCase() === old[1].toLowerCase(), createdAtMs: old[2] ? Date.parse(old[2]) : undefined };
}

/** Whether a label is in one of the action's own default formats, whatever the repository. */
export function looksLikeOwnLabel(label: string): boolean {
  return parseOwnLabel(label) !== undefined;
}

/**
 * Whether a listed label is this job's: it holds the token (a Scalingo that trims or changes the
 * case of labels keeps it, since it comes first), or, for a user's label, equals it but for case.
 */
export function isOwnLabel(listed: string | undefined, own: LabelIdentity): boolean {
  if (listed === undefined) return false;
  if (own.token) return listed.toLowerCase().includes(own.token.toLowerCase());
  return listed.trim().toLowerCase() === own.label.trim().toLowerCase();
}
