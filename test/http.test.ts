import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { isPublicIPv4 } from "../src/runner/public-ip.js";
import { apiMessage, backoffMs, DEFAULT_RETRY, requestJson, retryAfterMs } from "../src/scalingo/http.js";
import { jwtExpiryMs } from "../src/scalingo/tokens.js";

describe("HTTP helpers", () => {
  it("read every error body shape Scalingo sends, and plain text", () => {
    expect(apiMessage('{"error":"invalid token"}')).toBe("invalid token");
    expect(apiMessage('{"resource":"app","error":"not found"}')).toBe("not found");
    expect(apiMessage('{"error":"forbidden","code":"no-access"}')).toBe("forbidden (no-access)");
    expect(apiMessage('{"errors":{"cidr":["is invalid","has already been taken"]}}')).toBe("cidr is invalid, has already been taken");
    expect(apiMessage("Retry later\n")).toBe("Retry later");
  });

  it("honour Retry-After in seconds or as a date", () => {
    expect(retryAfterMs("3", 0)).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(retryAfterMs(null, 0)).toBeUndefined();
    expect(retryAfterMs("soon", 0)).toBeUndefined();
  });

  it("back off exponentially with full jitter, capped", () => {
    expect(backoffMs(0, DEFAULT_RETRY, () => 1)).toBe(500);
    expect(backoffMs(3, DEFAULT_RETRY, () => 1)).toBe(4000);
    expect(backoffMs(20, DEFAULT_RETRY, () => 1)).toBe(10_000);
    expect(backoffMs(3, DEFAULT_RETRY, () => 0)).toBe(0);
  });

  it("after Scalingo's 429 without Retry-After, keep trying across the whole minute, even past a shorter deadline", async () => {
    // A loopback server that always answers the documented 429; time is a fake clock's.
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.writeHead(429, { "Content-Type": "text/plain" }).end("Retry later");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    let now = 0;
    const clock = {
      now: () => now,
      sleep: async (ms: number) => {
        now += ms;
      },
    };
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/regions`;
      const call = requestJson({ method: "GET", url, authorization: "Bearer x", expect: [200] }, clock, { ...DEFAULT_RETRY, deadlineMs: 5_000 });
      await expect(call).rejects.toThrow(/answered 429: Retry later/);
      expect(now).toBeGreaterThanOrEqual(60_000); // an attempt was made after the window had passed
      expect(hits).toBeGreaterThan(DEFAULT_RETRY.attempts); // 429s do not use up the attempts
    } finally {
      server.close();
    }
  });

  it("read a JWT's expiry without verifying it", () => {
    const jwt = `e30.${Buffer.from(JSON.stringify({ exp: 1_800_000_000 })).toString("base64url")}.sig`;
    expect(jwtExpiryMs(jwt)).toBe(1_800_000_000_000);
    expect(jwtExpiryMs("not a jwt")).toBeUndefined();
  });

  it("accept only public IPv4 answers from the built-in providers", () => {
    expect(isPublicIPv4("203.0.114.9")).toBe(true);
    expect(isPublicIPv4("20.42.1.7")).toBe(true);
    for (const ip of [
      "10.1.2.3",
      "172.20.0.1",
      "192.168.1.1",
      "127.0.0.1",
      "100.64.0.1",
      "169.254.1.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "203.0.113.7",
      "::1",
      "1.2.3",
      "<html>",
    ]) {
      expect(isPublicIPv4(ip), ip).toBe(false);
    }
  });
});
