import { USER_AGENT } from "./constants.js";
import { ScalingoApiError } from "./errors.js";

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

/** A JSON call with a timeout per attempt and capped, jittered retries within a deadline. */
export async function requestJson<T>(req: ApiRequest, clock: Clock = realClock, policy: RetryPolicy = DEFAULT_RETRY): Promise<ApiResponse<T>> {
  const started = clock.now();
  for (let attempt = 0; ; attempt++) {
    let failure: ScalingoApiError;
    let waitMs = backoffMs(attempt, policy);
    try {
      const res = await fetch(req.url, {
        method: req.method,
        headers: {
          Accept: "application/json",
          "Content-Type": "application/json",
          "User-Agent": USER_AGENT,
          Authorization: req.authorization,
        },
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal: AbortSignal.timeout(policy.requestTimeoutMs),
      });
      const text = await res.text();
      const requestId = res.headers.get("x-request-id") ?? undefined;
      if (req.expect.includes(res.status)) {
        return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, requestId };
      }
      const retryable = RETRYABLE_STATUS.has(res.status) && (res.status === 429 || req.retryLostAnswer !== false);
      failure = new ScalingoApiError(
        `${describe(req)} answered ${res.status}: ${apiMessage(text) || res.statusText}${requestId ? ` (request id ${requestId})` : ""}`,
        res.status,
        retryable,
      );
      waitMs = Math.max(waitMs, retryAfterMs(res.headers.get("retry-after"), clock.now()) ?? 0);
    } catch (error) {
      // fetch rejects only when no answer arrived: reset, refused, DNS, timeout.
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      failure = new ScalingoApiError(`${describe(req)} got no answer (${cause})`, undefined, req.retryLostAnswer !== false);
    }
    const outOfTime = clock.now() - started + waitMs > policy.deadlineMs;
    if (!failure.retryable || attempt + 1 >= policy.attempts || outOfTime) throw failure;
    await clock.sleep(waitMs);
  }
}
