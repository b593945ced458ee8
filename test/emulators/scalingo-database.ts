// The database API routes, in the two forms Scalingo serves them while it moves the API:
// "legacy" on the database API host with an addon token and a bare body (Go client, CLI), and
// "regional" on the regional API host with the user's bearer JWT and a `{"firewall_rule": {...}}`
// body (scalingo.js, 2026). Both answer `{"database": ...}`, `{"rules": [...]}`, `{"rule": ...}`
// (201) and 204. A form that is not served answers the host's 404 for an unknown route.
import type { IncomingMessage } from "node:http";
import type { Firewall } from "./scalingo-firewall.js";
import { MANAGED_RANGES } from "./scalingo-firewall.js";
import { fail, parseJsonObject, type Reply, type Route, readBody, type Service } from "./scalingo-http.js";

export type DatabaseApiForms = "legacy" | "regional" | "both";

interface Database {
  addonId: string;
  firewall: Firewall;
  details: () => unknown;
  /** Credentials, then existence, as the real services check them; throws the error reply. */
  authorize: (form: "legacy" | "regional", req: IncomingMessage, id: string) => void;
  /** How an empty list is answered: `[]`, null, or left out (undefined) */
  emptyList: <T>(list: T[]) => T[] | null | undefined;
  /** How many more DELETEs of an existing rule answer 404 and leave it in place */
  deleteNotFoundWhileListed: number;
}

const ok = (body: unknown, status = 200): Reply => ({ status, body });

function routesOf(form: "legacy" | "regional", db: Database): Route[] {
  const service: Service = form === "legacy" ? "dbapi" : "api";
  const route = (method: string, pattern: RegExp, handle: Route["handle"]): Route => ({ service, method, pattern, handle });
  const ruleBody = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const body = parseJsonObject(await readBody(req));
    if (form === "legacy") return body;
    // Rails' params.require(:firewall_rule)
    const wrapped = body.firewall_rule;
    if (typeof wrapped !== "object" || wrapped === null || Array.isArray(wrapped))
      return fail(400, { error: "param is missing or the value is empty: firewall_rule" });
    return wrapped as Record<string, unknown>;
  };
  return [
    route("GET", /^\/api\/databases\/([^/]+)$/, ([id], req) => {
      db.authorize(form, req, id);
      return ok({ database: db.details() });
    }),
    route("GET", /^\/api\/databases\/([^/]+)\/firewall_rules$/, ([id], req) => {
      db.authorize(form, req, id);
      return ok({ rules: db.emptyList(db.firewall.rules) });
    }),
    route("POST", /^\/api\/databases\/([^/]+)\/firewall_rules$/, async ([id], req) => {
      db.authorize(form, req, id);
      return ok({ rule: db.firewall.add(await ruleBody(req)) }, 201);
    }),
    route("DELETE", /^\/api\/databases\/([^/]+)\/firewall_rules\/([^/]+)$/, ([id, rule], req) => {
      db.authorize(form, req, id);
      if (db.deleteNotFoundWhileListed > 0 && db.firewall.rules.some((r) => r.id === rule)) {
        db.deleteNotFoundWhileListed--;
        return fail(404, { error: "not found" });
      }
      return db.firewall.remove(rule) ? { status: 204 } : fail(404, { error: "not found" });
    }),
    route("GET", /^\/api\/firewall\/managed_ranges$/, (_, req) => {
      db.authorize(form, req, db.addonId);
      return ok({ ranges: MANAGED_RANGES });
    }),
  ];
}

export function databaseRoutes(forms: DatabaseApiForms, db: Database): Route[] {
  const served: ("legacy" | "regional")[] = forms === "both" ? ["legacy", "regional"] : [forms];
  return served.flatMap((form) => routesOf(form, db));
}
