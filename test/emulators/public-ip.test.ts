import { afterEach, describe, expect, it } from "vitest";
import { type IpEmulator, startIpEmulator } from "./public-ip.js";

let emu: IpEmulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

describe("public IP emulator", () => {
  it("answers the caller's address with a newline by default, and counts hits", async () => {
    emu = await startIpEmulator();
    const res = await fetch(emu.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain");
    expect(await res.text()).toBe("127.0.0.1\n");
    expect(emu.hits).toBe(1);
  });

  it("sends a configured answer and status, verbatim", async () => {
    emu = await startIpEmulator({ answer: "203.0.113.7" });
    expect(await (await fetch(emu.url)).text()).toBe("203.0.113.7");
    emu.set({ status: 503, answer: "busy" });
    const res = await fetch(emu.url);
    expect([res.status, await res.text()]).toEqual([503, "busy"]);
    emu.set({});
    expect(await (await fetch(emu.url)).text()).toBe("127.0.0.1\n");
  });

  it("delays, and lets a client give up without holding close()", async () => {
    emu = await startIpEmulator({ delayMs: 300 });
    const started = Date.now();
    await fetch(emu.url);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    emu.set({ delayMs: 60_000 });
    await expect(fetch(emu.url, { signal: AbortSignal.timeout(100) })).rejects.toThrow();
  });

  it("resets the connection", async () => {
    emu = await startIpEmulator({ reset: true });
    await expect(fetch(emu.url)).rejects.toThrow(/fetch failed/);
    expect(emu.hits).toBe(1);
  });
});
