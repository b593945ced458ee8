import type { Agent } from "node:http";
import { HttpClient } from "@actions/http-client";
import { getProxyUrl } from "@actions/http-client/lib/proxy";
import { S3Client } from "@aws-sdk/client-s3";
import { USER_AGENT } from "../constants.js";
import type { S3Location } from "./s3-config.js";

/**
 * The S3 client for the destination: static credentials from the config (nothing else is looked
 * up: no profile file, no instance metadata), the SDK's own retries, and the runner's proxy.
 *
 * The SDK ignores HTTPS_PROXY/NO_PROXY. The route is decided as for every other call of the step
 * (src/runner/proxy.ts): by @actions/http-client, whose agent tunnels through the proxy with
 * CONNECT; loopback and NO_PROXY hosts go direct.
 */
export function createS3Client(s3: S3Location): S3Client {
  const agent = proxyAgentFor(serviceUrl(s3));
  return new S3Client({
    region: s3.region,
    credentials: s3.credentials,
    ...(s3.endpoint ? { endpoint: s3.endpoint, forcePathStyle: true } : { followRegionRedirects: true }),
    // The handler's options as a plain object: the SDK builds its own NodeHttpHandler with them.
    ...(agent ? { requestHandler: { httpAgent: agent, httpsAgent: agent } } : {}),
    customUserAgent: USER_AGENT,
  });
}

/** The URL the client talks to: the endpoint given, or AWS's virtual-hosted one for the bucket. */
export function serviceUrl(s3: Pick<S3Location, "endpoint" | "bucket" | "region">): string {
  return s3.endpoint ?? `https://${s3.bucket}.s3.${s3.region}.amazonaws.com`;
}

/**
 * The tunnelling agent @actions/http-client builds for `url`'s proxy. The SDK takes an agent
 * without destroy() for agent *options* and would build a direct one from it: tunnel's agent has
 * none, so it gets one that closes its sockets (S3Client.destroy() calls it).
 */
function proxyAgentFor(url: string): Agent | undefined {
  if (!getProxyUrl(new URL(url))) return undefined;
  const agent = new HttpClient(USER_AGENT, [], { keepAlive: true }).getAgent(url);
  if (typeof agent.destroy !== "function") {
    const sockets = (agent as { sockets?: unknown }).sockets;
    agent.destroy = () => {
      if (Array.isArray(sockets)) for (const socket of sockets) (socket as { destroy?: () => void }).destroy?.();
    };
  }
  return agent;
}
