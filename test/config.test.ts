import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.js";
import { InputError } from "../src/errors.js";
import { extensionOf } from "../src/naming.js";

const RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
const now = new Date("2026-11-25T03:04:05.678Z");
const env = {
  RUNNER_TEMP: "/runner/tmp",
  GITHUB_WORKSPACE: "/work/ws",
  GITHUB_REPOSITORY: "acme/shop",
  GITHUB_RUN_ID: "77",
  GITHUB_RUN_ATTEMPT: "2",
  GITHUB_JOB: "backup",
};
const valid = { "api-token": "tk-us-secret", database: "my-db" };

function parse(inputs: Record<string, string>, cpus = 2) {
  return parseConfig((name) => inputs[name] ?? "", env, now, cpus);
}

function problems(inputs: Record<string, string>): string[] {
  try {
    parse(inputs);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as InputError).problems;
  }
  return [];
}

describe("parseConfig", () => {
  it("applies the contract's defaults", () => {
    const c = parse(valid);
    expect(c).toMatchObject({
      region: "osc-fr1",
      authUrl: "https://auth.scalingo.com",
      reachableTimeoutMs: 300_000,
      staleRuleAgeMs: 720 * 60_000,
      format: "custom",
      jobs: undefined,
      pgDumpVersion: "auto",
      verify: "list",
      verifyRowCounts: false,
      restoreJobs: 2,
      tempDir: "/runner/tmp",
      upload: true,
      run: { runId: "77", attempt: "2", job: "backup" },
      dumpPath: "/runner/tmp/scalingo-pg-dump/my-db-20261125T030405Z.dump",
      artifactName: "my-db-20261125T030405Z",
      ipLookupUrlsCustom: false,
    });
    expect(c.pgDumpArgs).toEqual([
      "--clean",
      "--if-exists",
      "--no-owner",
      "--no-privileges",
      "--no-comments",
      "--exclude-schema=information_schema",
      "--exclude-schema=^pg_*",
    ]);
  });

  it("caps jobs 0 at 4 workers: each is a connection to the production database", () => {
    expect(parse({ ...valid, format: "directory" }, 64).jobs).toBe(4);
    expect(parse({ ...valid, format: "directory" }, 2).jobs).toBe(2);
    expect(parse({ ...valid, format: "directory", jobs: "8" }, 64).jobs).toBe(8); // asked for explicitly
  });

  it("names a compressed plain dump for its compression, and nothing else", () => {
    const file = (inputs: Record<string, string>) => path.basename(parse({ ...valid, ...inputs }).dumpPath);
    expect(file({ format: "plain", compress: "6" })).toBe("my-db-20261125T030405Z.sql.gz");
    expect(file({ format: "plain", compress: "gzip:9" })).toMatch(/\.sql\.gz$/);
    expect(file({ format: "plain", compress: "lz4" })).toMatch(/\.sql\.lz4$/);
    expect(file({ format: "plain", compress: "zstd:3" })).toMatch(/\.sql\.zst$/);
    for (const none of ["", "0", "none"]) expect(file({ format: "plain", compress: none })).toMatch(/\.sql$/);
    expect(file({ compress: "6" })).toMatch(/\.dump$/); // archive formats compress inside
    expect(extensionOf("custom", "zstd")).toBe(".dump");
  });

  it("resolves jobs 0 to one per CPU for the directory format, and paths against the workspace", () => {
    const c = parse({ ...valid, format: "directory", path: "out/db" }, 4);
    expect(c.jobs).toBe(4);
    expect(c.dumpPath).toBe("/work/ws/out/db");
  });

  it("keeps quoted pg-dump-args words and patterns", () => {
    expect(parse({ ...valid, "pg-dump-args": `--exclude-table 'audit log'\n--exclude-schema=^pg_*  # comment` }).pgDumpArgs).toEqual([
      "--exclude-table",
      "audit log",
      "--exclude-schema=^pg_*",
    ]);
  });

  it("accepts custom lookup URLs on loopback and age recipients", () => {
    const c = parse({ ...valid, "ip-lookup-urls": "http://127.0.0.1:9/\nhttps://ip.example.com", "encryption-recipients": `${RECIPIENT}\n` });
    expect(c.ipLookupUrls).toEqual(["http://127.0.0.1:9/", "https://ip.example.com"]);
    expect(c.ipLookupUrlsCustom).toBe(true);
    expect(c.ipLookupPolicy).toBe("first"); // the user's own services: the first valid answer
    expect(parse(valid).ipLookupPolicy).toBe("agree"); // the built-in providers: two must agree
    expect(c.encryptionRecipients).toEqual([RECIPIENT]);
  });

  // Each bad value fails before any API call, names its input and says what it accepts.
  const cases: [string, Record<string, string>, RegExp][] = [
    ["empty token", { "api-token": "" }, /`api-token`: is required/],
    ["token with a space", { "api-token": "tk us" }, /`api-token`: contains white space/],
    ["missing database", { database: "" }, /`database`: is required/],
    ["malformed database ID", { database: "../etc" }, /`database`: "..\/etc" is not a database ID/],
    ["region with capitals", { region: "OSC FR1" }, /`region`: .* osc-fr1/],
    ["auth-url over http", { "auth-url": "http://auth.example.com" }, /`auth-url`: .*https/],
    ["auth-url not a URL", { "auth-url": "auth" }, /`auth-url`: "auth" is not a URL/],
    ["runner-ip not IPv4", { "runner-ip": "2001:db8::1" }, /`runner-ip`: .*IPv4/],
    ["runner-ip garbage", { "runner-ip": "1.2.3" }, /`runner-ip`/],
    ["lookup URL over http", { "ip-lookup-urls": "http://ip.example.com" }, /`ip-lookup-urls`/],
    ["multi-line rule-label", { "rule-label": "a\nb" }, /`rule-label`/],
    [
      "negative timeout",
      { "reachable-timeout": "-5" },
      /`reachable-timeout`: "-5" is not a duration: a whole number of seconds, or with a unit .*from 1s to 1h/,
    ],
    ["timeout in an unknown unit", { "reachable-timeout": "5 minutes" }, /`reachable-timeout`: "5 minutes" is not a duration/],
    ["timeout over an hour", { "reachable-timeout": "2h" }, /`reachable-timeout`: "2h" is out of range: from 1s to 1h/],
    ["stale age with a unit, too short", { "stale-rule-age": "5h" }, /`stale-rule-age`: "5h" is too short/],
    ["stale age not a duration", { "stale-rule-age": "12 h x" }, /`stale-rule-age`: "12 h x" is not a duration: a whole number of minutes/],
    ["pg-dump-extra-args setting the file", { "pg-dump-extra-args": "-f /tmp/x" }, /`pg-dump-extra-args`: -f \/tmp\/x is set by the action itself/],
    ["pg-dump-extra-args with a connection string", { "pg-dump-extra-args": "host=evil" }, /`pg-dump-extra-args`: "host=evil": pg_dump reads/],
    ["zero timeout", { "reachable-timeout": "0" }, /`reachable-timeout`/],
    ["fractional stale age", { "stale-rule-age": "1.5" }, /`stale-rule-age`/],
    ["stale age of a minute", { "stale-rule-age": "1" }, /`stale-rule-age`: "1" is too short: .*Use 0 \(off\) or at least 360/],
    ["stale age just under 6 hours", { "stale-rule-age": "359" }, /`stale-rule-age`: "359" is too short/],
    ["rule-label claiming another repository's format", { "rule-label": "scalingo-pg-dump acme/other run 1/1 job backup" }, /`rule-label`: .*reserved/],
    ["rule-label in the new default format", { "rule-label": "scalingo-pg-dump abcdefgh 0123abcd 20261205T0317Z" }, /`rule-label`: .*reserved/],
    ["unknown format", { format: "zip" }, /`format`: "zip" is not one of custom, directory, tar, plain/],
    ["unknown compression", { compress: "brotli" }, /`compress`: "brotli"/],
    ["jobs with custom format", { jobs: "4" }, /`jobs`: parallel workers need `format: directory`/],
    ["jobs not a number", { jobs: "many", format: "directory" }, /`jobs`/],
    ["pg-dump-args with a pipe", { "pg-dump-args": "--clean | cat" }, /`pg-dump-args`: contains the shell operator "\|"/],
    ["pg-dump-args setting the file", { "pg-dump-args": "--file=/tmp/x" }, /`pg-dump-args`: --file=\/tmp\/x is set by the action itself/],
    ["pg-dump-args setting the host", { "pg-dump-args": "-h evil" }, /`pg-dump-args`: -h/],
    ["pg-dump-args abbreviating --file", { "pg-dump-args": "--fil=/tmp/x" }, /`pg-dump-args`: --fil=\/tmp\/x is set by the action itself/],
    ["pg-dump-args abbreviating --format", { "pg-dump-args": "--forma=p" }, /`pg-dump-args`: --forma=p is set by the action itself/],
    ["pg-dump-args abbreviating --host", { "pg-dump-args": "--hos=evil.example" }, /`pg-dump-args`: --hos=evil\.example is set/],
    ["pg-dump-args grouping -Z", { "pg-dump-args": "-vZ9" }, /`pg-dump-args`: -Z9 is set by the action itself/],
    ["pg-dump-args grouping -F", { "pg-dump-args": "-Fp" }, /`pg-dump-args`: -Fp is set/],
    ["pg-dump-args -fx", { "pg-dump-args": "-fx" }, /`pg-dump-args`: -fx is set/],
    ["pg-dump-args -f in two words", { "pg-dump-args": "-f /tmp/x" }, /`pg-dump-args`: -f \/tmp\/x is set/],
    ["pg-dump-args --file in two words", { "pg-dump-args": "--file /tmp/x" }, /`pg-dump-args`: --file \/tmp\/x is set/],
    [
      "pg-dump-args with a connection string",
      { "pg-dump-args": "--clean host=evil.example" },
      /`pg-dump-args`: "host=evil\.example": pg_dump reads a word that is not an option as the database name or a connection string/,
    ],
    ["pg-dump-args after --", { "pg-dump-args": "-- mydb" }, /`pg-dump-args`: "mydb": pg_dump reads/],
    ["pg-dump-version word", { "pg-dump-version": "latest" }, /`pg-dump-version`: "latest"/],
    ["verify unknown", { verify: "yes please" }, /`verify`: "yes please" is not one of list \(or true\), restore, false/],
    [
      "row counts without restore",
      { "verify-row-counts": "true" },
      /`verify-row-counts`: compares the dump with its restored copy: it needs `verify: restore` \(verify is "list"\)/,
    ],
    ["row counts not boolean", { verify: "restore", "verify-row-counts": "yes" }, /`verify-row-counts`: "yes" is not true or false/],
    [
      "row counts with its own snapshot",
      { verify: "restore", "verify-row-counts": "true", "pg-dump-args": "--snapshot=00000003-1" },
      /`pg-dump-args`: --snapshot is set by the action/,
    ],
    [
      "row counts with an abbreviated --snapshot",
      { verify: "restore", "verify-row-counts": "true", "pg-dump-args": "--snap=00000003-1" },
      /`pg-dump-args`: --snapshot is set by the action/,
    ],
    ["upload not boolean", { upload: "1" }, /`upload`/],
    ["artifact-name with slash", { "artifact-name": "a/b" }, /`artifact-name`/],
    ["retention 0", { "retention-days": "0" }, /`retention-days`: "0" is not a whole number from 1 to 90/],
    ["retention 91", { "retention-days": "91" }, /`retention-days`/],
    ["bad recipient", { "encryption-recipients": "age1notakey" }, /`encryption-recipients`: "age1notakey..." is not an age recipient/],
    [
      "an SSH recipient, which age-encryption 0.3.1 cannot encrypt to",
      { "encryption-recipients": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@laptop" },
      /`encryption-recipients`: recipient 1 is an SSH public key \(ssh-ed25519\): the age library this action uses \(age-encryption 0\.3\.1\) cannot encrypt to SSH keys; generate an age key pair with `age-keygen` and put its public recipient \(age1…\) here/,
    ],
  ];
  it.each(cases)("rejects %s", (_name, inputs, expected) => {
    const found = problems({ ...valid, ...inputs });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(expected);
  });

  it("keeps ssl-root-cert's keywords system and scalingo (the region's CA) as they are, never as file names", () => {
    expect(parse({ ...valid, "ssl-root-cert": "scalingo" }).sslRootCert).toBe("scalingo");
    expect(parse({ ...valid, "ssl-root-cert": "system" }).sslRootCert).toBe("system");
  });

  it("reads durations with a unit, and a bare number in the input's own unit (seconds, minutes)", () => {
    const c = (inputs: Record<string, string>) => parse({ ...valid, ...inputs });
    expect(c({ "reachable-timeout": "90" }).reachableTimeoutMs).toBe(90_000);
    expect(c({ "reachable-timeout": "300s" }).reachableTimeoutMs).toBe(300_000);
    expect(c({ "reachable-timeout": "5m" }).reachableTimeoutMs).toBe(300_000);
    expect(c({ "reachable-timeout": "1h" }).reachableTimeoutMs).toBe(3_600_000);
    expect(c({ "reachable-timeout": "2m30s" }).reachableTimeoutMs).toBe(150_000);
    expect(c({ "stale-rule-age": "720" }).staleRuleAgeMs).toBe(720 * 60_000);
    expect(c({ "stale-rule-age": "12h" }).staleRuleAgeMs).toBe(720 * 60_000);
    expect(c({ "stale-rule-age": "2d" }).staleRuleAgeMs).toBe(48 * 3_600_000);
    expect(c({ "stale-rule-age": "6H" }).staleRuleAgeMs).toBe(360 * 60_000);
    expect(c({ "stale-rule-age": "0s" }).staleRuleAgeMs).toBe(0);
  });

  it("ends a comment at the end of its line, as a shell does", () => {
    const c = parse({ ...valid, "pg-dump-extra-args": "--exclude-table-data=audit  # too big\n--exclude-table-data=logs # and this" });
    expect(c.pgDumpArgs.slice(-2)).toEqual(["--exclude-table-data=audit", "--exclude-table-data=logs"]);
  });

  it("adds pg-dump-extra-args to the defaults, and after a replacing pg-dump-args", () => {
    const extra = parse({ ...valid, "pg-dump-extra-args": "--exclude-table-data=audit_log\n--exclude-table-data 'big log'" });
    expect(extra.pgDumpArgs).toEqual([...parse(valid).pgDumpArgs, "--exclude-table-data=audit_log", "--exclude-table-data", "big log"]);
    expect(extra.warnings).toEqual([]);
    const both = parse({ ...valid, "pg-dump-args": "--data-only", "pg-dump-extra-args": "--exclude-table-data=t" });
    expect(both.pgDumpArgs).toEqual(["--data-only", "--exclude-table-data=t"]);
  });

  it("warns when a replacing pg-dump-args drops a default flag, naming each one", () => {
    const [warning] = parse({ ...valid, "pg-dump-args": "--clean --if-exists --exclude-table-data=audit_log" }).warnings;
    expect(warning).toMatch(
      /`pg-dump-args` replaces the default arguments, and --no-owner --no-privileges --no-comments --exclude-schema=information_schema --exclude-schema=\^pg_\* are not among yours.*`pg-dump-extra-args`/,
    );
    // Every seed flag kept, however written (short forms, a value in the next word): no warning.
    const kept = "-c --if-exists -O -x --no-comments -N information_schema --exclude-schema ^pg_* --exclude-table-data=t";
    expect(parse({ ...valid, "pg-dump-args": kept }).warnings).toEqual([]);
    // --data-only cannot go with --clean: only the flags it could keep are named.
    const dataOnly = parse({ ...valid, "pg-dump-args": "--data-only --no-owner --no-privileges --no-comments" }).warnings[0];
    expect(dataOnly).toMatch(/and --exclude-schema=information_schema --exclude-schema=\^pg_\* are not among yours/);
    expect(parse({ ...valid, "pg-dump-args": "-a -O -x --no-comments -N information_schema -N ^pg_*" }).warnings).toEqual([]);
  });

  it("accepts a stale-rule-age of 0 (off) or from 360 minutes, and a custom rule-label of another form", () => {
    expect(parse({ ...valid, "stale-rule-age": "0" }).staleRuleAgeMs).toBe(0);
    expect(parse({ ...valid, "stale-rule-age": "360" }).staleRuleAgeMs).toBe(360 * 60_000);
    expect(parse({ ...valid, "rule-label": "nightly backup" })).toMatchObject({ ruleLabel: "nightly backup", repository: "acme/shop" });
  });

  // Only literal loopback may use plain http: a DNS name is resolved and can point anywhere.
  it.each([
    "http://127.attacker.example",
    "http://127.0.0.1.attacker.example/",
    "http://localhost.attacker.example",
    "http://[::ffff:127.0.0.1]/",
    "http://10.0.0.1/",
    "ftp://127.0.0.1/",
  ])("refuses plain http to %s, which only looks like loopback", (url) => {
    expect(problems({ ...valid, "auth-url": url })).toEqual([expect.stringMatching(/^`auth-url`: .* must use https:\/\//)]);
    expect(problems({ ...valid, "ip-lookup-urls": url })).toEqual([expect.stringMatching(/^`ip-lookup-urls`: .* must use https:\/\//)]);
  });

  it.each(["http://127.0.0.1:8080", "http://127.1.2.3/", "http://localhost:3000/", "http://[::1]:9/", "https://auth.example.com"])("accepts %s", (url) => {
    expect(problems({ ...valid, "auth-url": url })).toEqual([]);
  });

  it("refuses a private age key in encryption-recipients, echoing none of it", () => {
    const secret = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZ3H4R9K";
    for (const line of [secret, secret.toLowerCase(), `  ${secret}  `]) {
      const found = problems({ ...valid, "encryption-recipients": `${RECIPIENT}\n${line}` });
      expect(found).toEqual([
        "`encryption-recipients`: recipient 2 is a private key: put the public recipient (age1…) here, and rotate that key (it was written in the workflow or a secret meant for recipients).",
      ]);
      // Not even its first characters after the well-known prefix.
      expect(found.join("\n")).not.toContain(secret.slice("AGE-SECRET-KEY-1".length, "AGE-SECRET-KEY-1".length + 4));
    }
  });

  it("names the age library package.json pins when it refuses SSH recipients", async () => {
    const { AGE_LIBRARY } = await import("../src/artifact/encrypt.js");
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    expect(AGE_LIBRARY).toBe(`age-encryption ${pkg.dependencies["age-encryption"]}`);
  });

  it("dump-timeout: 5 hours by default, a bare number is minutes, units through the shared duration parser", () => {
    expect(parse(valid).dumpTimeoutMs).toBe(5 * 3_600_000);
    expect(parse({ ...valid, "dump-timeout": "90" }).dumpTimeoutMs).toBe(90 * 60_000);
    expect(parse({ ...valid, "dump-timeout": "300s" }).dumpTimeoutMs).toBe(300_000);
    expect(parse({ ...valid, "dump-timeout": "1h30m" }).dumpTimeoutMs).toBe(90 * 60_000);
    for (const bad of ["0", "soon", "-5", "8d"]) expect(problems({ ...valid, "dump-timeout": bad })).toEqual([expect.stringMatching(/^`dump-timeout`: /)]);
  });

  it("refuses a PGDG mirror that is not https, before anything is opened, without echoing it", () => {
    const parseWith = (mirror: string) => {
      try {
        parseConfig((name) => ({ ...valid })[name as keyof typeof valid] ?? "", { ...env, SCALINGO_PG_DUMP_PGDG_MIRROR: mirror }, now, 2);
        return [];
      } catch (error) {
        return (error as InputError).problems;
      }
    };
    expect(parseWith("http://user:hunter22@mirror.example/pgdg")).toEqual([
      "`SCALINGO_PG_DUMP_PGDG_MIRROR`: must use https:// (it is http://...): the packages it serves are installed as root, and a password in it would travel in clear.",
    ]);
    expect(parseWith("not a url hunter22")[0]).toMatch(/is not a URL \(its value is not shown/);
    expect(parseWith("not a url hunter22")[0]).not.toContain("hunter22");
    expect(parseWith("https://user:hunter22@mirror.example/pgdg")).toEqual([]);
  });

  it("dump-retries: 1 by default, 0 turns retries off, a bound against a database that never stays up", () => {
    expect(parse(valid).dumpRetries).toBe(1);
    expect(parse({ ...valid, "dump-retries": "0" }).dumpRetries).toBe(0);
    expect(parse({ ...valid, "dump-retries": "3" }).dumpRetries).toBe(3);
    for (const bad of ["-1", "11", "one", "1.5"]) expect(problems({ ...valid, "dump-retries": bad })).toEqual([expect.stringMatching(/^`dump-retries`: /)]);
  });

  it("reports every bad input at once", () => {
    expect(problems({ "api-token": "", database: "", format: "zip", "retention-days": "400" })).toHaveLength(4);
  });

  it("never echoes the token in an error", () => {
    const found = problems({ "api-token": "tk-us-has space", format: "zip" });
    expect(found.join("\n")).not.toContain("has space");
  });

  it("verify: true stays list, false is no check, restore with row counts; restore jobs follow the cores", () => {
    expect(parse({ ...valid, verify: "true" }).verify).toBe("list");
    expect(parse({ ...valid, verify: "FALSE" }).verify).toBe("false");
    expect(parse({ ...valid, verify: "restore", "verify-row-counts": "true" }, 4)).toMatchObject({ verify: "restore", verifyRowCounts: true, restoreJobs: 4 });
    expect(parse({ ...valid, verify: "restore", "pg-dump-args": "--snapshot=00000003-1" }).pgDumpArgs).toEqual(["--snapshot=00000003-1"]);
  });
});
