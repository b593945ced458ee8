// The restore action's fourth source, `s3-uri`: parsed with the other inputs, credentials from the
// AWS_* variables only, refused clearly (naming the input) before anything is contacted.
import { describe, expect, it } from "vitest";
import { parseRestoreConfig } from "../src/restore/config.js";
import { inputProblems } from "./support/input-problems.js";

const creds = { AWS_ACCESS_KEY_ID: "AKIAEXAMPLEKEY", AWS_SECRET_ACCESS_KEY: "secret/KEY+example", AWS_REGION: "eu-west-3" };
const base = { "api-token": "tk-us-abc", database: "shop-db-123" };
const uri = "s3://my-backups/scalingo/shop-db-123-20261205T031700Z.dump.age";
const parse = (inputs: Record<string, string>, env: Record<string, string> = creds) =>
  parseRestoreConfig((name) => inputs[name] ?? "", { GITHUB_WORKSPACE: "/ws", GITHUB_REPOSITORY: "acme/shop", ...env }, 2);

const problems = (inputs: Record<string, string>, env: Record<string, string> = creds) => inputProblems(() => parse(inputs, env));

describe("the restore action's s3-uri source", () => {
  it("names one object; endpoint and region as for the backup; credentials from the environment only", () => {
    const c = parse({ ...base, "s3-uri": uri, "s3-endpoint": "https://s3.fr-par.scw.cloud/", "s3-region": "fr-par" });
    expect(c.source).toEqual({
      kind: "s3",
      object: {
        bucket: "my-backups",
        key: "scalingo/shop-db-123-20261205T031700Z.dump.age",
        endpoint: "https://s3.fr-par.scw.cloud",
        region: "fr-par",
        credentials: { accessKeyId: "AKIAEXAMPLEKEY", secretAccessKey: "secret/KEY+example" },
      },
    });
    expect(parse({ ...base, "s3-uri": uri }, { ...creds, AWS_REGION: "eu-central-1", AWS_SESSION_TOKEN: "tok" }).source).toMatchObject({
      object: { region: "eu-central-1", credentials: { sessionToken: "tok" } },
    });
  });

  it("is one of the four sources, never two", () => {
    expect(problems({ ...base, "s3-uri": uri, path: "b.dump" }).join("\n")).toMatch(
      /`path`: say which backup to restore.*`s3-uri`.*\(got `path` and `s3-uri`\)/,
    );
    expect(problems({ ...base, "s3-uri": uri, "artifact-name": "a.dump" }).join("\n")).toMatch(/`artifact-name`: is for an artifact of another run/);
    expect(problems({ ...base }).join("\n")).toMatch(/`s3-uri`/);
  });

  it("refuses a prefix, a manifest, a bad bucket, missing credentials, and s3-endpoint without s3-uri, each by name", () => {
    expect(problems({ ...base, "s3-uri": "s3://my-backups/scalingo/" })).toEqual([
      expect.stringMatching(/^`s3-uri`: .* is not s3:\/\/<bucket>\/<key> of one backup/),
    ]);
    expect(problems({ ...base, "s3-uri": `${uri}.manifest.json.age` })).toEqual([expect.stringMatching(/^`s3-uri`: .* is a manifest: name the dump itself/)]);
    expect(problems({ ...base, "s3-uri": "s3://My_Bucket/x.dump" })).toEqual([expect.stringMatching(/^`s3-uri`:/)]);
    const noCreds = problems({ ...base, "s3-uri": uri }, { AWS_REGION: "eu-west-3" });
    expect(noCreds).toEqual([expect.stringMatching(/^`s3-uri`: needs credentials in the environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/)]);
    expect(problems({ ...base, path: "b.dump", "s3-endpoint": "https://s3.fr-par.scw.cloud" })).toEqual([
      expect.stringMatching(/^`s3-endpoint`: needs `s3-uri`/),
    ]);
    expect(problems({ ...base, "s3-uri": uri, "s3-endpoint": "http://s3.example.com" })).toEqual([expect.stringMatching(/^`s3-endpoint`: .*https/)]);
  });

  it("never puts a secret in an error", () => {
    const text = problems({ ...base, "s3-uri": "nope" }, { AWS_ACCESS_KEY_ID: "AKIAEXAMPLEKEY", AWS_SECRET_ACCESS_KEY: "very-secret-value" }).join("\n");
    expect(text).not.toContain("very-secret-value");
  });
});
