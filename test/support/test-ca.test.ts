import { readFile, stat } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { createServer, type Server, connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCa, type TestCa } from "./test-ca.js";

/** Connects to a TLS server on loopback and reports "ok" or the verification error's code. */
function handshake(port: number, host: string, ca: string, servername?: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host, port, ca, servername }, () => {
      socket.end();
      resolve("ok");
    });
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe("createTestCa", () => {
  let ca: TestCa;
  let other: TestCa;
  let server: Server;
  let port = 0;

  beforeAll(async () => {
    [ca, other] = await Promise.all([createTestCa(), createTestCa({ commonName: "another test CA" })]);
    const leaf = await ca.issue(["localhost", "127.0.0.1"]);
    const [cert, key] = await Promise.all([readFile(leaf.certPath), readFile(leaf.keyPath)]);
    server = createServer({ cert, key }, (socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await Promise.all([ca?.remove(), other?.remove()]);
  });

  it("writes a PEM CA certificate and private leaf keys", async () => {
    expect(ca.caCertPem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    const leaf = await ca.issue(["db.example.test"]);
    expect((await stat(leaf.keyPath)).mode & 0o077).toBe(0);
    expect(leaf.certPath.startsWith(ca.dir)).toBe(true);
  });

  it("issues a certificate a client trusting the CA accepts for each listed name and IP", async () => {
    expect(await handshake(port, "127.0.0.1", ca.caCertPem)).toBe("ok");
    expect(await handshake(port, "127.0.0.1", ca.caCertPem, "localhost")).toBe("ok");
  });

  it("is refused for a name it does not list, or by a client trusting another CA", async () => {
    expect(await handshake(port, "127.0.0.1", ca.caCertPem, "db.example.test")).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
    expect(await handshake(port, "127.0.0.1", other.caCertPem)).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
  });

  it("removes everything", async () => {
    const extra = await createTestCa();
    await extra.remove();
    await expect(stat(extra.dir)).rejects.toThrow(/ENOENT/);
  });
});
