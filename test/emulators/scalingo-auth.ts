// Credentials of the emulated Scalingo services: the API token exchange (Basic), and the bearer
// tokens it hands out (JWT for auth/regional API, addon token for the database API).
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { fail } from "./scalingo-http.js";

export function basicCredentials(req: IncomingMessage): { user: string; password: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function bearerToken(req: IncomingMessage): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/**
 * Issues well-formed but unsigned JWTs and remembers them: only tokens this emulator issued are
 * accepted, and only until their exact expiry (the `exp` claim is rounded down to the second).
 */
export class TokenIssuer {
  private readonly expiries = new Map<string, { expiresAt: number; subject: string }>();

  constructor(private readonly lifetimeSeconds: number) {}

  issue(subject: string): string {
    const now = Date.now();
    const expiresAt = now + this.lifetimeSeconds * 1000;
    const claims = { exp: Math.floor(expiresAt / 1000), iat: Math.floor(now / 1000), sub: subject };
    // A random "signature" keeps two tokens issued in the same second distinct.
    const token = `${base64url({ alg: "HS512", typ: "JWT" })}.${base64url(claims)}.${randomBytes(32).toString("base64url")}`;
    this.expiries.set(token, { expiresAt, subject });
    return token;
  }

  /** Whether this issuer issued the token, expired or not. */
  knows(token: string): boolean {
    return this.expiries.has(token);
  }

  /** The token's subject, or a 401 (or `expiredStatus` once expired) in Scalingo's `{"error": ...}` form. */
  verify(token: string | undefined, expiredStatus = 401): string {
    const known = token === undefined ? undefined : this.expiries.get(token);
    if (!known) return fail(401, { error: "You are not authorized to do this operation" });
    if (Date.now() >= known.expiresAt) return fail(expiredStatus, { error: "token expired" });
    return known.subject;
  }
}
