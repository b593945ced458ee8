// HTTP plumbing of the three emulated Scalingo services: hosting, replies, fault injection and
// rate limiting. The routes themselves live in scalingo.ts.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { serverFor, type TlsFront, urlFor } from "./tls-front.js";

export type Service = "auth" | "api" | "dbapi";

/** `body`: an object is sent as JSON, a string as-is (text/plain unless it parses as JSON). */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Thrown by handlers to answer early (bad credentials, validation errors...). */
export class HttpError extends Error {
  constructor(readonly reply: Reply) {
    super(`HTTP ${reply.status}`);
  }
}

export const fail = (status: number, body: unknown): never => {
  throw new HttpError({ status, body });
};

export function send(res: ServerResponse, reply: Reply, requestId: string): void {
  let payload = "";
  let type = "application/json; charset=utf-8";
  if (typeof reply.body === "string") {
    payload = reply.body;
    if (!isJson(payload)) type = "text/plain; charset=utf-8";
  } else if (reply.body !== undefined) {
    payload = JSON.stringify(reply.body);
  }
  const headers: Record<string, string> = { "X-Request-Id": requestId };
  if (reply.status !== 204) Object.assign(headers, { "Content-Type": type, "Content-Length": String(Buffer.byteLength(payload)) });
  res.writeHead(reply.status, { ...headers, ...reply.headers });
  res.end(reply.status === 204 ? undefined : payload);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export async function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) fail(413, { error: "request body too large" });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Defensive, like the real API: anything but a JSON object is a 400, never a crash. */
export function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail(400, { error: "invalid JSON body" });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(400, { error: "body must be a JSON object" });
  return value as Record<string, unknown>;
}

/**
 * A sliding window per user: at most `perWindow` requests answered in any `windowMs` (one minute,
 * as Scalingo counts). Refused requests are not counted.
 */
export class RateLimiter {
  private readonly hits = new Map<string, number[]>();
  /** How many requests were refused, for tests to prove the limit was reached. */
  refused = 0;

  constructor(
    private readonly perWindow: number,
    private readonly windowMs = 60_000,
  ) {}

  allow(key: string): boolean {
    const now = Date.now();
    const recent = (this.hits.get(key) ?? []).filter((t) => now - t < this.windowMs);
    const allowed = recent.length < this.perWindow;
    if (!allowed) this.refused++;
    if (allowed) recent.push(now);
    this.hits.set(key, recent);
    return allowed;
  }
}

export interface Fault {
  service?: Service;
  method?: string;
  /** matched against the URL path (no query string) */
  path: RegExp;
  /** answer this instead */
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  /** answer after this delay (with passThrough the work is done first, then the answer waits) */
  delayMs?: number;
  /** destroy the socket without answering */
  reset?: boolean;
  /** do the real work, then apply reset/status: "the request succeeded but its answer was lost" */
  passThrough?: boolean;
  /** how many matching requests it applies to (default 1) */
  times?: number;
  /** called with the request's body before a fault that replaces the real work answers (what happens meanwhile) */
  meanwhile?: (body: string) => void | Promise<void>;
}

export class FaultList {
  private readonly faults: { fault: Fault; remaining: number }[] = [];

  add(fault: Fault): void {
    this.faults.push({ fault, remaining: fault.times ?? 1 });
  }

  /** First armed fault matching the request, consumed by this call. */
  take(service: Service, method: string, path: string): Fault | undefined {
    const matches = (fault: Fault) => {
      if (fault.service !== undefined && fault.service !== service) return false;
      if (fault.method !== undefined && fault.method.toUpperCase() !== method) return false;
      fault.path.lastIndex = 0; // a /g or /y regex would otherwise resume where the last test stopped
      return fault.path.test(path);
    };
    const entry = this.faults.find(({ fault, remaining }) => remaining > 0 && matches(fault));
    if (entry) entry.remaining--;
    return entry?.fault;
  }
}

