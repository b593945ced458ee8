import { afterEach, describe, expect, it } from "vitest";
import { lookupPublicIp } from "../src/runner/public-ip.js";
import { type IpEmulator, type IpEmulatorOptions, startIpEmulator } from "./emulators/public-ip.js";

// The lookup itself, against IP emulators on loopback standing in for the built-in providers
// (their addresses are documentation ranges: requirePublic is off, as for loopback services).
const opened: IpEmulator[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((e) => e.close()));
});

async function providers(...behaviours: IpEmulatorOptions[]): Promise<string[]> {
  const emulators = await Promise.all(behaviours.map((b) => startIpEmulator(b)));
  opened.push(...emulators);
  return emulators.map((e) => e.url);
}

const agree = (urls: string[]) => lookupPublicIp({ urls, requirePublic: false, policy: "agree", agreeWindowMs: 300, timeoutMs: 3000 });

describe("lookupPublicIp with the built-in providers' policy: two must agree", () => {
  it("uses the address two providers give", async () => {
    const urls = await providers({ answer: "198.51.100.7\n" }, { answer: "198.51.100.7" }, { status: 503 });
    const found = await agree(urls);
    expect(found.ip).toBe("198.51.100.7");
    expect([...found.sources].sort()).toEqual([urls[0], urls[1]].sort());
    expect(found.warning).toBeUndefined();
  });

  it("takes the majority: the address two of three give, not the odd one out", async () => {
    const urls = await providers({ answer: "203.0.113.66" }, { answer: "198.51.100.7", delayMs: 50 }, { answer: "198.51.100.7", delayMs: 100 });
    expect((await agree(urls)).ip).toBe("198.51.100.7");
  });

  it("fails, naming each answer, when the providers disagree", async () => {
    const urls = await providers({ answer: "203.0.113.66" }, { answer: "198.51.100.7" }, { reset: true });
    await expect(agree(urls)).rejects.toThrow(
      /The IP lookup services disagree on the runner's address: .* says (203\.0\.113\.66|198\.51\.100\.7), .* says (203\.0\.113\.66|198\.51\.100\.7)\. .*set `runner-ip`/s,
    );
  });

  it("uses a lone answer with a warning when no second provider answers in the window", async () => {
    const urls = await providers({ answer: "198.51.100.7" }, { status: 503 }, { answer: "203.0.113.66", delayMs: 2000 });
    const found = await agree(urls);
    expect(found.ip).toBe("198.51.100.7");
    expect(found.warning).toMatch(
      /Only http:\/\/127\.0\.0\.1:\d+\/ answered the runner's IP address \(198\.51\.100\.7\); no second lookup service confirmed it:\n.*answered 503/,
    );
  });

  it("fails as before when nobody answers", async () => {
    const urls = await providers({ status: 500 }, { answer: "<html>" });
    await expect(agree(urls)).rejects.toThrow(/Could not detect the runner's public IPv4 address:.*answered 500.*not an IPv4 address/s);
  });
});

describe("lookupPublicIp with the user's own services: the first valid answer", () => {
  it("does not wait for a second opinion", async () => {
    const urls = await providers({ answer: "203.0.113.66" }, { answer: "198.51.100.7", delayMs: 1000 });
    const found = await lookupPublicIp({ urls, requirePublic: false, policy: "first" });
    expect(found).toEqual({ ip: "203.0.113.66", sources: [urls[0]] });
  });
});
