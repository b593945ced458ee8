import { USER_AGENT } from "../constants.js";
import { ScalingoApiError } from "../errors.js";
import { proxiedFetch } from "../runner/proxy.js";

/** What a call needs from the outside world; tests pass a fake clock, production the real one. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}
export const realClock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** No new attempt starts after this long since the first one. */
  deadlineMs: number;
  requestTimeoutMs: number;
}
export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 500, maxDelayMs: 10_000, deadlineMs: 90_000, requestTimeoutMs: 30_000 };

export interface ApiRequest {
  method: "GET" | "POST" | "DELETE";
  url: string;
  authorization: string;
  body?: unknown;
  /** Statuses that mean success for this call. */
  expect: number[];
  /**
   * Whether a lost answer may be retried blindly. A POST that creates something is not: the
   * caller decides (the firewall module lists the rules first).
   */
  retryLostAnswer?: boolean;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  requestId?: string;
  /** `METHOD /path`, for errors about the answer (never a token). */
  call: string;
}

/** Full jitter (AWS architecture blog): spreads retries of many runners hitting the same API. */
export function backoffMs(attempt: number, policy: RetryPolicy, random = Math.random): number {
  return Math.round(random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt));
}

/** `Retry-After` is either seconds or an HTTP date. */
export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The API's own words from an error body, whichever of its shapes it is (or plain text). */
export function apiMessage(text: string): string {
  try {
    const json = JSON.parse(text);
    if (typeof json?.error === "string") return json.code ? `${json.error} (${json.code})` : json.error;
    if (json?.errors && typeof json.errors === "object") {
      return Object.entries(json.errors)
        .map(([field, messages]) => `${field} ${Array.isArray(messages) ? messages.join(", ") : String(messages)}`)
        .join("; ");
    }
  } catch {
    // not JSON: a proxy page or a plain-text 429 ("Retry later")
  }
  return text.trim().slice(0, 200);
}

function describe(req: ApiRequest): string {
  return `${req.method} ${new URL(req.url).pathname}`;
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/** No answer, a 5xx the API may not give next time, or a rate limit: worth another try once it is safe. */
export function isTransient(error: ScalingoApiError): boolean {
  return error.status === undefined || RETRYABLE_STATUS.has(error.status);
}

/** One attempt: the parsed answer, or the failure with whether another attempt may help. */
async function attemptOnce<T>(
  req: ApiRequest,
  policy: RetryPolicy,
  clock: Clock,
): Promise<ApiResponse<T> | { failure: ScalingoApiError; retryAfterMs?: number }> {
  let res: Response;
  let text: string;
  try {
    res = await proxiedFetch(req.url, {
      method: req.method,
      headers: { Accept: "application/json", "Content-Type": "application/json", "User-Agent": USER_AGENT, Authorization: req.authorization },
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      signal: AbortSignal.timeout(policy.requestTimeoutMs),
    });
    text = await res.text();
  } catch (error) {
    // No (complete) answer arrived: reset, refused, DNS, timeout. The request may have been applied.
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    return { failure: new ScalingoApiError(`${describe(req)} got no answer (${cause})`, undefined, req.retryLostAnswer !== false) };
  }
  const requestId = res.headers.get("x-request-id") ?? undefined;
  const where = requestId ? ` (request id ${requestId})` : "";
  if (!req.expect.includes(res.status)) {
    const retryable = RETRYABLE_STATUS.has(res.status) && (res.status === 429 || req.retryLostAnswer !== false);
    const failure = new ScalingoApiError(`${describe(req)} answered ${res.status}: ${apiMessage(text) || res.statusText}${where}`, res.status, retryable);
    return { failure, retryAfterMs: retryAfterMs(res.headers.get("retry-after"), clock.now()) };
  }
  try {
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, requestId, call: describe(req) };
  } catch {
    // A proxy's HTML page with a success status: not the API talking, and not worth a retry.
    return { failure: new ScalingoApiError(`${describe(req)} answered ${res.status} with a body that is not JSON${where}`, res.status) };
  }
}

/**
 * Scalingo allows about 60 requests a minute and its documented 429 is plain text "Retry later",
 * without Retry-After: the refused request can only succeed once the window it was counted in has
 * passed. So after such a 429 the call keeps trying for at least this long.
 */
export const RATE_LIMIT_WINDOW_MS = 60_000;

/**
 * How long a call may keep trying: the policy's deadline, extended after a 429 without
 * Retry-After until one attempt can land after a whole rate-limit window.
 */
export function callDeadline(startedMs: number, policy: RetryPolicy, rateLimitedSinceMs?: number): number {
  const deadline = startedMs + policy.deadlineMs;
  if (rateLimitedSinceMs === undefined) return deadline;
  return Math.max(deadline, rateLimitedSinceMs + RATE_LIMIT_WINDOW_MS + policy.maxDelayMs);
}

/**
 * A JSON call with a timeout per attempt and capped, jittered retries within a deadline. A 429
 * does not use up attempts (the request was not processed); it waits as Retry-After says, or,
 * without it, keeps backing off across the whole window (see callDeadline).
 */
export async function requestJson<T>(
  req: ApiRequest,
  clock: Clock = realClock,
  policy: RetryPolicy = DEFAULT_RETRY,
  debug: (message: string) => void = () => undefined,
): Promise<ApiResponse<T>> {
  const started = clock.now();
  let rateLimitedSince: number | undefined;
  let failures = 0;
  for (let attempt = 0; ; attempt++) {
    const sent = clock.now();
    const result = await attemptOnce<T>(req, policy, clock);
    if (!("failure" in result)) {
      debug(`${describe(req)}: ${result.status}${result.requestId ? `, request id ${result.requestId}` : ""}, ${clock.now() - sent} ms`);
      return result;
    }
    const limited = result.failure.status === 429;
    if (limited && result.retryAfterMs === undefined) rateLimitedSince ??= clock.now();
    if (!limited) failures++;
    const waitMs = Math.max(backoffMs(attempt, policy), result.retryAfterMs ?? 0);
    const outOfTime = clock.now() + waitMs > callDeadline(started, policy, rateLimitedSince);
    if (!result.failure.retryable || failures >= policy.attempts || outOfTime) throw result.failure;
    debug(`${result.failure.message}; retrying in ${waitMs} ms`);
    await clock.sleep(waitMs);
  }
}
