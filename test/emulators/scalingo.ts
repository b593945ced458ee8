// An emulator of the Scalingo services the action talks to (auth, regional API, database API),
// answering as docs/scalingo-api.md describes, in front of a real PostgreSQL server whose
// pg_hba.conf plays the database's firewall.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { type PgServer, quoteIdent, quoteLiteral } from "../support/postgres.js";
import { basicCredentials, bearerToken, TokenIssuer } from "./scalingo-auth.js";
import { type DatabaseApiForms, databaseRoutes } from "./scalingo-database.js";
import { Firewall, type FirewallRule } from "./scalingo-firewall.js";
import { type Fault, FaultList, fail, RateLimiter, type Reply, type RequestRecord, type Route, type Service, serve } from "./scalingo-http.js";
import type { TlsFront } from "./tls-front.js";

export type { FirewallRule } from "./scalingo-firewall.js";
export type { Fault } from "./scalingo-http.js";

export interface ScalingoEmulatorOptions {
  apiToken: string;
  /** the Dedicated Resources database ID, i.e. the app holding the database addon */
  databaseId: string;
  pg: PgServer;
  /** created on start when absent (the password is (re)set either way) */
  dbName: string;
  dbUser: string;
  dbPassword: string;
  /** in SCALINGO_POSTGRESQL_URL; default "require", "" for none */
  sslmode?: string;
  /** default "osc-fr1"; the regions list always also has osc-fr1 and osc-secnum-fr1, all pointing here */
  region?: string;
  /** delay before an added rule opens pg_hba (and a removed one closes it); default 0 */
  ruleDelayMs?: number;
  jwtLifetimeSeconds?: number;
  addonTokenLifetimeSeconds?: number;
  /** database status; default "running" */
  status?: string;
  /** default 1; 0 and 2 model the CLI's "no addon" and "multiple addons" errors */
  addonCount?: number;
  /** default 30 */
  maxRules?: number;
  /**
   * Whether the database's role may create databases (Scalingo does not document it): set, the
   * role is altered to CREATEDB or NOCREATEDB on start; unset, left as it is (NOCREATEDB when created).
   */
  roleCreatesDatabases?: boolean;
  /** default off; beyond it per user (all tokens of one API token): 429, plain-text "Retry later", no Retry-After */
  rateLimitPerMinute?: number;
  /** a limiter shared by several emulators: one user's databases, one budget */
  rateLimiter?: RateLimiter;
  /** which forms of the database API are served; default both, as Scalingo does while it moves it */
  databaseApi?: DatabaseApiForms;
  /** what an expired addon token gets; default 401 (undocumented: the action must not depend on it) */
  expiredAddonTokenStatus?: 400 | 401 | 403;
  /** Serve https as auth.<domain>, api.<domain>, dbapi.<domain> (the regions list says so) instead of http on 127.0.0.1. */
  tls?: TlsFront;
  /** rewrites SCALINGO_POSTGRESQL_URL (e.g. to point at another server) */
  rewriteUri?: (uri: string) => string;
  /** rewrites the regional URLs of the regions list (default: the emulator's own) */
  regionUrls?: (urls: { api: string; dbapi: string }) => { api: string; dbapi?: string };
  // Switches for what Scalingo does not document (docs/scalingo-api.md); off by default.
  /** How an empty list comes back (the rules, the database's features and instances); default `[]` */
  emptyLists?: "array" | "null" | "absent";
  /** One form of the database API refuses every call with this status (a token or role it does not take) */
  refuseForm?: { form: "legacy" | "regional"; status: 401 | 403 };
  /** Labels longer than 64 characters or with other characters than letters, digits, space, . - _ get a 422 */
  strictLabels?: boolean;
  /** What Scalingo stores of a label (trimmed, case changed...); default as sent */
  normaliseLabel?: (label: string) => string;
  /** How many DELETEs of an existing rule answer 404 and leave it in place; default 0 */
  deleteNotFoundWhileListed?: number;
  /** Appended to readable_version (`-1` gives `17.11.0-1`, Scalingo's changelog format); default none */
  versionSuffix?: string;
  /** PEM served at {database_api}/api/ca_certificate; default the test server's CA, null: 404 */
  caCertificate?: string | null;
}

export interface ScalingoEmulator {
  authUrl: string;
  apiUrl: string;
  dbApiUrl: string;
  addonId: string;
  /** live list */
  rules: FirewallRule[];
  /** every request answered; status 0: the connection was reset by a fault */
  requests: RequestRecord[];
  addFault(f: Fault): void;
  /** also gates pg at once when custom_range */
  seedRule(r: Omit<FirewallRule, "id" | "database_id">): Promise<FirewallRule>;
  /** Changes which form of the database API refuses every call (undefined: none), e.g. between main and post */
  refuseForm(refusal?: ScalingoEmulatorOptions["refuseForm"]): void;
  /** Resolves when every delayed pg_hba change has been applied */
  settle(): Promise<void>;
  /** closes the servers, removes the pg_hba lines it added */
  close(): Promise<void>;
}

