import { once } from "node:events";
import { createServer, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { waitUntilReachable } from "../src/postgres/reachability.js";

// A server that takes the TCP connection and never answers: the probe's connect stays in flight.
async function silentServer() {
  const sockets: Socket[] = [];
  const server = createServer((s) => sockets.push(s));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  return {
    port,
    sockets,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe("waitUntilReachable stopped from outside", () => {
  let close: () => void = () => undefined;
  afterEach(() => close());

  it("settles when the run is stopped while a connection attempt is in flight", async () => {
    const server = await silentServer();
    close = server.close;
    const stop = new AbortController();
    const connection = { host: "127.0.0.1", port: server.port, user: "u", password: "p", database: "d", sslmode: "disable" };
    const waiting = waitUntilReachable(connection, { timeoutMs: 60_000, log: () => undefined, signal: stop.signal });
    // The attempt is in flight once the server holds its socket.
    for (let i = 0; i < 200 && server.sockets.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.sockets.length).toBe(1);
    stop.abort(new Error("the install failed"));
    // Ending a pg client mid-connect leaves its connect() pending for ever: the wait must not
    // follow it (a main step awaiting it would end with "unsettled top-level await", exit 13).
    const outcome = await Promise.race([
      waiting.then(
        () => "resolved",
        (e: Error) => e.message,
      ),
      new Promise((r) => setTimeout(() => r("still pending after 5 s"), 5_000)),
    ]);
    expect(outcome).toMatch(/Stopped waiting for the database/);
  });
});
