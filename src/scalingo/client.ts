import { ScalingoApiError } from "../errors.js";
import { insecureUrlProblem } from "../urls.js";
import {
  addonIdsOf,
  addonTokenOf,
  createdRuleOf,
  type DatabaseDetails,
  databaseOf,
  type FirewallRule,
  type Region,
  regionsOf,
  rulesOf,
  tokenOf,
  variableOf,
} from "./answers.js";
import { fetchScalingoCa, type ScalingoCa } from "./ca-certificate.js";
import {
  bodyFor,
  type DbApiForm,
  type DbApiForms,
  type DbApiResource,
  dbApiUrl,
  formsInOrder,
  refusedByEveryForm,
  refusedByForm,
  resourceOf,
} from "./database-api.js";
import { type ApiRequest, type ApiResponse, type Clock, DEFAULT_RETRY, type RetryPolicy, realClock, requestJson } from "./http.js";
import { ADDON_TOKEN_LIFETIME_MS, isFresh, jwtExpiryMs, type Token } from "./tokens.js";

export type { DatabaseDetails, FirewallRule } from "./answers.js";

export interface ScalingoOptions {
  authUrl: string;
  apiToken: string;
  region: string;
  database: string;
  /** Called with every token the client obtains, so it is masked before anything could print it. */
  onSecret: (secret: string) => void;
  clock?: Clock;
  retry?: RetryPolicy;
  /** Database-API forms already known (post reads main's choice from the saved state). */
  forms?: DbApiForms;
  /** Each call's status, request id and time, and each retry. */
  debug?: (message: string) => void;
}

/**
 * Scalingo's three services as the official CLI uses them for a Dedicated Resources database:
 * auth (token exchange, regions), the regional API (the database is an app with one addon) and
 * the database API (details, firewall rules), each with its own bearer.
 */
export class ScalingoClient {
  private jwt?: Token;
  private urls?: Region;
  private addon?: { id: string; token?: Token };
  private readonly clock: Clock;
  private readonly forms: DbApiForms;

  constructor(private readonly o: ScalingoOptions) {
    this.clock = o.clock ?? realClock;
    this.forms = { ...o.forms };
  }

  /** The form the database API answered in for this resource, once a call settled it. */
  formOf(resource: DbApiResource): DbApiForm | undefined {
    return this.forms[resource];
  }

  /** Exchange, region and addon: everything the other calls need. */
  async connect(): Promise<void> {
    await this.bearer();
    this.urls = await this.findRegion();
    this.addon = { id: await this.findAddonId() };
  }

  async database(): Promise<DatabaseDetails> {
    return databaseOf(await this.dbApi("GET", ""));
  }

  async connectionUri(): Promise<string> {
    const res = await this.call({
      method: "GET",
      url: `${this.region().api}/v1/apps/${this.o.database}/variables?aliases=false`,
      authorization: await this.bearer(),
      expect: [200],
    });
    const uri = variableOf(res, "SCALINGO_POSTGRESQL_URL");
    if (!uri) throw new ScalingoApiError(`The database "${this.o.database}" has no SCALINGO_POSTGRESQL_URL variable: is it a PostgreSQL database?`);
    this.o.onSecret(uri);
    return uri;
  }

  /** The region's database CA (`ssl-root-cert: scalingo`), from the host the regions list names. */
  async caCertificate(): Promise<ScalingoCa> {
    return fetchScalingoCa(this.region());
  }

  async listRules(): Promise<FirewallRule[]> {
    return rulesOf(await this.dbApi("GET", "/firewall_rules"));
  }

  /** Not retried on a lost answer here: the firewall module lists the rules before adding again. */
  async addRule(cidr: string, label: string): Promise<FirewallRule> {
    const body = { type: "custom_range", cidr, label };
    return createdRuleOf(await this.dbApi("POST", "/firewall_rules", body, [200, 201], false));
  }

  /** Resolves false when the rule was already gone (404): the goal, no rule, is reached. */
  async removeRule(ruleId: string): Promise<boolean> {
    const res = await this.dbApi("DELETE", `/firewall_rules/${encodeURIComponent(ruleId)}`, undefined, [200, 204, 404]);
    return res.status !== 404;
  }

  private region(): Region {
    if (!this.urls) throw new Error("ScalingoClient.connect() must run first");
    return this.urls;
  }

  private async call(req: ApiRequest): Promise<ApiResponse<unknown>> {
    return requestJson<unknown>(req, this.clock, this.o.retry ?? DEFAULT_RETRY, this.o.debug);
  }

  /** A bearer JWT with at least five minutes left, exchanging the API token again when needed. */
  private async bearer(): Promise<string> {
    if (isFresh(this.jwt, this.clock.now())) return `Bearer ${this.jwt.value}`;
    try {
      const token = tokenOf(
        await this.call({
          method: "POST",
          url: `${this.o.authUrl}/v1/tokens/exchange`,
          authorization: `Basic ${Buffer.from(`:${this.o.apiToken}`).toString("base64")}`,
          expect: [200],
        }),
      );
      this.o.onSecret(token);
      this.jwt = { value: token, expiresAtMs: jwtExpiryMs(token) };
      return `Bearer ${token}`;
    } catch (error) {
      if (error instanceof ScalingoApiError && error.status === 401) {
        throw new ScalingoApiError(
          `Scalingo refused the API token (${error.message}). Check the secret passed as \`api-token\`: it must be a valid, unexpired token of a user with access to the database.`,
          401,
        );
      }
      throw error;
    }
  }