const ok = (body: unknown, status = 200): Reply => ({ status, body });
const route = (service: Service, method: string, pattern: RegExp, handle: Route["handle"]): Route => ({ service, method, pattern, handle });

async function ensureRoleAndDatabase(o: ScalingoEmulatorOptions): Promise<void> {
  const exists = (sql: string) => o.pg.psql(sql).then((out) => out === "1");
  if (await exists(`SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(o.dbUser)}`)) {
    await o.pg.psql(`ALTER ROLE ${quoteIdent(o.dbUser)} LOGIN PASSWORD ${quoteLiteral(o.dbPassword)}`);
  } else {
    await o.pg.createRole(o.dbUser, o.dbPassword);
  }
  if (!(await exists(`SELECT 1 FROM pg_database WHERE datname = ${quoteLiteral(o.dbName)}`))) {
    await o.pg.createDatabase(o.dbName, o.dbUser);
  }
  if (o.roleCreatesDatabases !== undefined) await o.pg.psql(`ALTER ROLE ${quoteIdent(o.dbUser)} ${o.roleCreatesDatabases ? "CREATEDB" : "NOCREATEDB"}`);
}

export async function startScalingoEmulator(o: ScalingoEmulatorOptions): Promise<ScalingoEmulator> {
  await ensureRoleAndDatabase(o);
  const region = o.region ?? "osc-fr1";
  const addonId = `ad-${randomUUID()}`;
  const appId = randomBytes(12).toString("hex");
  const firewall = new Firewall(o.pg, o.dbUser, addonId, o.ruleDelayMs ?? 0, o.maxRules ?? 30, {
    strict: o.strictLabels ?? false,
    normalise: o.normaliseLabel ?? ((label) => label),
  });
  const emptyList = <T>(list: T[]): T[] | null | undefined =>
    list.length > 0 || !o.emptyLists || o.emptyLists === "array" ? list : o.emptyLists === "null" ? null : undefined;
  const jwts = new TokenIssuer(o.jwtLifetimeSeconds ?? 3600);
  const addonTokens = new TokenIssuer(o.addonTokenLifetimeSeconds ?? 3600);
  const limiter = o.rateLimiter ?? (o.rateLimitPerMinute === undefined ? undefined : new RateLimiter(o.rateLimitPerMinute));
  // Every credential derived from the API token counts against its user's one budget.
  const user = `user-${createHash("sha256").update(o.apiToken).digest("hex").slice(0, 16)}`;
  const rateKey = (req: IncomingMessage) => {
    const token = bearerToken(req) ?? basicCredentials(req)?.password;
    const mine = token !== undefined && (token === o.apiToken || jwts.knows(token) || addonTokens.knows(token));
    return mine ? user : (req.headers.authorization ?? "anonymous");
  };
  const faults = new FaultList();
  let refusal = o.refuseForm;
  const requests: RequestRecord[] = [];
  const createdAt = new Date().toISOString();

  const plan = { id: "5d3f1a2b3c4d5e6f7a8b9c0d", name: "postgresql-dr-starter-4096", display_name: "Dedicated Resources Starter 4G" };
  const addons = Array.from({ length: o.addonCount ?? 1 }, (_, i) => ({
    id: i === 0 ? addonId : `ad-${randomUUID()}`,
    app_id: appId,
    resource_id: `${o.databaseId.replaceAll("-", "_")}_${i}`,
    status: "running",
    plan,
    addon_provider: { id: "postgresql", name: "PostgreSQL", logo_url: "https://cdn.scalingo.com/postgresql.png" },
    provisioned_at: createdAt,
    deprovisioned_at: null,
  }));
  const enc = encodeURIComponent;
  const query = (o.sslmode ?? "require") === "" ? "" : `?sslmode=${enc(o.sslmode ?? "require")}`;
  const plainUri = `postgres://${enc(o.dbUser)}:${enc(o.dbPassword)}@${o.pg.host}:${o.pg.port}/${enc(o.dbName)}${query}`;
  const uri = o.rewriteUri ? o.rewriteUri(plainUri) : plainUri;

  // Credentials first (401), then existence (404), as the real services answer.
  const withJwt = (req: IncomingMessage) => jwts.verify(bearerToken(req));
  const withApp = (req: IncomingMessage, id: string) => {
    withJwt(req);
    if (id !== o.databaseId) fail(404, { resource: "app", error: "not found" });
  };
  const authorize = (form: "legacy" | "regional", req: IncomingMessage, id: string) => {
    if (refusal?.form === form) fail(refusal.status, { error: "You are not authorized to do this operation" });
    if (form === "regional") {
      withJwt(req); // the user's bearer: this emulator's one user owns the database
      if (id !== addonId) fail(404, { resource: "database", error: "not found" });
      return;
    }
    const tokenAddon = addonTokens.verify(bearerToken(req), o.expiredAddonTokenStatus);
    if (id !== addonId) fail(404, { resource: "database", error: "not found" });
    if (tokenAddon !== id) fail(403, { error: "token is not valid for this database" });
  };

  // Regions are built per call: the service URLs exist only once the servers listen, below.
  const regions = () => {
    const listed = o.regionUrls ? o.regionUrls(urls) : urls;
    return [...new Set(["osc-fr1", "osc-secnum-fr1", region])].map((name) => ({
      name,
      display_name: name === "osc-secnum-fr1" ? "Paris - SecNumCloud - Outscale" : `Emulated ${name}`,
      api: listed.api,
      // undefined: the region no longer lists the old database API host (the field is left out)
      database_api: listed.dbapi,
      ssh: `ssh.${name}.scalingo.com:22`,
      dashboard: "https://dashboard.scalingo.com",
      default: name === "osc-fr1",
    }));
  };
  const databaseJson = () => {
    const [major, minor] = o.pg.version.split(".");
    return {
      id: addonId,
      app_name: o.databaseId,
      created_at: createdAt,
      resource_id: addons[0]?.resource_id ?? "",
      status: o.status ?? "running",
      type_name: "postgresql",
      plan: plan.name,
      readable_version: `${major}.${minor ?? 0}.0${o.versionSuffix ?? ""}`,
      hostname: o.pg.host,
      cluster: false,
      encryption_at_rest: true,
      periodic_backups_enabled: true,
      periodic_backups_scheduled_at: [1],
      features: emptyList([]),
      instances: emptyList([]),
    };
  };

  const routes: Route[] = [
    route("auth", "POST", /^\/v1\/tokens\/exchange$/, (_, req) => {
      const credentials = basicCredentials(req);
      if (credentials?.user !== "" || credentials.password !== o.apiToken) fail(401, { error: "invalid token" });
      return ok({ token: jwts.issue(`us-${appId}`) });
    }),
    route("auth", "GET", /^\/v1\/regions$/, (_, req) => {
      withJwt(req);
      return ok({ regions: regions() });
    }),
    route("api", "GET", /^\/v1\/apps\/([^/]+)\/addons$/, ([id], req) => {
      withApp(req, id);
      return ok({ addons });
    }),
    route("api", "POST", /^\/v1\/apps\/([^/]+)\/addons\/([^/]+)\/token$/, ([id, addon], req) => {
      withApp(req, id);
      if (!addons.some((a) => a.id === addon)) fail(404, { resource: "addon", error: "not found" });
      return ok({ addon: { token: addonTokens.issue(addon) } });
    }),
    route("api", "GET", /^\/v1\/apps\/([^/]+)\/variables$/, ([id], req) => {
      withApp(req, id);
      // Another variable first: the action must pick SCALINGO_POSTGRESQL_URL by name.
      const variables = [
        { id: randomUUID(), name: "SCALINGO_POSTGRESQL_HOST", value: o.pg.host },
        { id: randomUUID(), name: "SCALINGO_POSTGRESQL_URL", value: uri },
      ];
      return ok({ variables });
    }),
    ...databaseRoutes(o.databaseApi ?? "both", {
      addonId,
      firewall,
      details: databaseJson,
      authorize,
      emptyList,
      deleteNotFoundWhileListed: o.deleteNotFoundWhileListed ?? 0,
    }),
    // Public, no credentials (Scalingo's documentation downloads it with curl).
    route("dbapi", "GET", /^\/api\/ca_certificate$/, () => {
      const pem = o.caCertificate === undefined ? o.pg.ca?.caCertPem : o.caCertificate;
      return pem ? { status: 200, body: pem, headers: { "Content-Type": "application/x-pem-file" } } : fail(404, { error: "not found" });
    }),
  ];
  const { urls, close } = await serve(routes, { faults, limiter, rateKey, requests, ...(o.tls ? { tls: o.tls } : {}) });
  let closing: Promise<void> | undefined;

  return {
    authUrl: urls.auth,
    apiUrl: urls.api,
    dbApiUrl: urls.dbapi,
    addonId,
    rules: firewall.rules,
    requests,
    addFault: (f) => faults.add(f),
    seedRule: (r) => firewall.seed(r),
    refuseForm: (r) => {
      refusal = r;
    },
    settle: () => firewall.settle(),
    close() {
      closing ??= close().then(() => firewall.shutdown());
      return closing;
    },
  };
}
