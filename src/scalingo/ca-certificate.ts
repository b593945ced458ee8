import { X509Certificate } from "node:crypto";
import { USER_AGENT } from "../constants.js";
import { ActionError, errorMessage } from "../errors.js";
import { proxiedFetch } from "../runner/proxy.js";

// `ssl-root-cert: scalingo`: the region's database CA. Scalingo's documentation publishes it per
// region at `https://db-api.<region>.scalingo.com/api/ca_certificate` (osc-fr1, osc-secnum-fr1),
// with no credentials; its JavaScript client builds the same path on the regional API host. The
// host is taken from the regions list (`database_api`, else `api`), which is also how the
// emulator serves it. Whether Dedicated Resources certificates chain to it is not documented:
// when one does not, the probe fails before any password is sent, and says where the CA came from.

export interface ScalingoCa {
  pem: string;
  url: string;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The CA certificates in a PEM answer; an answer holding none, or no CA, is an error naming the URL. */
export function caCertificatesIn(text: string, url: string): string {
  const blocks = text.match(PEM_BLOCK) ?? [];
  const certificates = blocks.flatMap((block) => {
    try {
      return [new X509Certificate(block)];
    } catch {
      return [];
    }
  });
  if (!certificates.some((c) => c.ca)) {
    throw new ActionError(
      "scalingo",
      `${url} answered no CA certificate (${blocks.length} PEM certificate block(s), none a CA). Set \`ssl-root-cert\` to the CA yourself.`,
    );
  }
  return `${blocks.join("\n")}\n`;
}

/** Fetched over HTTPS (verified by Node against the runner's roots), through the runner's proxy. */
export async function fetchScalingoCa(region: { api: string; database_api?: string }, timeoutMs = 30_000): Promise<ScalingoCa> {
  const url = `${region.database_api ?? region.api}/api/ca_certificate`;
  let text: string;
  try {
    const res = await proxiedFetch(url, { headers: { "User-Agent": USER_AGENT }, signal: AbortSignal.timeout(timeoutMs) });
    text = await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status}${res.headers.get("x-request-id") ? `, request id ${res.headers.get("x-request-id")}` : ""}`);
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    throw new ActionError(
      "scalingo",
      `Could not download Scalingo's database CA from ${url} (${errorMessage(error)}${cause ? `, ${cause}` : ""}) for \`ssl-root-cert: scalingo\`. Set \`ssl-root-cert\` to the CA's PEM text instead.`,
    );
  }
  return { pem: caCertificatesIn(text, url), url };
}
