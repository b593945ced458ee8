// A signed apt repository shaped like apt.postgresql.org (`dists/<codename>-pgdg/main`, its key at
// the root as ACCC4CF8.asc), served on 127.0.0.1, and a private apt/dpkg root whose apt.conf
// (passed as APT_CONFIG, apt's own setting) keeps every apt and dpkg path inside it. A real
// `apt-get` installs into that root: this machine's apt configuration and dpkg database are never used.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createTestCa } from "./test-ca.js";

export interface AptRepo {
  /** https://127.0.0.1:<port>, served with a certificate of `ca` (apt and curl are told to trust it). */
  url: string;
  /** The CA certificate that signed the server's: apt's Acquire::https::CAInfo, curl's CURL_CA_BUNDLE. */
  caCertPath: string;
  /** Armored public key the Release file is signed with. */
  keyPath: string;
  /** That key's full fingerprint: the install's test-only pin (the action pins PGDG's). */
  fingerprint: string;
  /** Requests seen, as "<status> <path>". */
  requests: string[];
  close(): Promise<void>;
}

export interface AptRoot {
  dir: string;
  /** The apt.conf to pass as APT_CONFIG. */
  aptConfig: string;
  /** Holds the root's dpkg frontend lock, as another apt would, until release() is called. */
  holdDpkgLock(): Promise<{ release(): void }>;
  /** Every file of the root's apt configuration and state, with its content hash and mode. */
  snapshot(): Promise<Record<string, string>>;
}

const sh = (file: string, args: string[], env?: Record<string, string>) => execFileSync(file, args, { env: { ...process.env, ...env }, stdio: "pipe" });

