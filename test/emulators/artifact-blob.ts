// The Azure Blob half of the artifact emulator: what @azure/storage-blob's
// BlockBlobClient.uploadStream talks to once CreateArtifact has handed out a signed URL.
// uploadStream never sends a whole blob: it stages 8 MiB blocks (PUT ?comp=block&blockid=<b64>,
// up to 5 at once) and commits them (PUT ?comp=blocklist, XML). Each block is written straight
// into one staging file, at an offset reserved from its Content-Length when its request arrives.
// A commit that lists the blocks in the order they were sent (uploadStream's does), or that only
// moves blocks sent again at the end into their place, is then a rename plus one read for the
// sha256, instead of a copy of every block into a new file, which cost the action ~3.7 s per GB
// of upload time here; any other list is copied range by range.
// Nothing ever sits in memory, so a 1 GB dump does not either.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, truncate, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface CommittedBlob {
  path: string;
  size: number;
  sha256: string;
  contentType?: string;
}

interface Blob {
  serial: number;
  sig: string;
  staging: string; // the file blocks are written into, each at its own range
  created?: Promise<void>; // the staging file exists (blocks open it r+ to write in place)
  reserved: number; // bytes reserved so far: the next block's offset
  staged: Map<string, { offset: number; length: number }>; // block id (base64, as sent) -> its latest complete staging
  blockIdLength?: number; // Azure wants every block id of a blob to decode to the same length
  onCommit(c: CommittedBlob): void;
}

/** An error Azure would answer: status, x-ms-error-code and the XML body the SDK parses. */
class AzureError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// Azure's block id limit: 64 bytes once base64-decoded.
const MAX_BLOCK_ID_BYTES = 64;
// A commit list is ids only (~80 bytes each, 50,000 blocks at most): no need to stream it.
const MAX_BLOCKLIST_BYTES = 8 * 1024 * 1024;

export class BlobStore {
  private readonly blobs = new Map<string, Blob>();
  private serial = 0;
  private stagings = 0;

  /** An empty staging file name for the blob: at registration, and after each commit. */
  private restage(blob: Blob): void {
    const staging = join(this.dir, `blob${blob.serial}-staging${++this.stagings}`);
    Object.assign(blob, { staging, created: undefined, reserved: 0, staged: new Map(), blockIdLength: undefined });
  }

  constructor(
    private readonly dir: string,
    private readonly origin: string,
  ) {}

  /** Reserves a blob path and returns its signed URL (IP-style, as Azurite's: /<account>/<container>/<blob>). */
  register(blobName: string, onCommit: (c: CommittedBlob) => void): string {
    const pathname = `/productionresultssa0/actions-results/${blobName}`;
    const sig = randomBytes(24).toString("base64");
    const blob = { serial: ++this.serial, sig, onCommit } as Blob;
    this.restage(blob);
    this.blobs.set(pathname, blob);
    const expiry = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, "Z");
    const query = new URLSearchParams({ sv: "2023-11-03", se: expiry, sr: "b", sp: "cw", sig });
    return `${this.origin}${pathname}?${query}`;
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<number> {
    try {
      const blob = this.blobs.get(url.pathname);
      // Azure answers 403 for a SAS that does not match, whatever the path: no way to probe blobs.
      if (!blob || url.searchParams.get("sig") !== blob.sig) {
        throw new AzureError(403, "AuthenticationFailed", "Server failed to authenticate the request.");
      }
      if (req.method !== "PUT") throw new AzureError(405, "UnsupportedHttpVerb", `${req.method} is not supported by the emulator`);
      // Newer SDKs can wrap bodies in a CRC64 "structured message"; @actions/artifact does not ask for it.
      if (req.headers["x-ms-structured-body"]) {
        throw new AzureError(400, "UnsupportedHeader", "the emulator does not decode x-ms-structured-body");
      }
      reply(res, 201, await this.put(blob, req, url.searchParams));
      return 201;
    } catch (e) {
      const err = e instanceof AzureError ? e : new AzureError(500, "InternalError", String(e));
      await drain(req);
      replyError(res, err.status, err.code, err.message);
      return err.status;
    }
  }

  private put(blob: Blob, req: IncomingMessage, query: URLSearchParams): Promise<Record<string, string>> {
    const comp = query.get("comp");
    switch (comp) {
      case "block":
        return this.putBlock(blob, req, query.get("blockid"));
      case "blocklist":
        return this.putBlockList(blob, req);
      case null:
        return this.putBlob(blob, req);
      default:
        throw new AzureError(400, "InvalidQueryParameterValue", `comp=${comp} is not supported by the emulator`);
    }
  }

