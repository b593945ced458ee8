// Lifetimes of the bearer tokens the client holds: the JWT from the token exchange and the
// database-API (addon) token.

/** The Go client exchanges again when less than this is left on the JWT; the addon token gets the same margin. */
export const REFRESH_MARGIN_MS = 5 * 60_000;
/** Scalingo documents about an hour for an addon token; used when the token carries no `exp`. */
export const ADDON_TOKEN_LIFETIME_MS = 60 * 60_000;

export interface Token {
  value: string;
  /** undefined: unknown, the token is kept until the API refuses it */
  expiresAtMs?: number;
}

/** JWT `exp` in milliseconds; the token is only decoded, never verified (the API does that). */
export function jwtExpiryMs(jwt: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
    return typeof payload.exp === "number" ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a token has more than the margin left. */
export function isFresh(token: Token | undefined, nowMs: number): token is Token {
  return token !== undefined && (token.expiresAtMs === undefined || token.expiresAtMs - nowMs > REFRESH_MARGIN_MS);
}
