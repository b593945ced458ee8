// A forward proxy on loopback, as self-hosted runners sit behind: CONNECT tunnels for https, plain
// forwarding for http. It alone resolves the test's host names (`*.scalingo.test`) to 127.0.0.1,
// so a request that reaches one of them went through it; every request is recorded.
import { createServer, type IncomingMessage, request } from "node:http";
import type { AddressInfo } from "node:net";
import { connect, type Socket } from "node:net";

export interface ProxyRecord {
  /** CONNECT, or the forwarded request's method */
  method: string;
  /** host:port of a tunnel, or the absolute URL of a forwarded request */
  target: string;
}

export interface TestProxy {
  url: string;
  records: ProxyRecord[];
  close(): Promise<void>;
}

/** `names`: host names the proxy resolves to 127.0.0.1; any other host is refused (502). */
export async function startProxy(names: (host: string) => boolean): Promise<TestProxy> {
  const records: ProxyRecord[] = [];
  const sockets = new Set<Socket>();
  const resolve = (host: string) => (names(host) || host === "127.0.0.1" ? "127.0.0.1" : undefined);

  const server = createServer((req, res) => {
    const target = new URL(req.url ?? "");
    records.push({ method: req.method ?? "", target: target.href });
    const address = resolve(target.hostname);
    if (!address || target.protocol !== "http:") {
      res.writeHead(502).end(`proxy: cannot reach ${target.host}`);
      return;
    }
    const upstream = request(
      { host: address, port: target.port || 80, method: req.method, path: target.pathname + target.search, headers: forwardHeaders(req) },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  });

  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    records.push({ method: "CONNECT", target: req.url ?? "" });
    const [host, port] = (req.url ?? "").split(":");
    const address = resolve(host ?? "");
    if (!address) {
      client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n");
      return;
    }
    const upstream = connect(Number(port), address, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => (s === client ? upstream : client).destroy());
    }
  });

  server.listen(0, "127.0.0.1");
  await new Promise((ok, fail) => server.once("listening", ok).once("error", fail));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    records,
    async close() {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

/** The request's headers minus the hop-by-hop ones a proxy consumes. */
function forwardHeaders(req: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !/^(proxy-|connection$|keep-alive$)/i.test(k)) headers[k] = v;
  return headers;
}
