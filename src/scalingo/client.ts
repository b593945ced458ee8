import { ScalingoApiError } from "../errors.js";
import { insecureUrlProblem } from "../urls.js";
import { availableForms, bodyFor, type DbApiForm, type DbApiForms, type DbApiResource, dbApiUrl, resourceOf, routeMissing } from "./database-api.js";
import { type ApiRequest, type ApiResponse, type Clock, DEFAULT_RETRY, type RetryPolicy, realClock, requestJson } from "./http.js";
import { ADDON_TOKEN_LIFETIME_MS, isFresh, jwtExpiryMs, type Token } from "./tokens.js";

export interface FirewallRule {
  id: string;
  type: "custom_range" | "managed_range";
  cidr?: string;
  label?: string;
  range_id?: string;
}

export interface DatabaseDetails {
  id: string;
  status: string;
  readable_version: string;
  type_name?: string;
}

interface Region {
  name: string;
  api: string;
  /** The old database API host; a region may stop listing it once the API has moved. */
  database_api?: string;
}

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
    return (await this.dbApi<{ database: DatabaseDetails }>("GET", "")).body.database;
  }

  async connectionUri(): Promise<string> {
    const { body } = await this.call<{ variables: { name: string; value: string }[] }>({
      method: "GET",
      url: `${this.region().api}/v1/apps/${this.o.database}/variables?aliases=false`,
      authorization: await this.bearer(),
      expect: [200],
    });
    const uri = body.variables.find((v) => v.name === "SCALINGO_POSTGRESQL_URL")?.value;
    if (!uri) throw new ScalingoApiError(`The database "${this.o.database}" has no SCALINGO_POSTGRESQL_URL variable: is it a PostgreSQL database?`);
    this.o.onSecret(uri);
    return uri;
  }

  async listRules(): Promise<FirewallRule[]> {
    return (await this.dbApi<{ rules: FirewallRule[] }>("GET", "/firewall_rules")).body.rules;
  }

  /** Not retried on a lost answer here: the firewall module lists the rules before adding again. */
  async addRule(cidr: string, label: string): Promise<FirewallRule> {
    const body = { type: "custom_range", cidr, label };
    return (await this.dbApi<{ rule: FirewallRule }>("POST", "/firewall_rules", body, [200, 201], false)).body.rule;
  }

  /** Resolves false when the rule was already gone (404): the goal, no rule, is reached. */
  async removeRule(ruleId: string): Promise<boolean> {
    const res = await this.dbApi<unknown>("DELETE", `/firewall_rules/${encodeURIComponent(ruleId)}`, undefined, [200, 204, 404]);
    return res.status !== 404;
  }

  private region(): Region {
    if (!this.urls) throw new Error("ScalingoClient.connect() must run first");
    return this.urls;
  }

  private async call<T>(req: ApiRequest): Promise<ApiResponse<T>> {
    return requestJson<T>(req, this.clock, this.o.retry ?? DEFAULT_RETRY, this.o.debug);
  }

  /** A bearer JWT with at least five minutes left, exchanging the API token again when needed. */
  private async bearer(): Promise<string> {
    if (isFresh(this.jwt, this.clock.now())) return `Bearer ${this.jwt.value}`;
    try {
      const { body } = await this.call<{ token: string }>({
        method: "POST",
        url: `${this.o.authUrl}/v1/tokens/exchange`,
        authorization: `Basic ${Buffer.from(`:${this.o.apiToken}`).toString("base64")}`,
        expect: [200],
      });
      this.o.onSecret(body.token);
      this.jwt = { value: body.token, expiresAtMs: jwtExpiryMs(body.token) };
      return `Bearer ${body.token}`;
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
    const { body } = await this.call<{ regions: Region[] }>({
      method: "GET",
      url: `${this.o.authUrl}/v1/regions`,
      authorization: await this.bearer(),
      expect: [200],
    });
    const region = body.regions.find((r) => r.name === this.o.region);
    if (!region) {
      throw new ScalingoApiError(`Region "${this.o.region}" not found. Set \`region\` to one of: ${body.regions.map((r) => r.name).join(", ")}.`);
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
    let addons: { id: string }[];
    try {
      addons = (
        await this.call<{ addons: { id: string }[] }>({ method: "GET", url: `${this.region().api}${path}`, authorization: await this.bearer(), expect: [200] })
      ).body.addons;
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
    return addons[0].id;
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
      const { body } = await this.call<{ addon: { token: string } }>({
        method: "POST",
        url: `${this.region().api}/v1/apps/${this.o.database}/addons/${addon.id}/token`,
        authorization: await this.bearer(),
        expect: [200],
      });
      this.o.onSecret(body.addon.token);
      addon.token = { value: body.addon.token, expiresAtMs: jwtExpiryMs(body.addon.token) ?? obtainedAt + ADDON_TOKEN_LIFETIME_MS };
    }
    return `Bearer ${addon.token?.value}`;
  }

  /**
   * A database-API call in whichever form this resource answers. The first read of a resource
   * settles its form: the preferred one, then the other when the first answers that the route
   * does not exist. A write never probes (a DELETE's 404 means "already gone", a POST must not be
   * sent to two places): it settles the form with a read first.
   */
  private async dbApi<T>(method: ApiRequest["method"], suffix: string, body?: unknown, expect = [200], retryLostAnswer = true): Promise<ApiResponse<T>> {
    const resource = resourceOf(suffix);
    const known = this.forms[resource];
    if (known) return this.dbApiAs<T>(known, method, suffix, body, expect, retryLostAnswer);
    if (method !== "GET") {
      await this.dbApi("GET", resource === "firewall_rules" ? "/firewall_rules" : "");
      return this.dbApi<T>(method, suffix, body, expect, retryLostAnswer);
    }
    const forms = availableForms(this.region());
    for (const [i, form] of forms.entries()) {
      try {
        const res = await this.dbApiAs<T>(form, method, suffix, body, expect, retryLostAnswer);
        this.forms[resource] = form;
        return res;
      } catch (error) {
        if (i + 1 >= forms.length || !(error instanceof ScalingoApiError) || !routeMissing(error.status)) throw error;
      }
    }
    throw new Error("unreachable: no database API form");
  }

  /**
   * One call in one form: the regional API with the user's bearer, or the old database API with
   * an addon token. A 401 gets a fresh credential and one more try.
   */
  private async dbApiAs<T>(form: DbApiForm, method: ApiRequest["method"], suffix: string, body: unknown, expect: number[], retryLostAnswer: boolean) {
    const url = dbApiUrl(form, this.region(), this.addon?.id ?? "", suffix) as string;
    const payload = bodyFor(form, resourceOf(suffix), body);
    for (let retried = false; ; retried = true) {
      const authorization = form === "regional" ? await this.bearer() : await this.addonToken();
      try {
        return await this.call<T>({ method, url, body: payload, expect, retryLostAnswer, authorization });
      } catch (error) {
        if (retried || !(error instanceof ScalingoApiError) || error.status !== 401) throw error;
        if (form === "regional") this.jwt = undefined;
        else if (this.addon) this.addon.token = undefined;
      }
    }
  }
}
