// Which calls go through a proxy is @actions/http-client's decision (the one @actions/artifact
// follows); the action only asks it. Held here to the cases users set.
import { afterEach, describe, expect, it } from "vitest";
import { dispatcherFor } from "../src/runner/proxy.js";

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

function withProxy(env: Record<string, string>): void {
  for (const k of ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"]) delete process.env[k];
  Object.assign(process.env, env);
}

describe("dispatcherFor", () => {
  it("goes direct without a proxy setting", () => {
    withProxy({});
    expect(dispatcherFor("https://auth.scalingo.com")).toBeUndefined();
  });

  it("uses HTTPS_PROXY for https, one dispatcher per proxy, except NO_PROXY hosts and loopback", () => {
    withProxy({ HTTPS_PROXY: "http://proxy.corp:3128", NO_PROXY: ".internal.corp,api.ipify.org" });
    const a = dispatcherFor("https://auth.scalingo.com");
    expect(a).toBeDefined();
    expect(dispatcherFor("https://api.osc-fr1.scalingo.com/v1/apps")).toBe(a);
    expect(dispatcherFor("https://db.internal.corp")).toBeUndefined();
    expect(dispatcherFor("https://api.ipify.org")).toBeUndefined();
    expect(dispatcherFor("http://127.0.0.1:8080/ip")).toBeUndefined();
    expect(dispatcherFor("http://ip.example.com")).toBeUndefined(); // HTTP_PROXY unset
  });
});
