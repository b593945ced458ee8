import { isIPv4 } from "node:net";

/**
 * Literal loopback only: `localhost`, an IPv4 address in 127.0.0.0/8, or `[::1]`. A name that
 * merely starts with "127." (`127.attacker.example`) is resolved by DNS and can point anywhere.
 * `hostname` is a WHATWG URL's, already normalized (`127.1` becomes `127.0.0.1`).
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  return host === "localhost" || host === "[::1]" || (isIPv4(host) && host.startsWith("127."));
}

/**
 * Why a service URL must not be used, or undefined when it may: tokens travel to these URLs, so
 * plain HTTP is accepted only on literal loopback, where nothing crosses a network.
 */
export function insecureUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `"${value}" is not a URL.`;
  }
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return undefined;
  return `"${value}" must use https:// (plain http is accepted only for localhost, 127.x.x.x and [::1]).`;
}