/** Builds `packages` (each a fake package whose files are given) into a repository for `codename`. */
export async function startAptRepo(
  codename: string,
  packages: { name: string; files: Record<string, string> }[],
  options: { basicAuth?: { user: string; password: string } } = {},
): Promise<AptRepo> {
  const dir = await mkdtemp(path.join(tmpdir(), "apt-repo-"));
  const gnupg = path.join(dir, "gnupg");
  await mkdir(gnupg, { mode: 0o700 });
  const gpgEnv = { GNUPGHOME: gnupg };
  sh("gpg", ["--batch", "--passphrase", "", "--quick-gen-key", "Test PGDG <pgdg@example.invalid>", "ed25519", "sign", "never"], gpgEnv);
  const root = path.join(dir, "www");
  const arch = sh("dpkg", ["--print-architecture"]).toString().trim();
  const binary = path.join(root, "dists", `${codename}-pgdg`, "main", `binary-${arch}`);
  await mkdir(path.join(root, "pool"), { recursive: true });
  await mkdir(binary, { recursive: true });
  let index = "";
  for (const pkg of packages) {
    const build = path.join(dir, "build", pkg.name);
    await mkdir(path.join(build, "DEBIAN"), { recursive: true });
    const control = `Package: ${pkg.name}\nVersion: 99.0-1.pgdg\nArchitecture: all\nMaintainer: Test <pgdg@example.invalid>\nDescription: test package\n`;
    await writeFile(path.join(build, "DEBIAN/control"), control);
    for (const [file, content] of Object.entries(pkg.files)) {
      await mkdir(path.join(build, path.dirname(file)), { recursive: true });
      await writeFile(path.join(build, file), content, { mode: 0o755 });
    }
    const deb = path.join(root, "pool", `${pkg.name}.deb`);
    sh("dpkg-deb", ["--build", "--root-owner-group", build, deb]);
    const bytes = await readFile(deb);
    index += `${control}Filename: pool/${pkg.name}.deb\nSize: ${bytes.length}\nSHA256: ${sha256(bytes)}\n\n`;
  }
  await writeFile(path.join(binary, "Packages"), index);
  const release = [
    "Origin: Test PGDG",
    `Suite: ${codename}-pgdg`,
    `Codename: ${codename}-pgdg`,
    `Date: ${new Date().toUTCString()}`,
    `Architectures: ${arch}`,
    "Components: main",
    "SHA256:",
    ` ${sha256(Buffer.from(index))} ${Buffer.byteLength(index)} main/binary-${arch}/Packages`,
    "",
  ].join("\n");
  const dists = path.join(root, "dists", `${codename}-pgdg`);
  await writeFile(path.join(dists, "Release"), release);
  sh("gpg", ["--batch", "--yes", "--clearsign", "-o", path.join(dists, "InRelease"), path.join(dists, "Release")], gpgEnv);
  const keyPath = path.join(root, "ACCC4CF8.asc");
  await writeFile(keyPath, sh("gpg", ["--armor", "--export"], gpgEnv));
  const fingerprint = /^fpr:(?:[^:]*:){8}([0-9A-F]{40}):/m.exec(sh("gpg", ["--with-colons", "--fingerprint", "--list-keys"], gpgEnv).toString())?.[1] ?? "";
  await chmod(dir, 0o755);
  // https, as the install requires: a certificate for 127.0.0.1 from a throwaway CA (readable by apt's _apt user).
  const ca = await createTestCa({ parentDir: dir });
  await chmod(ca.dir, 0o755);
  await chmod(ca.caCertPath, 0o644);
  const cert = await ca.issue(["127.0.0.1"]);
  const expected = options.basicAuth ? `Basic ${Buffer.from(`${options.basicAuth.user}:${options.basicAuth.password}`).toString("base64")}` : undefined;

  const requests: string[] = [];
  const server: Server = createServer({ cert: readFileSync(cert.certPath), key: readFileSync(cert.keyPath) }, (req, res) => {
    if (expected && req.headers.authorization !== expected) {
      requests.push(`401 ${req.url}`);
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="pgdg"' }).end();
      return;
    }
    const file = path.join(root, path.normalize(decodeURIComponent(req.url ?? "/")));
    try {
      const body = readFileSync(file);
      requests.push(`200 ${req.url}`);
      res.writeHead(200, { "Content-Length": body.length }).end(body);
    } catch {
      requests.push(`404 ${req.url}`);
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `https://127.0.0.1:${port}`,
    caCertPath: ca.caCertPath,
    keyPath,
    fingerprint,
    requests,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An empty Debian-like root: apt's folders and an empty dpkg database, nothing installed. */
export async function createAptRoot(options: { caCertPath?: string } = {}): Promise<AptRoot> {
  const dir = await mkdtemp(path.join(tmpdir(), "apt-root-"));
  // apt downloads and checks signatures as `_apt`: it must be able to walk into the root.
  await chmod(dir, 0o755);
  const folders = [
    "etc/apt/sources.list.d",
    "etc/apt/apt.conf.d",
    "etc/apt/preferences.d",
    "etc/apt/trusted.gpg.d",
    "var/lib/apt/lists/partial",
    "var/cache/apt/archives/partial",
    "var/lib/dpkg/info",
    "var/lib/dpkg/updates",
    "var/lib/dpkg/triggers",
    "var/log/apt",
  ];
  for (const folder of folders) await mkdir(path.join(dir, folder), { recursive: true, mode: 0o755 });
  await writeFile(path.join(dir, "var/lib/dpkg/status"), "");
  const aptConfig = path.join(dir, "apt.conf");
  await writeFile(
    aptConfig,
    `Dir "${dir}/";\nDir::State::status "${dir}/var/lib/dpkg/status";\nDPkg::Options { "--root=${dir}"; "--log=${dir}/var/log/dpkg.log"; };\n${
      options.caCertPath ? `Acquire::https::CAInfo "${options.caCertPath}";\n` : ""
    }`,
  );
  return {
    dir,
    aptConfig,
    holdDpkgLock: () => holdLock(path.join(dir, "var/lib/dpkg/lock-frontend")),
    snapshot: async () => {
      const seen: Record<string, string> = {};
      for (const top of ["etc", "var/lib/apt", "usr/share"]) {
        for (const entry of await readdir(path.join(dir, top), { recursive: true, withFileTypes: true }).catch(() => [])) {
          const file = path.join(entry.parentPath, entry.name);
          const info = await stat(file);
          seen[path.relative(dir, file)] = entry.isFile() ? `${(info.mode & 0o777).toString(8)} ${sha256(await readFile(file))}` : "dir";
        }
      }
      return seen;
    },
  };
}

/**
 * apt and dpkg lock with fcntl(F_SETLK), which no Node API offers: perl (always there, dpkg needs
 * it) holds a write lock. The struct flock layout is the one of 64-bit Linux (x86_64, arm64).
 */
async function holdLock(file: string): Promise<{ release(): void }> {
  const { spawn } = await import("node:child_process");
  const script =
    'use Fcntl; open(my $f, ">>", $ARGV[0]) or die; my $l = pack("s s x4 q q l x4", F_WRLCK, 0, 0, 0, 0); fcntl($f, F_SETLKW, $l) or die "lock: $!"; $| = 1; print "locked\\n"; <STDIN>;';
  const child = spawn("perl", ["-e", script, file], { stdio: ["pipe", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`perl could not hold the lock (exit ${code})`)));
  });
  return { release: () => child.stdin.end() };
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}
