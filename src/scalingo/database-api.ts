// Where the database API lives. Scalingo is moving it: its JavaScript client (2026) calls
// `{api}/api/databases/{addon}/...` on the regional API host with the user's bearer and wraps
// bodies as `{"firewall_rule": {...}}`, while its Go client and CLI still call
// `{database_api}/api/databases/{addon}/...` with an addon token and a bare body. Endpoints moved
// one resource at a time, so each resource's form is chosen on its own, by what the API answers.

export type DbApiForm = "regional" | "legacy";
/** The resources the action uses; each may have moved or not. */
export type DbApiResource = "database" | "firewall_rules";
export type DbApiForms = Partial<Record<DbApiResource, DbApiForm>>;

/** Tried first: the form Scalingo is moving to, which needs no addon token (one request less). */
export const PREFERRED_FORMS: readonly DbApiForm[] = ["regional", "legacy"];

/** The forms this region can be called in, preferred first: the old one only while the region lists its host. */
export function availableForms(urls: { database_api?: string }): DbApiForm[] {
  return PREFERRED_FORMS.filter((form) => form === "regional" || urls.database_api !== undefined);
}

/** What a host answers for a route it does not serve (Method Not Allowed and Gone included). */
const ROUTE_MISSING = new Set([404, 405, 410]);

export function routeMissing(status: number | undefined): boolean {
  return status !== undefined && ROUTE_MISSING.has(status);
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
