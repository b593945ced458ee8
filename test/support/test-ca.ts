// A throwaway certificate authority for tests: servers on loopback (PostgreSQL, a proxy) present a
// certificate it signed, and the code under test verifies them against its CA certificate, exactly
// as it would verify a real server against a real CA. Made with the openssl command line tool
// (.ci/install-postgres installs it), in a private temporary folder.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { run } from "./postgres-exec.js";

export interface IssuedCertificate {
  /** PEM certificate of the leaf, followed by nothing else (the CA is the trust anchor) */
  certPath: string;
  /** PEM private key of the leaf, unencrypted, mode 0600 */
  keyPath: string;
}

export interface TestCa {
  /** Folder holding the CA and every certificate it issued; remove() deletes it. */
  dir: string;
  /** PEM certificate of the CA: what a client trusts (`ssl-root-cert`, `ca` option, PGSSLROOTCERT). */
  caCertPath: string;
  caCertPem: string;
  /**
   * Issues a server certificate whose subjectAltName lists the given DNS names and IP addresses
   * (`localhost`, `127.0.0.1`, `::1`...). The first name is also the subject CN.
   */
  issue(names: string[], options?: { days?: number }): Promise<IssuedCertificate>;
  remove(): Promise<void>;
}

const KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export async function createTestCa(options: { commonName?: string; parentDir?: string } = {}): Promise<TestCa> {
  const dir = await mkdtemp(path.join(options.parentDir ?? tmpdir(), "test-ca-"));
  const caKeyPath = path.join(dir, "ca.key");
  const caCertPath = path.join(dir, "ca.crt");
  const commonName = options.commonName ?? "scalingo-pg-dump test CA";
  try {
    await run("openssl", [
      "req",
      "-x509",
      ...KEY,
      "-days",
      "2",
      "-subj",
      `/CN=${commonName}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-keyout",
      caKeyPath,
      "-out",
      caCertPath,
    ]);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return openTestCa(dir);
}

/** The CA createTestCa made in `dir` (e.g. by another process), able to issue certificates. */
export async function openTestCa(dir: string): Promise<TestCa> {
  const caKeyPath = path.join(dir, "ca.key");
  const caCertPath = path.join(dir, "ca.crt");
  const caCertPem = await readFile(caCertPath, "utf8");
  let serial = 0;

  return {
    dir,
    caCertPath,
    caCertPem,
    async issue(names, issueOptions = {}) {
      if (names.length === 0) throw new Error("issue: at least one DNS name or IP address");
      // The pid too: several processes may issue from one CA folder (a shared server's, postgres-shared.ts).
      const base = path.join(dir, `leaf-${process.pid}-${++serial}`);
      const san = names.map((name) => (isIP(name.replace(/^\[|\]$/g, "")) ? `IP:${name.replace(/^\[|\]$/g, "")}` : `DNS:${name}`));
      const extPath = `${base}.ext`;
      await writeFile(
        extPath,
        [
          "basicConstraints=critical,CA:FALSE",
          "keyUsage=critical,digitalSignature,keyEncipherment",
          "extendedKeyUsage=serverAuth",
          `subjectAltName=${san.join(",")}`,
          "",
        ].join("\n"),
      );
      const keyPath = `${base}.key`;
      const certPath = `${base}.crt`;
      await run("openssl", ["req", "-new", ...KEY, "-subj", `/CN=${names[0]}`, "-keyout", keyPath, "-out", `${base}.csr`]);
      await run("openssl", [
        "x509",
        "-req",
        "-in",
        `${base}.csr`,
        "-CA",
        caCertPath,
        "-CAkey",
        caKeyPath,
        "-set_serial",
        String(Date.now() * 1000 + serial),
        "-days",
        String(issueOptions.days ?? 2),
        "-extfile",
        extPath,
        "-out",
        certPath,
      ]);
      return { certPath, keyPath };
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
