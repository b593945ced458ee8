import { ScalingoApiError } from "../errors.js";
import { insecureUrlProblem } from "../urls.js";
import { type ApiRequest, type ApiResponse, type Clock, DEFAULT_RETRY, type RetryPolicy, realClock, requestJson } from "./http.js";

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
  database_api: string;
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
}

/** The Go client exchanges again when less than this is left on the JWT. */
const REFRESH_MARGIN_MS = 5 * 60_000;

/** JWT `exp` in milliseconds; the token is only decoded, never verified (the API does that). */
export function jwtExpiryMs(jwt: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
    return typeof payload.exp === "number" ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Scalingo's three services as the official CLI uses them for a Dedicated Resources database:
 * auth (token exchange, regions), the regional API (the database is an app with one addon) and
 * the database API (details, firewall rules), each with its own bearer.
 */
export class ScalingoClient {
  private jwt?: { token: string; expiresAtMs?: number };
  private urls?: Region;
  private addon?: { id: string; token?: string };
  private readonly clock: Clock;

  constructor(private readonly o: ScalingoOptions) {
    this.clock = o.clock ?? realClock;
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
    return (await this.dbApi<{ rule: FirewallRule }>("POST", "/firewall_rules", body, [201], false)).body.rule;
  }

  /** Resolves false when the rule was already gone (404): the goal, no rule, is reached. */
  async removeRule(ruleId: string): Promise<boolean> {
    const res = await this.dbApi<unknown>("DELETE", `/firewall_rules/${encodeURIComponent(ruleId)}`, undefined, [204, 404]);
    return res.status === 204;
  }

  private region(): Region {
    if (!this.urls) throw new Error("ScalingoClient.connect() must run first");
    return this.urls;
  }

  private async call<T>(req: ApiRequest): Promise<ApiResponse<T>> {
    return requestJson<T>(req, this.clock, this.o.retry ?? DEFAULT_RETRY);
  }

  /** A bearer JWT with at least five minutes left, exchanging the API token again when needed. */
  private async bearer(): Promise<string> {
    const expires = this.jwt?.expiresAtMs;
    if (this.jwt && (expires === undefined || expires - this.clock.now() > REFRESH_MARGIN_MS)) return `Bearer ${this.jwt.token}`;
    try {
      const { body } = await this.call<{ token: string }>({
        method: "POST",
        url: `${this.o.authUrl}/v1/tokens/exchange`,
        authorization: `Basic ${Buffer.from(`:${this.o.apiToken}`).toString("base64")}`,
        expect: [200],
      });
      this.o.onSecret(body.token);
      this.jwt = { token: body.token, expiresAtMs: jwtExpiryMs(body.token) };
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
    for (const url of [region.api, region.database_api]) {
      const problem = insecureUrlProblem(url);
      if (problem) throw new ScalingoApiError(`Region ${region.name} in the regions list of \`auth-url\` has an unsafe URL: ${problem} Check \`auth-url\`.`);
    }
    return { name: region.name, api: region.api.replace(/\/+$/, ""), database_api: region.database_api.replace(/\/+$/, "") };
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
          `Database "${this.o.database}" not found in region ${this.o.region} (${error.message}). Check \`database\` (the ID shown by \`scalingo databases\`), \`region\`, and that the token's user can access it.`,
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

  private async addonToken(): Promise<string> {
    const addon = this.addon;
    if (!addon) throw new Error("ScalingoClient.connect() must run first");
    if (!addon.token) {
      const { body } = await this.call<{ addon: { token: string } }>({
        method: "POST",
        url: `${this.region().api}/v1/apps/${this.o.database}/addons/${addon.id}/token`,
        authorization: await this.bearer(),
        expect: [200],
      });
      this.o.onSecret(body.addon.token);
      addon.token = body.addon.token;
    }
    return `Bearer ${addon.token}`;
  }

  /**
   * A database-API call. The addon token lives about an hour and a dump can last longer: on a 401
   * get a fresh one (exchanging again if the JWT is old too) and retry once, so that removing the
   * rule after a long dump never fails for a stale token.
   */
  private async dbApi<T>(method: ApiRequest["method"], suffix: string, body?: unknown, expect = [200], retryLostAnswer = true): Promise<ApiResponse<T>> {
    const url = `${this.region().database_api}/api/databases/${this.addon?.id}${suffix}`;
    for (let retried = false; ; retried = true) {
      try {
        return await this.call<T>({ method, url, body, expect, retryLostAnswer, authorization: await this.addonToken() });
      } catch (error) {
        if (retried || !(error instanceof ScalingoApiError) || error.status !== 401) throw error;
        if (this.addon) this.addon.token = undefined;
      }
    }
  }
}
