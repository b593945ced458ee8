import type { Config } from "../config.js";
import { ActionError } from "../errors.js";
import { type Connection, parseConnectionUri } from "../postgres/connection.js";
import { applyTls, decideTls } from "../postgres/tls.js";
import { phase, phasesAtOnce, type Report } from "../report/report.js";
import { removeQuietly } from "../runner/files.js";
import { lookupPublicIp } from "../runner/public-ip.js";
import type { Teardown } from "../runner/teardown.js";
import { serverVersionOf } from "../scalingo/answers.js";
import { ScalingoClient, type ScalingoOptions } from "../scalingo/client.js";
import { type FirewallClient, type FirewallOptions, type FirewallSession, openFirewall, type RuleRecord } from "../scalingo/firewall-session.js";
import type { Log } from "../types.js";
import type { BackupDeps, Session } from "./session.js";

// Both actions' steps before their work: what the run learns before it opens anything (the
// database's version, status and connection, masked at once; the runner's public address), then
// the firewall rule.

/** Both actions' first contact, in one log section: the database through the Scalingo API and the runner's address, at once, on the step's report. */
export async function discoverTarget(
  config: Parameters<typeof readDatabase>[1] & Parameters<typeof detectIp>[0] & Omit<ScalingoOptions, "onSecret">,
  report: Pick<Report, "serverVersion" | "runnerIp" | "failedPhase" | "durationsMs">,
  deps: Pick<BackupDeps, "log" | "setSecret" | "env" | "newClient">,
  session: Pick<Session, "teardown">,
): Promise<{ client: ScalingoClient; connection: Connection; serverVersion: string; ip: string }> {
  const client = (deps.newClient ?? ((o) => new ScalingoClient(o)))({ ...config, onSecret: deps.setSecret, debug: deps.log.debug });
  // The API calls and the IP lookup are independent: do them at once (in one log section). Both
  // settle before either failure is thrown: a lookup that fails at once must not let the caller's
  // teardown run while the Scalingo read is still writing its TLS folder (it would stay behind).
  deps.log.section?.("Scalingo API and the runner's address");
  const [{ connection, serverVersion }, ip] = await phasesAtOnce(
    report,
    phase(report, "scalingo", () => readDatabase(client, config, deps, session)),
    phase(report, "ip-lookup", () => detectIp(config, deps.log)),
  );
  Object.assign(report, { serverVersion, runnerIp: ip });
  return { client, connection, serverVersion, ip };
}

/** Both actions' firewall phase: this job's rule through the firewall session, recorded on the step's report. */
export function openFirewallStep(
  config: FirewallOptions["rules"],
  report: RuleRecord & Pick<Report, "failedPhase" | "durationsMs">,
  deps: Pick<BackupDeps, "log" | "state">,
  o: { client: FirewallClient; ip: string; teardown: Teardown },
): Promise<FirewallSession> {
  deps.log.section?.("Firewall rule");
  return phase(report, "firewall", () => openFirewall({ ...o, rules: config, state: deps.state, log: deps.log, record: report }));
}

async function readDatabase(
  client: ScalingoClient,
  config: Pick<Config, "database" | "region" | "sslMode" | "sslRootCert">,
  deps: Pick<BackupDeps, "log" | "setSecret" | "env">,
  session: Pick<Session, "teardown">,
): Promise<{ connection: Connection; serverVersion: string }> {
  await client.connect();
  const [db, uri, ca] = await Promise.all([client.database(), client.connectionUri(), config.sslRootCert === "scalingo" ? client.caCertificate() : undefined]);
  if (db.status === "stopped")
    throw new ActionError("scalingo", `Database ${config.database} is stopped: start it in the Scalingo dashboard before backing it up.`);
  if (db.status !== "running") deps.log.warning(`Database ${config.database} is ${db.status}; trying anyway.`);
  const parsed = parseConnectionUri(uri);
  deps.setSecret(parsed.password);
  deps.setSecret(encodeURIComponent(parsed.password));
  // Known only now that the URI is: still before the firewall opens.
  // `ssl-root-cert: scalingo` is the region's CA, and with it the host name is verified too.
  const tlsInput = ca ? { sslMode: "verify-full" as const, sslRootCert: ca.pem } : config;
  const env = deps.env ?? process.env;
  const tls = await applyTls(parsed, decideTls(parsed, tlsInput, env), env.RUNNER_TEMP, (dir) => {
    session.teardown.defer("plaintext", "remove the TLS folder", () => removeQuietly(dir));
  });
  const connection = ca ? { ...tls, caSource: `Scalingo's database CA for region ${config.region} (${ca.url})` } : tls;
  return { connection, serverVersion: serverVersionOf(db.readable_version) };
}

async function detectIp(config: Pick<Config, "runnerIp" | "ipLookupUrls" | "ipLookupUrlsCustom" | "ipLookupPolicy">, log: Log): Promise<string> {
  if (config.runnerIp) return config.runnerIp;
  const found = await lookupPublicIp({ urls: config.ipLookupUrls, requirePublic: !config.ipLookupUrlsCustom, policy: config.ipLookupPolicy });
  if (found.warning) log.warning(found.warning);
  log.debug?.(`Runner IP ${found.ip} from ${found.sources.join(", ")}.`);
  return found.ip;
}

/**
 * One calm line on how the connection is protected, printed once the pg_dump major is known. The
 * default (Scalingo's URI says `require`: encrypted, server not verified) is no fault of the user's
 * run: it says so once and points to where verification is explained, rather than warning nightly.
 */
export function tlsLine(c: Connection, pgDumpMajor: number): string {
  if (c.sslrootcert) {
    const what =
      c.sslmode === "verify-full" ? "the server's certificate and host name are verified" : "the server's certificate chain is verified (not its host name)";
    return `TLS to the database: sslmode ${c.sslmode}, ${what}${c.caSource ? ` with ${c.caSource}` : ""}.`;
  }
  const encrypted = ["require", "verify-ca", "verify-full"].includes(c.sslmode ?? "") ? "encrypted" : "encrypted if the server offers it";
  // pg_dump before 16 cannot refuse a cleartext password itself (require_auth): the action's own
  // connection, made first to the same server, refuses it for both.
  const oldClient = c.requireAuth && pgDumpMajor < 16 ? ` (for pg_dump ${pgDumpMajor}, the action's own connection checks the password method)` : "";
  return `TLS to the database: sslmode ${c.sslmode ?? "prefer"}, ${encrypted}, the server's certificate not checked${oldClient}, as Scalingo's connection string sets it. To check it, see "TLS to the database" in the README.`;
}
