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

export type LookupPolicy = "first" | "agree";

export interface LookupOptions {
  urls: string[];
  /** Built-in providers must answer a public IPv4; a user's own service is trusted once it parses. */
  requirePublic: boolean;
  /**
   * `first`: the first valid answer (the user's own services). `agree`: two providers must give
   * the same address (the built-in ones, any of which could be wrong, hijacked or lying).
   */
  policy?: LookupPolicy;
  timeoutMs?: number;
  /** With `agree`: how long to wait, after the first answer, for a second one. */
  agreeWindowMs?: number;
}

export interface LookupResult {
  ip: string;
  /** Every provider that gave this address. */
  sources: string[];
  /** Said when the address rests on one provider only. */
  warning?: string;
}

type Answer = { ip: string; source: string };

/**
 * Asks every provider at once. `first`: the first valid answer wins. `agree`: the first address two
 * providers give wins; when the window after the first answer closes (or every provider has
 * answered) with a single answer, it is used with a warning; with answers that all differ, the
 * lookup fails: one of them is wrong, and allowlisting the wrong address either opens the
 * database to someone else or never lets the runner in. The others are cancelled.
 */
export async function lookupPublicIp(o: LookupOptions): Promise<LookupResult> {
  const controller = new AbortController();
  const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(o.timeoutMs ?? 5000)]);
  const policy = o.policy ?? "first";
  const answers: Answer[] = [];
  const failures = new Map<string, string>();
  let window: NodeJS.Timeout | undefined;
  try {
    return await new Promise<LookupResult>((resolve, reject) => {
      let pending = o.urls.length;
      const decide = () => {
        clearTimeout(window);
        try {
          resolve(decideAddress(answers, failures, policy));
        } catch (error) {
          reject(error);
        }
      };
      for (const url of o.urls) {
        askProvider(url, o.requirePublic, signal)
          .then((answer) => {
            answers.push(answer);
            if (policy === "first" || agreeing(answers).length >= 2) decide();
            else if (answers.length === 1) window = setTimeout(decide, o.agreeWindowMs ?? 2500);
          })
          .catch((error: Error) => failures.set(url, error.message))
          .finally(() => {
            if (--pending === 0) decide();
          });
      }
    });
  } finally {
    clearTimeout(window);
    controller.abort();
  }
}

/** The answers for the address given most often (the first such on a tie). */
function agreeing(answers: Answer[]): Answer[] {
  let best: Answer[] = [];
  for (const { ip } of answers) {
    const same = answers.filter((a) => a.ip === ip);
    if (same.length > best.length) best = same;
  }
  return best;
}

export function decideAddress(answers: Answer[], failures: Map<string, string>, policy: LookupPolicy): LookupResult {
  const others = [...failures].map(([url, reason]) => `  - ${url}: ${reason}`);
  if (answers.length === 0) {
    throw new ActionError(
      "ip-lookup",
      `Could not detect the runner's public IPv4 address:\n${others.join("\n")}\nSet \`runner-ip\` to the runner's egress address, or \`ip-lookup-urls\` to services that answer it.`,
    );
  }
  if (policy === "first") return { ip: answers[0].ip, sources: [answers[0].source] };
  const agreed = agreeing(answers);
  if (agreed.length >= 2) return { ip: agreed[0].ip, sources: agreed.map((a) => a.source) };
  if (answers.length === 1) {
    const { ip, source } = answers[0];
    return {
      ip,
      sources: [source],
      warning: `Only ${source} answered the runner's IP address (${ip}); no second lookup service confirmed it${others.length ? `:\n${others.join("\n")}` : "."}\nSet \`runner-ip\` if you know the runner's egress address.`,
    };
  }
  throw new ActionError(
    "ip-lookup",
    `The IP lookup services disagree on the runner's address: ${answers.map((a) => `${a.source} says ${a.ip}`).join(", ")}. Allowlisting the wrong one would open the database to someone else: set \`runner-ip\` to the runner's egress address, or \`ip-lookup-urls\` to a service you trust.`,
  );
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
