// Emulator of the public-IP lookup services (api.ipify.org, checkip.amazonaws.com, ...): GET answers
// the caller's IPv4 as plain text. checkip.amazonaws.com ends it with a newline and ipify does not,
// so the default answer keeps the newline: the action must trim either way.
import type { ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { serverFor, type TlsFront, urlFor } from "./tls-front.js";

export interface IpEmulatorOptions {
  /** The body to send, verbatim. Default: the caller's remote address ("127.0.0.1") plus "\n". */
  answer?: string;
  status?: number; // default 200
  delayMs?: number; // wait before answering (a slow provider; the action should not wait for it)
  reset?: boolean; // drop the connection without answering (a provider that is down)
}

export interface IpEmulator {
  url: string;
  hits: number;
  /** Replaces the behaviour for the next requests; `set({})` restores the defaults. */
  set(o: IpEmulatorOptions): void;
  close(): Promise<void>;
}

/** `tls`: served over https as `ip.<domain>` instead of plain http on 127.0.0.1. */
export async function startIpEmulator(initial: IpEmulatorOptions = {}, tls?: TlsFront): Promise<IpEmulator> {
  let options = initial;
  const pending = new Set<NodeJS.Timeout>();

  const respond = (res: ServerResponse, remote: string, o: IpEmulatorOptions): void => {
    if (o.reset) {
      res.socket?.resetAndDestroy();
      return;
    }
    const body = o.answer ?? `${remote}\n`;
    res.writeHead(o.status ?? 200, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) });
    res.end(body);
  };

  const server = serverFor(tls, (req, res) => {
    emulator.hits++;
    const o = options; // the options in force when the request arrived
    // IPv4 clients show up as such on an IPv4 listener; strip a mapped prefix all the same.
    const remote = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET" }).end();
      return;
    }
    if (!o.delayMs) {
      respond(res, remote, o);
      return;
    }
    const timer = setTimeout(() => {
      pending.delete(timer);
      if (!res.destroyed) respond(res, remote, o);
    }, o.delayMs);
    pending.add(timer);
    // A client that gives up (the action's timeout, or another provider won) frees the timer.
    res.on("close", () => {
      clearTimeout(timer);
      pending.delete(timer);
    });
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve, reject) => server.once("listening", resolve).once("error", reject));

  const emulator: IpEmulator = {
    url: `${urlFor(tls, "ip", (server.address() as AddressInfo).port)}/`,
    hits: 0,
    set(o) {
      options = o;
    },
    async close() {
      for (const t of pending) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return emulator;
}
