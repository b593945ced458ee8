import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.js";
import { inputProblems } from "./support/input-problems.js";

const now = new Date("2026-11-25T03:04:05.678Z");
const creds = { AWS_ACCESS_KEY_ID: "AKIAEXAMPLEKEY", AWS_SECRET_ACCESS_KEY: "secret/KEY+example" };
const valid = { "api-token": "tk-us-secret", database: "my-db" };

function parse(inputs: Record<string, string>, env: Record<string, string> = creds) {
  return parseConfig((name) => inputs[name] ?? "", { RUNNER_TEMP: "/tmp", ...env }, now, 2);
}

const problems = (inputs: Record<string, string>, env: Record<string, string> = creds) => inputProblems(() => parse(inputs, env));

describe("s3 inputs", () => {
  it("are off without s3-url", () => {
    expect(parse(valid).s3).toBeUndefined();
  });

  it("parse the URL, endpoint, region, rotation and lock; credentials from the environment only", () => {
    const c = parse({
      ...valid,
      "s3-url": "s3://my-backups/scalingo/prod",
      "s3-endpoint": "https://oos.eu-west-2.outscale.com/",
      "s3-region": "eu-west-2",
      "s3-keep": "daily=7 weekly=4 monthly=12",
      "s3-object-lock-days": "30",
      "s3-object-lock-mode": "compliance",
    });
    expect(c.s3).toEqual({
      bucket: "my-backups",
      prefix: "scalingo/prod/",
      endpoint: "https://oos.eu-west-2.outscale.com",
      region: "eu-west-2",
      baseName: "my-db-20261125T030405Z",
      keep: { daily: 7, weekly: 4, monthly: 12 },
      lock: { days: 30, mode: "COMPLIANCE" },
      credentials: { accessKeyId: "AKIAEXAMPLEKEY", secretAccessKey: "secret/KEY+example" },
    });
  });

  it("take the region from AWS_REGION for AWS, and refuse AWS without one", () => {
    expect(parse({ ...valid, "s3-url": "s3://b-1/" }, { ...creds, AWS_REGION: "eu-west-3" }).s3?.region).toBe("eu-west-3");
    expect(problems({ ...valid, "s3-url": "s3://b-1/" })).toEqual([expect.stringMatching(/^`s3-region`: is required for AWS/)]);
  });

  it("name each bad input, all at once", () => {
    const found = problems(
      {
        ...valid,
        "s3-url": "https://bucket/x",
        "s3-endpoint": "http://oos.example.com",
        "s3-keep": "yearly=3",
        "s3-object-lock-days": "0",
        "s3-object-lock-mode": "strict",
      },
      {},
    );
    expect(found).toEqual([
      expect.stringMatching(/^`s3-url`: "https:\/\/bucket\/x" is not s3:\/\//),
      expect.stringMatching(/^`s3-endpoint`: .*must use https/),
      expect.stringMatching(/^`s3-keep`: "yearly=3"/),
      expect.stringMatching(/^`s3-object-lock-mode`: "strict" is not GOVERNANCE or COMPLIANCE/),
      expect.stringMatching(/^`s3-object-lock-days`: "0" is not a whole number/),
      expect.stringMatching(/^`s3-url`: needs credentials in the environment: AWS_ACCESS_KEY_ID/),
    ]);
  });

  it("refuse s3 settings without s3-url (a forgotten destination is not silently ignored)", () => {
    expect(problems({ ...valid, "s3-keep": "daily=7" })).toEqual([expect.stringMatching(/^`s3-keep`: needs `s3-url`/)]);
  });

  it("never hold a secret in an error message", () => {
    const text = problems({ ...valid, "s3-url": "s3://B/" }).join("\n");
    expect(text).not.toContain(creds.AWS_SECRET_ACCESS_KEY);
    expect(text).not.toContain(creds.AWS_ACCESS_KEY_ID);
  });
});
