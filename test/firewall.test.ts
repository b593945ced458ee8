import { describe, expect, it } from "vitest";
import type { FirewallRule } from "../src/scalingo/client.js";
import { findOwnRule, staleRules } from "../src/scalingo/firewall.js";
import {
  defaultRuleLabel,
  followsLabelRule,
  isOwnLabel,
  LABEL_RULE,
  looksLikeOwnLabel,
  newLabelToken,
  parseOwnLabel,
  repositoryTag,
} from "../src/scalingo/rule-label.js";

const now = Date.parse("2026-11-25T12:00:00Z");
const rule = (id: string, label: string, type: FirewallRule["type"] = "custom_range", cidr = "203.0.113.7/32"): FirewallRule => ({ id, type, cidr, label });
const sweep = (maxAgeMs: number) => ({ nowMs: now, maxAgeMs, repository: "acme/shop" });
const run = { runId: "12345678901", attempt: "2", job: "backup" };
const labelAt = (iso: string, repository = "acme/shop", token = "abcdefgh") => defaultRuleLabel({ token, repository, at: new Date(iso), ...run });

describe("the default rule label", () => {
  it("keeps to the label rule the action assumes, however long the repository and job names", () => {
    const long = defaultRuleLabel({
      token: "k3x9f2qa",
      repository: `${"a".repeat(39)}/${"b".repeat(100)}`,
      at: new Date("2026-12-05T03:17:42.123Z"),
      runId: "12345678901",
      attempt: "3",
      job: `${"nightly-backup:".repeat(20)}[leg (eu, 17)]`,
    });
    expect(long.length).toBeLessThanOrEqual(64);
    expect(followsLabelRule(long)).toBe(true);
    expect(long).toMatch(/^scalingo-pg-dump k3x9f2qa [0-9a-f]{8} 20261205T0317Z 12345678901-3$/);
    expect(defaultRuleLabel({ token: "k3x9f2qa", repository: "a/b", at: new Date(0), runId: "7", attempt: "1", job: "db:eu" })).toMatch(/ 7-1 db_eu$/);
    expect(followsLabelRule("scalingo-pg-dump acme/shop run 1/1 job b at 2026-12-05T03:17:00Z")).toBe(false); // today's: slash, colons
  });

  it("starts with a fresh random token (two matrix legs in the same second differ), lower case", () => {
    const tokens = new Set(Array.from({ length: 200 }, () => newLabelToken()));
    expect(tokens.size).toBe(200);
    for (const t of tokens) expect(t).toMatch(/^[a-z2-7]{8}$/);
    const at = "2026-12-05T03:17:00Z";
    expect(labelAt(at, "acme/shop", "aaaaaaaa")).not.toBe(labelAt(at, "acme/shop", "bbbbbbbb"));
  });

  it("is recognised per repository, in the new format and the old one, whatever the case", () => {
    const label = labelAt("2026-12-05T03:17:00Z");
    expect(parseOwnLabel(label)?.isRepository("acme/shop")).toBe(true);
    expect(parseOwnLabel(label)?.isRepository("acme/shop2")).toBe(false);
    expect(parseOwnLabel(label.toUpperCase())?.isRepository("acme/shop")).toBe(true);
    expect(parseOwnLabel(label.toUpperCase())?.token).toBe("abcdefgh");
    expect(parseOwnLabel(label)?.createdAtMs).toBe(Date.parse("2026-12-05T03:17:00Z"));
    expect(repositoryTag("Acme/Shop")).toBe(repositoryTag("acme/shop"));
    const old = parseOwnLabel("scalingo-pg-dump acme/shop run 70/1 job backup at 2026-11-24T10:00:00Z");
    expect(old?.isRepository("acme/shop")).toBe(true);
    expect(old?.createdAtMs).toBe(Date.parse("2026-11-24T10:00:00Z"));
    expect(looksLikeOwnLabel("scalingo-pg-dump acme/other run 1/2 job backup")).toBe(true);
    expect(looksLikeOwnLabel(labelAt("2026-12-05T03:17:00Z", "x/y"))).toBe(true);
    expect(looksLikeOwnLabel("nightly backup")).toBe(false);
    expect(looksLikeOwnLabel("scalingo-pg-dump nightly")).toBe(false);
  });
});

