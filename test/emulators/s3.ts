// A real S3-compatible server on loopback (s3rver, from npm: multipart, ListObjectsV2, path-style
// requests), behind a small front that adds what s3rver lacks and records what it received:
// - SigV4: s3rver accepts any signature; the front recomputes each request's signature with the
//   SDK's own signer (@smithy/signature-v4) from the expected secret and answers 403
//   InvalidAccessKeyId / SignatureDoesNotMatch as S3 does;
// - Object Lock: s3rver has none; the front answers GetObjectLockConfiguration and
//   GetBucketVersioning from its switches, records the lock headers of each write, and returns a
//   recorded retention on HeadObject. What a real store does with those headers is not emulated.
import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { SignatureV4 } from "@smithy/signature-v4";
import S3rver from "s3rver";

/** The signer's hash interface over node:crypto: HMAC-SHA256 with a secret, SHA-256 without. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

export interface S3Request {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
}

export interface S3Emulator {
  /** http://127.0.0.1:<port> of the front. */
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  requests: S3Request[];
  /** Switches: the bucket has Object Lock, versioning. */
  objectLock: boolean;
  versioned: boolean;
  /** Retention recorded per key from the writes' headers (Object Lock on). */
  locks: Map<string, { mode: string; until: string }>;
  /** Requests answered 403 AccessDenied after the signature check (a policy that allows less). */
  deny?: (r: S3Request) => boolean;
  /** Keys of the multipart uploads aborted. */
  aborted: string[];
  close(): Promise<void>;
}

export async function startS3Emulator(o: { bucket?: string; createBucket?: boolean } = {}): Promise<S3Emulator> {
  const bucket = o.bucket ?? "backups";
  const directory = await mkdtemp(path.join(tmpdir(), "s3rver-"));
  const s3rver = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: o.createBucket === false ? [] : [{ name: bucket }],
  });
  const inner = (await s3rver.run()) as AddressInfo;
  const emulator: S3Emulator = {
    endpoint: "",
    port: 0,
    // s3rver knows this one key id (and checks no signature): the front checks the signature
    // against a random secret of the test's own.
    accessKeyId: "S3RVER",
    secretAccessKey: randomBytes(30).toString("base64"),
    bucket,
    requests: [],
    objectLock: false,
    versioned: false,
    locks: new Map(),
    aborted: [],
    close: async () => {
      await new Promise((resolve) => front.close(resolve));
      await s3rver.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
  const front: Server = createServer((req, res) => {
    handle(emulator, inner.port, req, res).catch((error) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
  emulator.port = (front.address() as AddressInfo).port;
  emulator.endpoint = `http://127.0.0.1:${emulator.port}`;
  return emulator;
}

async function handle(e: S3Emulator, innerPort: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://front");
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : (v ?? "")]));
  e.requests.push({ method: req.method ?? "", path: url.pathname, query: url.search, headers });
  const denied = await signatureProblem(e, req, url, headers);
  if (denied) {
    if (process.env.S3_FRONT_DEBUG) console.log("front denied", denied);
    return xmlError(res, 403, denied.code, denied.message);
  }

  if (e.deny?.(e.requests[e.requests.length - 1] as S3Request)) return xmlError(res, 403, "AccessDenied", "Access Denied");
  const [, bucket, ...keyParts] = url.pathname.split("/");
  const key = decodeURIComponent(keyParts.join("/"));
  if (bucket === e.bucket && !key && req.method === "GET" && url.searchParams.has("object-lock")) {
    if (!e.objectLock) return xmlError(res, 404, "ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket");
    return xml(res, 200, "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>");
  }
  if (bucket === e.bucket && !key && req.method === "GET" && url.searchParams.has("versioning"))
    return xml(res, 200, `<VersioningConfiguration>${e.versioned || e.objectLock ? "<Status>Enabled</Status>" : ""}</VersioningConfiguration>`);
  // s3rver has no AbortMultipartUpload (405): answered as S3 does; its stored parts never become an object.
  if (key && req.method === "DELETE" && url.searchParams.has("uploadId")) {
    e.aborted.push(key);
    res.writeHead(204).end();
    return;
  }
  const mode = headers["x-amz-object-lock-mode"];
  const until = headers["x-amz-object-lock-retain-until-date"];
  if (mode && until && key) {
    if (!e.objectLock) return xmlError(res, 400, "InvalidRequest", "Bucket is missing Object Lock Configuration");
    e.locks.set(key, { mode, until });
  }
  forward(innerPort, req, res, key && req.method === "HEAD" ? e.locks.get(key) : undefined);
}

function forward(port: number, req: IncomingMessage, res: ServerResponse, lock?: { mode: string; until: string }): void {
  const upstream = request({ host: "127.0.0.1", port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
    const extra = lock ? { "x-amz-object-lock-mode": lock.mode, "x-amz-object-lock-retain-until-date": lock.until } : {};
    res.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...extra });
    answer.pipe(res);
  });
  upstream.on("error", () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(upstream);
}

/** Recomputes the request's SigV4 signature with the expected secret, as S3 does. */
async function signatureProblem(e: S3Emulator, req: IncomingMessage, url: URL, headers: Record<string, string>) {
  const auth = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
    headers.authorization ?? "",
  );
  if (!auth) return { code: "AccessDenied", message: "Anonymous access is forbidden" };
  const [, keyId, , region, signed, signature] = auth as unknown as [string, string, string, string, string, string];
  if (keyId !== e.accessKeyId) return { code: "InvalidAccessKeyId", message: "The AWS Access Key Id you provided does not exist in our records." };
  const signedNames = signed.split(";");
  const signer = new SignatureV4({
    service: "s3",
    region,
    credentials: { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey },
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? [...[query[k] as string].flat(), v] : v;
  const date = headers["x-amz-date"] ?? "";
  const signingDate = new Date(date.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"));
  const copy = await signer.sign(
    {
      method: req.method ?? "GET",
      protocol: "http:",
      hostname: (headers.host ?? "").split(":")[0] ?? "",
      path: url.pathname,
      query,
      headers: Object.fromEntries(signedNames.map((n) => [n, headers[n] ?? ""])),
    },
    { signingDate, signableHeaders: new Set(signedNames) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(copy.headers.authorization))?.[1];
  if (expected !== signature)
    return {
      code: "SignatureDoesNotMatch",
      message: "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    };
  return undefined;
}

function bytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === "string") return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

function xml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "application/xml" }).end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
}

function xmlError(res: ServerResponse, status: number, code: string, message: string): void {
  xml(res, status, `<Error><Code>${code}</Code><Message>${message}</Message><RequestId>front-${randomBytes(4).toString("hex")}</RequestId></Error>`);
}
