import { describe, expect, it } from "vitest";
import { isPublicIPv4 } from "../src/runner/public-ip.js";
import { jwtExpiryMs } from "../src/scalingo/client.js";
import { apiMessage, backoffMs, DEFAULT_RETRY, retryAfterMs } from "../src/scalingo/http.js";

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
