// Serving an emulator over TLS under a host name, as the real services are reached: a certificate
// from the test CA (test/support/test-ca.ts) for `<service>.<domain>`, and URLs that use that name
// instead of 127.0.0.1. Nothing resolves such a name but the test proxy (test/support/proxy.ts).
import { createServer as createHttpServer, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";

export interface TlsFront {
  /** PEM certificate and key valid for `<service>.<domain>` of every service served */
  cert: string;
  key: string;
  domain: string;
}

export function serverFor(tls: TlsFront | undefined, listener: RequestListener): Server {
  return tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, listener) : createHttpServer(listener);
}

/** The URL a client uses: `https://<service>.<domain>:<port>` behind TLS, else plain http on loopback. */
export function urlFor(tls: TlsFront | undefined, service: string, port: number): string {
  return tls ? `https://${service}.${tls.domain}:${port}` : `http://127.0.0.1:${port}`;
}