  private async putBlock(blob: Blob, req: IncomingMessage, blockId: string | null): Promise<Record<string, string>> {
    const decoded = blockId === null ? null : Buffer.from(blockId, "base64");
    if (!blockId || !decoded || decoded.length === 0 || decoded.length > MAX_BLOCK_ID_BYTES || decoded.toString("base64") !== blockId) {
      throw new AzureError(400, "InvalidQueryParameterValue", `invalid blockid ${blockId}`);
    }
    if (blob.blockIdLength !== undefined && blob.blockIdLength !== decoded.length) {
      throw new AzureError(400, "InvalidBlobOrBlock", "all block ids of a blob must have the same length");
    }
    blob.blockIdLength = decoded.length;
    // Reserved before the body arrives, in request order: uploadStream sends blocks in list order.
    const range = { offset: blob.reserved, length: declaredLength(req) };
    blob.reserved += range.length;
    blob.created ??= writeFile(blob.staging, "");
    await blob.created;
    // On failure the range stays unused, so a commit can no longer be a rename: it copies instead.
    const md5 = await this.receiveBody(req, createWriteStream(blob.staging, { flags: "r+", start: range.offset }));
    blob.staged.set(blockId, range); // staging the same id again replaces the block
    return { "content-md5": md5, "x-ms-request-server-encrypted": "true" };
  }

  private async putBlockList(blob: Blob, req: IncomingMessage): Promise<Record<string, string>> {
    const xml = (await readSmallBody(req, MAX_BLOCKLIST_BYTES)).toString("utf8");
    // An empty list (empty upload) serializes as <BlockList/>.
    if (!/<BlockList\s*\/>|<BlockList>[\s\S]*<\/BlockList>/.test(xml)) throw new AzureError(400, "InvalidXmlDocument", "no <BlockList>");
    // <Committed> would name blocks of the previous commit; the emulator folds those into the blob
    // file, and @actions/artifact only sends <Latest>, so only staged blocks resolve.
    const ids = [...xml.matchAll(/<(Latest|Uncommitted|Committed)>([^<]*)<\/\1>/g)].map((m) => m[2] as string);
    const missing = ids.filter((id) => !blob.staged.has(id));
    if (missing.length > 0) throw new AzureError(400, "InvalidBlockList", `blocks not staged: ${missing.join(", ")}`);
    const target = join(this.dir, `blob${blob.serial}.data`);
    const ranges = ids.map((id) => blob.staged.get(id) as { offset: number; length: number });
    blob.created ??= writeFile(blob.staging, ""); // an empty list: an empty blob
    await blob.created;
    const partial = `${target}.${randomUUID()}.part`;
    const plan = inPlace(ranges);
    if (plan) {
      // Blocks staged again after later ones (Azure allows a block id to be staged again before
      // the commit) move to their place in the file.
      for (const m of plan.moves) {
        await pipeline(
          createReadStream(blob.staging, { start: m.from, end: m.from + m.length - 1 }),
          createWriteStream(blob.staging, { flags: "r+", start: m.to }),
        );
      }
      await truncate(blob.staging, plan.size);
    }
    const out = plan ? undefined : createWriteStream(partial);
    const hash = createHash("sha256");
    let size = 0;
    for (const r of (plan ? [{ offset: 0, length: plan.size }] : ranges).filter((r) => r.length > 0)) {
      for await (const chunk of createReadStream(blob.staging, {
        start: r.offset,
        end: r.offset + r.length - 1,
        highWaterMark: 4 << 20,
      }) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
        if (out && !out.write(chunk)) await once(out, "drain");
      }
    }
    if (out) {
      out.end();
      await once(out, "close");
      await rename(partial, target);
      await rm(blob.staging, { force: true }); // Azure discards the uncommitted blocks
    } else {
      await rename(blob.staging, target);
    }
    this.restage(blob); // blocks staged after a commit go to a new staging file
    const contentType = header(req, "x-ms-blob-content-type");
    blob.onCommit({ path: target, size, sha256: hash.digest("hex"), ...(contentType ? { contentType } : {}) });
    return committedHeaders();
  }