  private async findRegion(): Promise<Region> {
    const regions = regionsOf(await this.call({ method: "GET", url: `${this.o.authUrl}/v1/regions`, authorization: await this.bearer(), expect: [200] }));
    const region = regions.find((r) => r.name === this.o.region);
    if (!region) {
      throw new ScalingoApiError(`Region "${this.o.region}" not found. Set \`region\` to one of: ${regions.map((r) => r.name).join(", ") || "(none listed)"}.`);
    }
    // The bearer tokens go to these URLs: the same rule as for `auth-url`, whatever the list says.
    for (const url of [region.api, region.database_api].filter((u): u is string => u !== undefined)) {
      const problem = insecureUrlProblem(url);
      if (problem) throw new ScalingoApiError(`Region ${region.name} in the regions list of \`auth-url\` has an unsafe URL: ${problem} Check \`auth-url\`.`);
    }
    return { name: region.name, api: region.api.replace(/\/+$/, ""), database_api: region.database_api?.replace(/\/+$/, "") };
  }

  /** A Dedicated Resources database is an app holding exactly one addon: the database itself. */
  private async findAddonId(): Promise<string> {
    const path = `/v1/apps/${this.o.database}/addons`;
    let addons: string[];
    try {
      addons = addonIdsOf(await this.call({ method: "GET", url: `${this.region().api}${path}`, authorization: await this.bearer(), expect: [200] }));
    } catch (error) {
      if (error instanceof ScalingoApiError && (error.status === 404 || error.status === 403)) {
        throw new ScalingoApiError(
          `Database "${this.o.database}" not found in region ${this.o.region} (${error.message}). Check \`database\` (the database's name in the dashboard, as listed by \`SCALINGO_PREVIEW_FEATURES=true scalingo databases\`), \`region\`, and that the token's user can access it.`,
          error.status,
        );
      }
      throw error;
    }
    if (addons.length === 0)
      throw new ScalingoApiError(`No addon found for database "${this.o.database}": check \`database\` is a Dedicated Resources database ID.`);
    if (addons.length > 1)
      throw new ScalingoApiError(
        `Multiple addons found for "${this.o.database}": it may be an application, not a Dedicated Resources database. Check \`database\`.`,
      );
    return addons[0];
  }

  /**
   * A database-API (addon) token with at least five minutes left. It lives about an hour and a
   * dump can last longer; what an expired one gets (401, 403, 400) is not documented, so it is
   * renewed from its expiry before the call, never only after a refusal.
   */
  private async addonToken(): Promise<string> {
    const addon = this.addon;
    if (!addon) throw new Error("ScalingoClient.connect() must run first");
    if (!isFresh(addon.token, this.clock.now())) {
      const obtainedAt = this.clock.now();
      const token = addonTokenOf(
        await this.call({
          method: "POST",
          url: `${this.region().api}/v1/apps/${this.o.database}/addons/${addon.id}/token`,
          authorization: await this.bearer(),
          expect: [200],
        }),
      );
      this.o.onSecret(token);
      addon.token = { value: token, expiresAtMs: jwtExpiryMs(token) ?? obtainedAt + ADDON_TOKEN_LIFETIME_MS };
    }
    return `Bearer ${addon.token?.value}`;
  }

  /**
   * A database-API call in whichever form this resource answers: the one already settled (or
   * saved by main), else the region's order (database_api first when the regions list names it).
   * A form that refuses the call (401 once its credential was renewed, 403, or a route it does not
   * serve: 404, 405, 410) gives way to the other: such an answer means the request was not
   * applied, so even a write may go to the other form. A 5xx or a lost answer never moves a call:
   * the request may have been applied there. A DELETE's 404 is an answer, checked by the caller.
   * The first write of a resource settles its form with a read, so a POST is never sent to a form
   * nobody has seen work.
   */
  private async dbApi(method: ApiRequest["method"], suffix: string, body?: unknown, expect = [200], retryLostAnswer = true): Promise<ApiResponse<unknown>> {
    const resource = resourceOf(suffix);
    if (method !== "GET" && !this.forms[resource]) await this.dbApi("GET", resource === "firewall_rules" ? "/firewall_rules" : "");
    const forms = formsInOrder(this.region(), this.forms[resource]);
    const refusals: ScalingoApiError[] = [];
    for (const form of forms) {
      try {
        const res = await this.dbApiAs(form, method, suffix, body, expect, retryLostAnswer);
        if (refusals.length) this.o.debug?.(`The ${form} form of the database API answered after: ${refusals.map((e) => e.message).join("; ")}`);
        this.forms[resource] = form;
        return res;
      } catch (error) {
        if (!(error instanceof ScalingoApiError) || !refusedByForm(error.status)) throw error;
        refusals.push(error);
      }
    }
    throw refusedByEveryForm(refusals);
  }

  /**
   * One call in one form: the regional API with the user's bearer, or the database API with an
   * addon token. A 401 gets a fresh credential and one more try.
   */
  private async dbApiAs(form: DbApiForm, method: ApiRequest["method"], suffix: string, body: unknown, expect: number[], retryLostAnswer: boolean) {
    const url = dbApiUrl(form, this.region(), this.addon?.id ?? "", suffix) as string;
    const payload = bodyFor(form, resourceOf(suffix), body);
    for (let retried = false; ; retried = true) {
      const authorization = form === "regional" ? await this.bearer() : await this.addonToken();
      try {
        return await this.call({ method, url, body: payload, expect, retryLostAnswer, authorization });
      } catch (error) {
        if (retried || !(error instanceof ScalingoApiError) || error.status !== 401) throw error;
        if (form === "regional") this.jwt = undefined;
        else if (this.addon) this.addon.token = undefined;
      }
    }
  }
}
