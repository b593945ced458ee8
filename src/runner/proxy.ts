import { HttpClient } from "@actions/http-client";
import { getProxyUrl } from "@actions/http-client/lib/proxy";
import { USER_AGENT } from "../constants.js";

// Self-hosted runners often reach the internet through a proxy only. @actions/artifact goes through
// @actions/http-client, which reads HTTPS_PROXY/HTTP_PROXY/NO_PROXY (and always goes direct to
// loopback); the action's own calls (Scalingo, IP lookup) take the same route, decided by the same
// library, so one proxy setting serves every call the step makes.

type Dispatcher = NonNullable<RequestInit["dispatcher"]>;
const client = new HttpClient(USER_AGENT);
/** One dispatcher per proxy, so its connections are reused across calls. */
const dispatchers = new Map<string, Dispatcher>();

/** The dispatcher `fetch` must use for `url`: the proxy @actions/http-client would use, or none (direct). */
export function dispatcherFor(url: string): Dispatcher | undefined {
  const proxy = getProxyUrl(new URL(url));
  if (!proxy) return undefined;
  let dispatcher = dispatchers.get(proxy.href);
  if (!dispatcher) {
    // undici's ProxyAgent (@actions/http-client's own); Node's fetch accepts any undici dispatcher.
    dispatcher = client.getAgentDispatcher(url) as unknown as Dispatcher;
    dispatchers.set(proxy.href, dispatcher);
  }
  return dispatcher;
}

/** fetch, through the proxy the environment sets for `url`. */
export function proxiedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const dispatcher = dispatcherFor(url);
  return fetch(url, dispatcher ? { ...init, dispatcher } : init);
}
