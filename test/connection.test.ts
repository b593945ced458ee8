import { describe, expect, it } from "vitest";
import { pgClientConfig } from "../src/postgres/connection.js";

const conn = { host: "db.example", port: 5432, user: "u", password: "p", database: "d", sslmode: "require" };

describe("the action's own connections to production", () => {
  it("use TCP keepalive: a black-holed session fails instead of keeping the rule open", () => {
    expect(pgClientConfig(conn, 15_000)).toMatchObject({ keepAlive: true, keepAliveInitialDelayMillis: 60_000 });
  });
  it("bound a query when the caller says so (the probe), and only then (the row counts may take long)", () => {
    expect(pgClientConfig(conn, 15_000, false, 15_000).query_timeout).toBe(15_000);
    expect(pgClientConfig(conn, 15_000).query_timeout).toBeUndefined();
  });
});
