import { BlockList, isIPv4 } from "node:net";
import { ActionError } from "../errors.js";
import { proxiedFetch } from "./proxy.js";

/**
 * Ranges that can never be the runner's address as the database sees it: allowlisting one would
 * open nothing useful (or something dangerous), so an answer in them means a broken provider.
 */
const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, "ipv4");
}

export function isPublicIPv4(ip: string): boolean {
  return isIPv4(ip) && !NOT_PUBLIC.check(ip, "ipv4");
}

export interface LookupOptions {
  urls: string[];
  /** Built-in providers must answer a public IPv4; a user's own service is trusted once it parses. */
  requirePublic: boolean;
  timeoutMs?: number;
}

/** Asks every provider at once; the first valid answer wins and the others are cancelled. */
export async function lookupPublicIp(o: LookupOptions): Promise<{ ip: string; source: string }> {
  const controller = new AbortController();
  const timeout = AbortSignal.timeout(o.timeoutMs ?? 5000);
  const signal = AbortSignal.any([controller.signal, timeout]);
  try {
    return await Promise.any(o.urls.map((url) => askProvider(url, o.requirePublic, signal)));
  } catch (error) {
    const reasons = (error as AggregateError).errors.map((e: Error, i: number) => `${o.urls[i]}: ${e.message}`);
    throw new ActionError(
      "ip-lookup",
      `Could not detect the runner's public IPv4 address:\n${reasons.map((r) => `  - ${r}`).join("\n")}\nSet \`runner-ip\` to the runner's egress address, or \`ip-lookup-urls\` to services that answer it.`,
    );
  } finally {
    controller.abort();
  }
}

async function askProvider(url: string, requirePublic: boolean, signal: AbortSignal): Promise<{ ip: string; source: string }> {
  let res: Response;
  try {
    res = await proxiedFetch(url, { signal, headers: { Accept: "text/plain" } });
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    throw new Error(signal.aborted ? "timed out" : `no answer (${e.cause?.code ?? e.message})`);
  }
  if (!res.ok) throw new Error(`answered ${res.status}`);
  const ip = (await res.text()).trim();
  if (!isIPv4(ip)) throw new Error(`answered "${ip.slice(0, 40)}", not an IPv4 address`);
  if (requirePublic && !isPublicIPv4(ip)) throw new Error(`answered ${ip}, which is not a public address`);
  return { ip, source: url };
}