  /** Put Blob (one request, no blocks): uploadStream never sends it, uploadFile/uploadData may. */
  private async putBlob(blob: Blob, req: IncomingMessage): Promise<Record<string, string>> {
    if (header(req, "x-ms-blob-type") !== "BlockBlob") {
      throw new AzureError(400, "MissingRequiredHeader", "x-ms-blob-type: BlockBlob is required");
    }
    declaredLength(req); // 411 before any file is created
    const target = join(this.dir, `blob${blob.serial}.data`);
    const partial = `${target}.${randomUUID()}.part`; // a cut upload never replaces good data
    const hash = createHash("sha256");
    let size = 0;
    const md5 = await this.receiveBody(req, createWriteStream(partial), (c) => {
      hash.update(c);
      size += c.length;
    }).catch(async (e: unknown) => {
      await rm(partial, { force: true });
      throw e;
    });
    await rename(partial, target);
    const contentType = header(req, "x-ms-blob-content-type");
    blob.onCommit({ path: target, size, sha256: hash.digest("hex"), ...(contentType ? { contentType } : {}) });
    return { ...committedHeaders(), "content-md5": md5 };
  }

  /** Streams a request body into `sink`, checking it against Content-Length and Content-MD5; returns its MD5. */
  private async receiveBody(req: IncomingMessage, sink: Writable, onChunk?: (c: Buffer) => void): Promise<string> {
    const declared = declaredLength(req);
    const md5 = createHash("md5");
    let received = 0;
    // Attached in the same tick as the pipeline below, so both see every chunk.
    req.on("data", (c: Buffer) => {
      md5.update(c);
      received += c.length;
      onChunk?.(c);
    });
    await pipeline(req, sink);
    const digest = md5.digest("base64");
    const expectedMd5 = header(req, "content-md5") ?? header(req, "x-ms-content-md5");
    if (received !== declared || (expectedMd5 && expectedMd5 !== digest)) {
      throw new AzureError(400, "Md5Mismatch", `body of ${received} bytes does not match its headers`);
    }
    return digest;
  }
}

/**
 * Whether the staging file can become the committed blob without a copy: blocks not at their
 * place yet (sent again later, like the start of a custom dump) move there in list order, which is
 * safe when no move writes over bytes a later move still has to read. Few moves only: a list in
 * some other order is copied.
 */
function inPlace(ranges: { offset: number; length: number }[]): { moves: { from: number; to: number; length: number }[]; size: number } | undefined {
  const moves: { from: number; to: number; length: number }[] = [];
  let end = 0;
  for (const r of ranges) {
    if (r.offset !== end && r.length > 0) moves.push({ from: r.offset, to: end, length: r.length });
    end += r.length;
  }
  if (moves.length > 64) return undefined;
  const overlap = (a: number, b: number, length: number, lengthB: number) => a < b + lengthB && b < a + length;
  const safe = moves.every(
    (m, i) =>
      // a forward copy onto itself is safe when it moves down
      (m.to <= m.from || !overlap(m.to, m.from, m.length, m.length)) && moves.slice(i + 1).every((later) => !overlap(m.to, later.from, m.length, later.length)),
  );
  return safe ? { moves, size: end } : undefined;
}

function declaredLength(req: IncomingMessage): number {
  const declared = Number(header(req, "content-length") ?? Number.NaN);
  if (!Number.isSafeInteger(declared) || declared < 0) throw new AzureError(411, "MissingContentLengthHeader", "Content-Length is required");
  return declared;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function committedHeaders(): Record<string, string> {
  return {
    etag: `"0x${randomBytes(8).toString("hex").toUpperCase()}"`,
    "last-modified": new Date().toUTCString(),
    "x-ms-request-server-encrypted": "true",
    "x-ms-version-id": new Date().toISOString(),
  };
}

/** Headers every Azure answer carries; the SDK maps them into its response objects. */
function reply(res: ServerResponse, status: number, headers: Record<string, string>, body = ""): void {
  res.writeHead(status, {
    "x-ms-request-id": randomUUID(),
    "x-ms-version": "2025-11-05",
    date: new Date().toUTCString(),
    server: "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0",
    "content-length": Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

export function replyError(res: ServerResponse, status: number, code: string, message: string): void {
  const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}\nTime:${new Date().toISOString()}</Message></Error>`;
  reply(res, status, { "x-ms-error-code": code, "content-type": "application/xml" }, body);
}

function escapeXml(s: string): string {
  return s.replace(/[<>&]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;" })[c] as string);
}

/** Reads the rest of a body and throws it away: answering before the client finished sending breaks its socket. */
export async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  req.resume();
  await once(req, "end").catch(() => undefined);
}

export async function readSmallBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new AzureError(413, "RequestBodyTooLarge", `body over ${limit} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
