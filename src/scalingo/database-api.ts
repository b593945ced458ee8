import { ScalingoApiError } from "../errors.js";

// Where the database API lives. Scalingo's Go client, CLI and Terraform provider call
// `{database_api}/api/databases/{addon}/...` with an addon token and a bare body (go-scalingo added
// its point-in-time endpoints there in August 2026); its JavaScript client (2026) calls
// `{api}/api/databases/{addon}/...` on the regional API host with the user's bearer and wraps
// bodies as `{"firewall_rule": {...}}`. What either host answers for a route or a token it does
// not take is documented nowhere, so each resource's form is chosen on its own, by what the API
// answers, and a refusal from one form tries the other.

export type DbApiForm = "regional" | "legacy";
/** The resources the action uses; each may have moved or not. */
export type DbApiResource = "database" | "firewall_rules";
export type DbApiForms = Partial<Record<DbApiResource, DbApiForm>>;

/**
 * The forms this region can be called in, in the order to try them: the one already known to
 * answer, then the form Scalingo's own Go client and CLI use when the regions list names a
 * `database_api`, then the regional one.
 */
export function formsInOrder(urls: { database_api?: string }, known?: DbApiForm): DbApiForm[] {
  const available: DbApiForm[] = urls.database_api !== undefined ? ["legacy", "regional"] : ["regional"];
  return known && available.includes(known) ? [known, ...available.filter((f) => f !== known)] : available;
}

/**
 * Answers that mean "not here, and not done": the credential is not taken (401 after a renewal,
 * 403) or the route is not served (404, 405, 410). Never a 5xx or a lost answer, after which the
 * request may have been applied.
 */
const REFUSED = new Set([401, 403, 404, 405, 410]);

export function refusedByForm(status: number | undefined): boolean {
  return status !== undefined && REFUSED.has(status);
}

/** Every form refused: the error names each refusal, the last one's status kept. */
export function refusedByEveryForm(refusals: ScalingoApiError[]): ScalingoApiError {
  const last = refusals[refusals.length - 1];
  if (!last) return new ScalingoApiError("The region lists no host for the database API.");
  if (refusals.length === 1) return last;
  return new ScalingoApiError(`Both forms of the database API refused the call: ${refusals.map((e) => e.message).join("; ")}`, last.status);
}

export function isDbApiForm(value: string | undefined): value is DbApiForm {
  return value === "regional" || value === "legacy";
}

/** `""` is the database itself, `/firewall_rules...` its rules. */
export function resourceOf(suffix: string): DbApiResource {
  return suffix.startsWith("/firewall_rules") ? "firewall_rules" : "database";
}

/** The request body in the form's shape: the regional API wants the rule wrapped. */
export function bodyFor(form: DbApiForm, resource: DbApiResource, body: unknown): unknown {
  return form === "regional" && resource === "firewall_rules" && body !== undefined ? { firewall_rule: body } : body;
}

export function dbApiUrl(form: DbApiForm, urls: { api: string; database_api?: string }, addonId: string, suffix: string): string | undefined {
  const base = form === "regional" ? urls.api : urls.database_api;
  return base === undefined ? undefined : `${base}/api/databases/${encodeURIComponent(addonId)}${suffix}`;
}
