import { describe, expect, it } from "vitest";
import { backendIds, expiryFor, isGhes, mimeTypeOf } from "../src/artifact/results-service.js";

const token = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.`;

describe("results service helpers", () => {
  it("reads the backend ids from the Actions.Results scope, wherever it is in scp", () => {
    expect(backendIds(token({ scp: "Actions.ExampleScope Actions.Results:run-1:job-2" }))).toEqual({
      workflow_run_backend_id: "run-1",
      workflow_job_run_backend_id: "job-2",
    });
    for (const bad of [token({ scp: "Actions.ExampleScope" }), token({ scp: "Actions.Results:run-only" }), token({}), "not-a-jwt"]) {
      expect(() => backendIds(bad)).toThrow(/no Actions.Results scope/);
    }
  });

  it("caps retention at the repository's maximum and says so", () => {
    const now = new Date("2026-01-10T03:00:00Z");
    expect(expiryFor(undefined, 30, now)).toEqual({});
    expect(expiryFor(7, undefined, now)).toEqual({ expiresAt: new Date("2026-01-17T03:00:00Z") });
    expect(expiryFor(7, 30, now)).toEqual({ expiresAt: new Date("2026-01-17T03:00:00Z") });
    expect(expiryFor(90, 30, now)).toEqual({ expiresAt: new Date("2026-02-09T03:00:00Z"), cappedTo: 30 });
  });

  it("tells github.com and GHE.com from GitHub Enterprise Server", () => {
    expect(isGhes(undefined)).toBe(false);
    expect(isGhes("https://github.com")).toBe(false);
    expect(isGhes("https://acme.ghe.com")).toBe(false);
    expect(isGhes("https://github.acme.internal")).toBe(true);
  });

  it("labels dumps as @actions/artifact would", () => {
    expect(mimeTypeOf("db.dump")).toBe("application/octet-stream");
    expect(mimeTypeOf("db.sql")).toBe("application/octet-stream");
    expect(mimeTypeOf("db.dump.age")).toBe("application/octet-stream");
    expect(mimeTypeOf("db.tar")).toBe("application/x-tar");
  });
});
