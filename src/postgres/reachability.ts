import { ActionError, errorMessage } from "../errors.js";
import { type Clock, realClock } from "../scalingo/http.js";
import { type Connection, pgClient } from "./connection.js";

export interface Reachable {
  serverVersionNum: number;
  /** The server refused TLS and the URI's sslmode let the connection go without it. */
  allowPlain: boolean;
  attempts: number;
  waitedMs: number;
}

/** The probe's one query: a server that accepted the connection answers it in milliseconds. */
export const PROBE_QUERY_TIMEOUT_MS = 15_000;

type Verdict = "wait" | "fatal" | "plain-retry";

/**
 * Whether a failed connection means "the rule is not applied yet" (keep trying) or a problem no
 * amount of waiting fixes (wrong password, missing database, certificate refused).
 */
export function classifyConnectError(error: unknown): Verdict {
  const e = error as { code?: string; message?: string };
  const message = e.message ?? "";
  switch (e.code) {
    case "28P01": // invalid_password
    case "3D000": // invalid_catalog_name
    case "ENOTFOUND":
    case "AUTH_REFUSED": // the authentication guard: a method require_auth or channel binding forbids
      return "fatal";
    case "57P03": // cannot_connect_now: starting up or in recovery
    case "53300": // too_many_connections
      return "wait";
    case "28000": // invalid_authorization_specification: a pg_hba that does not list us yet
      return /no pg_hba\.conf entry/.test(message) ? "wait" : "fatal";
  }
  if (/does not support SSL/.test(message)) return "plain-retry";
  if (/certificate|self[- ]signed|CERT_|ERR_TLS/i.test(`${e.code} ${message}`)) return "fatal";
  // Any other SQLSTATE is the server answering about something waiting will not change.
  if (e.code && /^[0-9A-Z]{5}$/.test(e.code)) return "fatal";
  return "wait";
}

/** A refused certificate or authentication method is a security stop, not a wrong password. */
function fatalAdvice(error: unknown, caSource?: string): string {
  const e = error as { code?: string; message?: string };
  if (caSource && /certificate|self[- ]signed|CERT_|ERR_TLS/i.test(`${e.code} ${e.message}`)) {
    const what = /ALTNAME|does not match/i.test(`${e.code} ${e.message}`) ? "is signed by it but does not name the URI's host" : "is not signed by it";
    return `The database's certificate did not verify against ${caSource}: it ${what}, so no password was sent. Scalingo does not document that Dedicated Resources certificates chain to that CA: set \`ssl-root-cert\` to the CA that signed the certificate.`;
  }
  if (e.code === "AUTH_REFUSED") {
    return "Nothing was sent: someone on the path may be impersonating the server. Verify it with `ssl-mode: verify-full` and `ssl-root-cert` (see the README's security notes).";
  }
  if (/certificate|self[- ]signed|CERT_|ERR_TLS/i.test(`${e.code} ${e.message}`)) {
    return "The server's certificate did not verify, so no password was sent: check `ssl-root-cert` (the CA that signed it) and, for verify-full, that the URI's host name is in the certificate.";
  }
  return "Check SCALINGO_POSTGRESQL_URL of the database (its user, password and database name).";
}

function describeError(error: unknown): string {
  const e = error as { code?: string };
  return `${errorMessage(error)}${e.code ? ` [${e.code}]` : ""}`;
}

/**
 * A new firewall rule takes effect after a delay that nothing reports: the only signal is the
 * database accepting a connection. Try with growing pauses until it does or the deadline passes.
 */
export async function waitUntilReachable(
  conn: Connection,
  o: { timeoutMs: number; clock?: Clock; log: (m: string) => void; signal?: AbortSignal; allowPlain?: boolean; waitingFor?: string },
): Promise<Reachable> {
  const clock = o.clock ?? realClock;
  const started = clock.now();
  // A wait after a lost connection keeps the TLS decision the first one made: never weaker, never a new negotiation.
  let allowPlain = o.allowPlain ?? false;
  let lastError = "";
  for (let attempt = 1; ; attempt++) {
    if (o.signal?.aborted) throw stoppedWaiting();
    const remaining = o.timeoutMs - (clock.now() - started);
    // A server that accepted the connection answers its one query at once: a stall is not one to wait on.
    const client = pgClient(conn, Math.max(1000, Math.min(15_000, remaining)), allowPlain, PROBE_QUERY_TIMEOUT_MS);
    client.on("error", () => undefined);
    // An attempt in flight is cut short too. Ending a pg client mid-connect leaves its connect()
    // pending for ever, so the attempt is raced against the stop rather than awaited alone.
    let endOnAbort: () => void = () => undefined;
    const stopped = new Promise<never>((_, reject) => {
      // The client is ended in the finally below, which the race reaches at once.
      endOnAbort = () => reject(stoppedWaiting());
    });
    stopped.catch(() => undefined);
    o.signal?.addEventListener("abort", endOnAbort, { once: true });
    const attemptOnce = async () => {
      await client.connect();
      return client.query<{ server_version_num: string }>("SHOW server_version_num");
    };
    const inFlight = attemptOnce();
    inFlight.catch(() => undefined);
    try {
      const { rows } = await Promise.race([inFlight, stopped]);
      return { serverVersionNum: Number(rows[0].server_version_num), allowPlain, attempts: attempt, waitedMs: clock.now() - started };
    } catch (error) {
      if (o.signal?.aborted) throw stoppedWaiting();
      // libpq's allow/prefer fall back to a plain connection; every other mode must not.
      const negotiable = !conn.sslmode || conn.sslmode === "allow" || conn.sslmode === "prefer";
      let verdict = classifyConnectError(error);
      if (verdict === "plain-retry") verdict = negotiable && !allowPlain ? "plain-retry" : "fatal";
      lastError = describeError(error);
      if (verdict === "fatal") {
        throw new ActionError("reachability", `The database refused the connection: ${lastError}. ${fatalAdvice(error, conn.caSource)}`);
      }
      if (verdict === "plain-retry") allowPlain = true;
      if (attempt === 1 || attempt % 5 === 0)
        o.log(`Database not reachable yet (${lastError}); waiting ${o.waitingFor ?? "for the firewall rule to apply"}...`);
    } finally {
      o.signal?.removeEventListener("abort", endOnAbort);
      // A stopped attempt's end may wait on a server that never answers: not awaited then.
      const ending = client.end().catch(() => undefined);
      if (!o.signal?.aborted) await ending;
    }
    if (o.signal?.aborted) continue;
    const elapsed = clock.now() - started;
    if (elapsed >= o.timeoutMs) {
      throw new ActionError(
        "reachability",
        `The database was still unreachable after ${Math.round(elapsed / 1000)} s and ${attempt} attempts (last error: ${lastError}). Check that the firewall rule was applied (Scalingo usually takes about two minutes; raise \`reachable-timeout\`), that the detected IP is really the runner's egress address (set \`runner-ip\` for self-hosted runners behind NAT), and that \`region\` is the database's.`,
      );
    }
    // Start quick (a reused rule is usually in effect already), then settle at one try every 10 s.
    await sleepUnlessAborted(clock, Math.min(10_000, 100 * 2 ** attempt, o.timeoutMs - elapsed), o.signal);
  }
}

const stoppedWaiting = () => new ActionError("reachability", "Stopped waiting for the database: the run failed elsewhere.");

/** The pause between attempts ends early when the run is stopped (the install failed). */
function sleepUnlessAborted(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return clock.sleep(ms);
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
    clock.sleep(ms).then(done);
  });
}
