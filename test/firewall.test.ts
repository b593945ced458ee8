import { describe, expect, it } from "vitest";
import type { FirewallRule } from "../src/scalingo/client.js";
import { findOwnRule, staleRules, timedLabel } from "../src/scalingo/firewall.js";

const base = "scalingo-pg-dump acme/shop run 77/1 job backup";
const now = Date.parse("2026-11-25T12:00:00Z");
const rule = (id: string, label: string, type: FirewallRule["type"] = "custom_range"): FirewallRule => ({ id, type, cidr: "203.0.113.7/32", label });

describe("rule labels", () => {
  it("append the creation time in UTC, to the second", () => {
    expect(timedLabel(base, new Date("2026-11-25T03:04:05.678Z"))).toBe(`${base} at 2026-11-25T03:04:05Z`);
  });

  it("select only this action's old rules, never users' or this job's", () => {
    const rules = [
      rule("old", "scalingo-pg-dump acme/shop run 70/1 job backup at 2026-11-24T10:00:00Z"), // 26 h old
      rule("recent", "scalingo-pg-dump acme/shop run 76/1 job backup at 2026-11-25T06:00:00Z"), // 6 h old
      rule("mine", `${base} at 2026-11-20T00:00:00Z`), // this very job: never stale
      rule("user", "office VPN"),
      rule("lookalike", "scalingo-pg-dump but edited by hand at 2026-01-01T00:00:00Z"),
      rule("managed", "scalingo-pg-dump acme/shop run 1/1 job b at 2020-01-01T00:00:00Z", "managed_range"),
    ];
    expect(staleRules(rules, now, 12 * 3600_000, base).map((r) => r.id)).toEqual(["old"]);
    expect(staleRules(rules, now, 0, base)).toEqual([]);
  });

  it("find this job's rule by its exact label", () => {
    const label = timedLabel(base, new Date(now));
    expect(findOwnRule([rule("a", `${label}x`), rule("b", label)], label)?.id).toBe("b");
    expect(findOwnRule([rule("a", base)], label)).toBeUndefined();
  });
});
