import { describe, expect, it } from "vitest";
import type { FirewallRule } from "../src/scalingo/client.js";
import { findOwnRule, staleRules } from "../src/scalingo/firewall.js";
import { looksLikeOwnLabel, timedLabel } from "../src/scalingo/rule-label.js";

const base = "scalingo-pg-dump acme/shop run 77/1 job backup";
const now = Date.parse("2026-11-25T12:00:00Z");
const rule = (id: string, label: string, type: FirewallRule["type"] = "custom_range", cidr = "203.0.113.7/32"): FirewallRule => ({ id, type, cidr, label });
const sweep = (maxAgeMs: number) => ({ nowMs: now, maxAgeMs, ownBase: base, repository: "acme/shop" });

describe("rule labels", () => {
  it("append the creation time in UTC, to the second", () => {
    expect(timedLabel(base, new Date("2026-11-25T03:04:05.678Z"))).toBe(`${base} at 2026-11-25T03:04:05Z`);
  });

  it("select only this repository's old rules in the action's format, never users', other repositories' or this job's", () => {
    const rules = [
      rule("old", "scalingo-pg-dump acme/shop run 70/1 job backup at 2026-11-24T10:00:00Z"), // 26 h old
      rule("recent", "scalingo-pg-dump acme/shop run 76/1 job backup at 2026-11-25T06:00:00Z"), // 6 h old
      rule("mine", `${base} at 2026-11-20T00:00:00Z`), // this very job: never stale
      rule("user", "office VPN"),
      rule("other-repo", "scalingo-pg-dump acme/other run 70/1 job backup at 2026-11-20T10:00:00Z"),
      rule("prefix-repo", "scalingo-pg-dump acme/shop2 run 70/1 job backup at 2026-11-20T10:00:00Z"),
      rule("lookalike", "scalingo-pg-dump but edited by hand at 2026-01-01T00:00:00Z"),
      rule("managed", "scalingo-pg-dump acme/shop run 1/1 job b at 2020-01-01T00:00:00Z", "managed_range"),
    ];
    expect(staleRules(rules, sweep(12 * 3600_000)).map((r) => r.id)).toEqual(["old"]);
    expect(staleRules(rules, sweep(0))).toEqual([]);
  });

  it("treat the repository name literally", () => {
    const rules = [rule("dot", "scalingo-pg-dump acmeXshop run 1/1 job b at 2020-01-01T00:00:00Z")];
    expect(staleRules(rules, { ...sweep(3600_000), repository: "acme.shop" })).toEqual([]);
  });

  it("find this job's rule by its exact label and address", () => {
    const label = timedLabel(base, new Date(now));
    const rules = [rule("a", `${label}x`), rule("other-ip", label, "custom_range", "198.51.100.9/32"), rule("b", label)];
    expect(findOwnRule(rules, label, "203.0.113.7/32")?.id).toBe("b");
    expect(findOwnRule([rule("a", base)], label, "203.0.113.7/32")).toBeUndefined();
  });

  it("recognise the default format, whatever the repository", () => {
    expect(looksLikeOwnLabel("scalingo-pg-dump acme/other run 1/2 job backup")).toBe(true);
    expect(looksLikeOwnLabel("nightly backup")).toBe(false);
    expect(looksLikeOwnLabel("scalingo-pg-dump nightly")).toBe(false);
  });
});
