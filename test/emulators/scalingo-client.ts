// A minimal client of the emulated Scalingo API, for tests that check the emulator itself or the
// state the action leaves behind (e.g. the firewall rules after a run).
import type { ScalingoEmulator } from "./scalingo.js";

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** undefined when the body is not JSON (a 204, a plain-text 429) */
  // biome-ignore lint/suspicious/noExplicitAny: tests walk the API's JSON freely and check its shape with toEqual
  json: any;
}

/** A call as Scalingo's Go client makes it; `basic` is the API token, for the exchange. */
export async function call(url: string, options: { method?: string; bearer?: string; basic?: string; body?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { Accept: "application/json", "Content-Type": "application/json" };
  if (options.bearer) headers.Authorization = `Bearer ${options.bearer}`;
  if (options.basic !== undefined) headers.Authorization = `Basic ${Buffer.from(`:${options.basic}`).toString("base64")}`;
  const res = await fetch(url, { method: options.method ?? "GET", headers, body: options.body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {}
  // Every answer carries a request id, errors included: the action prints it.
  if (!/^[0-9a-f-]{36}$/.test(res.headers.get("x-request-id") ?? "")) throw new Error(`no X-Request-Id from ${url}`);
  return { status: res.status, headers: res.headers, text, json };
}

/** The action's path to the firewall: exchange, addon token; then rule helpers. */
export async function login(emu: ScalingoEmulator, apiToken: string, databaseId: string) {
  const jwt: string = (await call(`${emu.authUrl}/v1/tokens/exchange`, { method: "POST", basic: apiToken })).json.token;
  const tokenUrl = `${emu.apiUrl}/v1/apps/${databaseId}/addons/${emu.addonId}/token`;
  const addonToken: string = (await call(tokenUrl, { method: "POST", bearer: jwt })).json.addon.token;
  const rulesUrl = `${emu.dbApiUrl}/api/databases/${emu.addonId}/firewall_rules`;
  const addRule = (cidr: string, label = "test") =>
    call(rulesUrl, { method: "POST", bearer: addonToken, body: JSON.stringify({ type: "custom_range", cidr, label }) });
  const removeRule = (id: string) => call(`${rulesUrl}/${id}`, { method: "DELETE", bearer: addonToken });
  return { jwt, addonToken, rulesUrl, addRule, removeRule };
}