describe("the label rule and the label's format, kept across versions", () => {
  it("the label rule: at most 64 characters of letters, digits, space, dot, dash and underscore", () => {
    expect(followsLabelRule("a".repeat(64))).toBe(true);
    expect(followsLabelRule("a".repeat(65))).toBe(false);
    expect(followsLabelRule("nightly backup_eu-1.2")).toBe(true);
    expect(followsLabelRule("nightly/backup")).toBe(false);
    expect(LABEL_RULE).toBe("at most 64 characters, only letters, digits, space, dot, dash and underscore");
  });

  it("the repository tag is the one earlier versions wrote (their stale rules must still be found), whatever the case", () => {
    // sha256("acme/shop"), first 8 hex digits: a change here orphans every rule written before it.
    expect(repositoryTag("acme/shop")).toBe("d21b2cdf");
    expect(repositoryTag("ACME/Shop")).toBe("d21b2cdf");
  });

  it("the old format is recognised whatever the case Scalingo gives it back in", () => {
    const old = parseOwnLabel("SCALINGO-PG-DUMP ACME/SHOP RUN 70/1 JOB BACKUP AT 2026-11-24T10:00:00Z");
    expect(old?.isRepository("acme/shop")).toBe(true);
    expect(old?.createdAtMs).toBe(Date.parse("2026-11-24T10:00:00Z"));
    expect(parseOwnLabel("scalingo-pg-dump acme/shop run 70/1 job backup")?.createdAtMs).toBeUndefined();
  });

  it("a listed rule without a label is nobody's; a user's label matches but for case and surrounding spaces", () => {
    expect(isOwnLabel(undefined, { label: "nightly backup" })).toBe(false);
    expect(isOwnLabel(undefined, { label: "x", token: "abcdefgh" })).toBe(false);
    expect(isOwnLabel("  Nightly Backup ", { label: "nightly backup" })).toBe(true);
    expect(isOwnLabel("nightly backup", { label: " Nightly Backup  " })).toBe(true);
    expect(isOwnLabel("nightly backups", { label: "nightly backup" })).toBe(false);
    expect(findOwnRule([{ id: "managed", type: "custom_range", cidr: "203.0.113.7/32" }], { label: "", token: "abcdefgh" }, "203.0.113.7/32")).toBeUndefined();
  });
});

describe("the stale sweep", () => {
  it("selects only this repository's old rules in either format, never users', other repositories' or managed ones", () => {
    const rules = [
      rule("old", "scalingo-pg-dump acme/shop run 70/1 job backup at 2026-11-24T10:00:00Z"), // 26 h old
      rule("old-new-format", labelAt("2026-11-24T10:00:00Z")),
      rule("old-normalised", labelAt("2026-11-24T10:00:00Z", "acme/shop", "qqqqqqqq").toUpperCase()),
      rule("recent", "scalingo-pg-dump acme/shop run 76/1 job backup at 2026-11-25T06:00:00Z"), // 6 h old
      rule("recent-new-format", labelAt("2026-11-25T06:00:00Z")),
      rule("user", "office VPN"),
      rule("other-repo", "scalingo-pg-dump acme/other run 70/1 job backup at 2026-11-20T10:00:00Z"),
      rule("other-repo-new-format", labelAt("2026-11-20T10:00:00Z", "acme/other")),
      rule("prefix-repo", "scalingo-pg-dump acme/shop2 run 70/1 job backup at 2026-11-20T10:00:00Z"),
      rule("lookalike", "scalingo-pg-dump but edited by hand at 2026-01-01T00:00:00Z"),
      rule("managed", "scalingo-pg-dump acme/shop run 1/1 job b at 2020-01-01T00:00:00Z", "managed_range"),
    ];
    expect(staleRules(rules, sweep(12 * 3600_000)).map((r) => r.id)).toEqual(["old", "old-new-format", "old-normalised"]);
    expect(staleRules(rules, sweep(0))).toEqual([]);
  });

  it("a rule exactly as old as the limit stays; a second older, it goes", () => {
    const rules = [rule("r", labelAt("2026-11-25T00:00:00Z"))];
    const limit = now - Date.parse("2026-11-25T00:00:00Z");
    expect(staleRules(rules, sweep(limit))).toEqual([]);
    expect(staleRules(rules, sweep(limit - 1000)).map((r) => r.id)).toEqual(["r"]);
  });

  it("never this job's own rule (its token), however old; another token of the repository's is stale", () => {
    const rules = [rule("mine", labelAt("2026-11-20T00:00:00Z", "acme/shop", "mytokenx")), rule("other", labelAt("2026-11-20T00:00:00Z"))];
    expect(staleRules(rules, { ...sweep(3600_000), ownToken: "mytokenx" }).map((r) => r.id)).toEqual(["other"]);
    expect(staleRules(rules, sweep(3600_000)).map((r) => r.id)).toEqual(["mine", "other"]);
  });

  it("treats the repository name literally", () => {
    const rules = [rule("dot", "scalingo-pg-dump acmeXshop run 1/1 job b at 2020-01-01T00:00:00Z")];
    expect(staleRules(rules, { ...sweep(3600_000), repository: "acme.shop" })).toEqual([]);
  });
});

describe("this job's rule", () => {
  it("is found by its token AND address, whatever Scalingo did to the rest of the label", () => {
    const label = labelAt("2026-11-25T12:00:00Z", "acme/shop", "mytokenx");
    const own = { label, token: "mytokenx" };
    const rules = [
      rule("other-ip", label, "custom_range", "198.51.100.9/32"),
      rule("sibling", labelAt("2026-11-25T12:00:00Z")),
      rule("b", label.slice(0, 30).toUpperCase()),
    ];
    expect(findOwnRule(rules, own, "203.0.113.7/32")?.id).toBe("b");
  });

  it("with a user's label (no token): the label but for case, and the address", () => {
    const rules = [rule("a", "nightly backupx"), rule("other-ip", "nightly backup", "custom_range", "198.51.100.9/32"), rule("b", "Nightly Backup")];
    expect(findOwnRule(rules, { label: "nightly backup" }, "203.0.113.7/32")?.id).toBe("b");
    expect(findOwnRule([rule("a", "weekly")], { label: "nightly backup" }, "203.0.113.7/32")).toBeUndefined();
  });
});
