import type { EventEmitter } from "node:events";
import type pg from "pg";

// libpq refuses, before it sends anything, an authentication that require_auth (PG16+) or
// channel_binding=require (PG13+) forbids. node-postgres has no such settings, so the action's own
// connections get the same rule here: the server's authentication request is seen first, and the
// password is handed over only when the method is allowed.

export type AuthMethod = "password" | "md5" | "scram-sha-256" | "none";

export interface AuthPolicy {
  /** libpq's syntax: `scram-sha-256,md5`, or `!password` (every method but those) */
  requireAuth?: string;
  channelBinding?: "disable" | "prefer" | "require";
}

/** What libpq would say, or undefined when the method is allowed. */
export function authProblem(policy: AuthPolicy, method: AuthMethod, channelBound: boolean): string | undefined {
  if (policy.channelBinding === "require" && !channelBound) {
    return `channel binding is required (channel_binding=require), but the server ${method === "none" ? "authenticated the client without it" : `asked for ${method} authentication without it`}`;
  }
  const list = policy.requireAuth
    ?.split(",")
    .map((m) => m.trim())
    .filter(Boolean);
  if (!list?.length) return undefined;
  const negated = list.every((m) => m.startsWith("!"));
  const named = list.map((m) => m.replace(/^!/, ""));
  const allowed = negated ? !named.includes(method) : named.includes(method);
  if (allowed) return undefined;
  const asked = method === "password" ? "a cleartext password" : method === "none" ? "no authentication" : `${method} authentication`;
  return `authentication method requirement "${policy.requireAuth}" failed: the server asked for ${asked}; the password was not sent`;
}

/**
 * Guards one pg.Client before it connects: `password` must be the client's password function
 * returned here. The client's Connection emits each authentication request before the client's own
 * handler asks for the password, so the method is known when the password is requested.
 */
export function guardAuthentication(client: pg.Client, policy: AuthPolicy, password: string, tlsUsed: () => boolean): void {
  // `connection` is node-postgres's protocol layer: public on the instance, not in its types.
  const con = (client as unknown as { connection: EventEmitter }).connection;
  let method: AuthMethod | undefined;
  let bound = false;
  con.on("authenticationCleartextPassword", () => {
    method = "password";
  });
  con.on("authenticationMD5Password", () => {
    method = "md5";
  });
  con.on("authenticationSASL", (msg: { mechanisms: string[] }) => {
    method = "scram-sha-256";
    // node-postgres picks SCRAM-SHA-256-PLUS whenever it is offered over TLS (enableChannelBinding).
    bound = tlsUsed() && msg.mechanisms.includes("SCRAM-SHA-256-PLUS");
  });
  con.on("authenticationOk", () => {
    const problem = method ? undefined : authProblem(policy, "none", false);
    if (problem) con.emit("error", new AuthRefusedError(problem));
  });
  (client as unknown as { password: () => string }).password = () => {
    const problem = authProblem(policy, method ?? "none", bound);
    if (problem) throw new AuthRefusedError(problem);
    return password;
  };
}

export class AuthRefusedError extends Error {
  readonly code = "AUTH_REFUSED";
}