export interface Route {
  service: Service;
  method: string;
  /** matched against the URL path; its groups (URL-decoded) are the handler's params */
  pattern: RegExp;
  handle(params: string[], req: IncomingMessage): Reply | Promise<Reply>;
}

export interface RequestRecord {
  service: string;
  method: string;
  path: string;
  /** 0: the connection was reset by a fault */
  status: number;
  authorization?: string;
}

export interface Hosting {
  faults: FaultList;
  limiter?: RateLimiter;
  /** whose budget a request counts against (default: its Authorization header) */
  rateKey?: (req: IncomingMessage) => string;
  requests: RequestRecord[];
  /** Served over TLS as `<service>.<domain>` instead of plain http on 127.0.0.1. */
  tls?: TlsFront;
}

async function realReply(routes: Route[], hosting: Hosting, service: Service, req: IncomingMessage, path: string): Promise<Reply> {
  try {
    const key = hosting.rateKey?.(req) ?? req.headers.authorization ?? "anonymous";
    // Scalingo's documented answer: plain text, and no Retry-After.
    if (hosting.limiter && !hosting.limiter.allow(key)) return { status: 429, body: "Retry later" };
    for (const route of routes) {
      const match = route.service === service ? route.pattern.exec(path) : null;
      if (match && route.method === req.method) return await route.handle(match.slice(1).map(decodeURIComponent), req);
    }
    return { status: 404, body: { error: "not found" } };
  } catch (error) {
    if (error instanceof HttpError) return error.reply;
    return { status: 500, body: { error: `emulator bug: ${(error as Error).message}` } };
  }
}

async function answer(routes: Route[], hosting: Hosting, service: Service, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? "GET";
  const path = new URL(req.url ?? "/", "http://emulator").pathname;
  const record = (status: number) => hosting.requests.push({ service, method, path, status, authorization: req.headers.authorization });
  const fault = hosting.faults.take(service, method, path);
  // A slow service is slow before it acts, except with passThrough: the work is done at once and
  // only its answer is late (or lost), the case a client cannot tell from a failure.
  if (fault?.delayMs && !fault.passThrough) await sleep(fault.delayMs);
  // A fault that answers by itself (status or reset) replaces the real work, unless passThrough.
  const replaces = fault !== undefined && (fault.reset === true || fault.status !== undefined);
  let reply = !replaces || fault?.passThrough ? await realReply(routes, hosting, service, req, path) : undefined;
  if (fault?.meanwhile && replaces && !fault.passThrough) await fault.meanwhile(await readBody(req));
  if (fault?.delayMs && fault.passThrough) await sleep(fault.delayMs);
  if (fault?.reset) {
    record(0);
    req.socket.destroy();
    return;
  }
  if (fault?.status !== undefined) reply = { status: fault.status, body: fault.body ?? { error: "injected fault" } };
  const final: Reply = { ...(reply as Reply), headers: { ...reply?.headers, ...fault?.headers } };
  record(final.status);
  send(res, final, randomUUID());
}

/** One server per service on 127.0.0.1 (ephemeral ports), each answering its routes. */
export async function serve(routes: Route[], hosting: Hosting): Promise<{ urls: Record<Service, string>; close(): Promise<void> }> {
  const services = ["auth", "api", "dbapi"] as const;
  const servers = services.map((service) =>
    serverFor(hosting.tls, (req, res) => {
      answer(routes, hosting, service, req, res).catch(() => req.socket.destroy());
    }),
  );
  const ports = await Promise.all(
    servers.map(
      (server) =>
        new Promise<number>((resolve, reject) => {
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
        }),
    ),
  );
  const urls = Object.fromEntries(services.map((service, i) => [service, urlFor(hosting.tls, service, ports[i] as number)])) as Record<Service, string>;
  const close = () =>
    Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    ).then(() => {});
  return { urls, close };
}
