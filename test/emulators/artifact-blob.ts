// The Azure Blob half of the artifact emulator: what @azure/storage-blob's
// BlockBlobClient.uploadStream talks to once CreateArtifact has handed out a signed URL.
// uploadStream never sends a whole blob: it stages 8 MiB blocks (PUT ?comp=block&blockid=<b64>,
// up to 5 at once) and commits them (PUT ?comp=blocklist, XML). Blocks go to files and the commit
// concatenates them into one file, so a 1 GB dump never sits in memory.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
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
  staged: Map<string, string>; // block id (base64, as sent) -> file holding the block
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

  constructor(
    private readonly dir: string,
    private readonly origin: string,
  ) {}

  /** Reserves a blob path and returns its signed URL (IP-style, as Azurite's: /<account>/<container>/<blob>). */
  register(blobName: string, onCommit: (c: CommittedBlob) => void): string {
    const pathname = `/productionresultssa0/actions-results/${blobName}`;
    const sig = randomBytes(24).toString("base64");
    this.blobs.set(pathname, { serial: ++this.serial, sig, staged: new Map(), onCommit });
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
    const file = join(this.dir, `blob${blob.serial}-block-${decoded.toString("hex")}`);
    const md5 = await this.receiveBody(req, file);
    blob.staged.set(blockId, file); // staging the same id again replaces the block (same file name)
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
    const partial = `${target}.${randomUUID()}.part`;
    const out = createWriteStream(partial);
    const hash = createHash("sha256");
    let size = 0;
    for (const [i, id] of ids.entries()) {
      const file = blob.staged.get(id) as string;
      for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
        if (!out.write(chunk)) await once(out, "drain");
      }
      // Drop each block as soon as it is copied, so a commit needs ~1x the blob on disk, not 2x.
      if (!ids.includes(id, i + 1)) await rm(file, { force: true });
    }
    out.end();
    await once(out, "close");
    await rename(partial, target);
    // Azure discards the uncommitted blocks that the list did not name.
    await Promise.all([...blob.staged.values()].map((f) => rm(f, { force: true })));
    blob.staged.clear();
    blob.blockIdLength = undefined;
    const contentType = header(req, "x-ms-blob-content-type");
    blob.onCommit({ path: target, size, sha256: hash.digest("hex"), ...(contentType ? { contentType } : {}) });
    return committedHeaders();
  }

  /** Put Blob (one request, no blocks): uploadStream never sends it, uploadFile/uploadData may. */
  private async putBlob(blob: Blob, req: IncomingMessage): Promise<Record<string, string>> {
    if (header(req, "x-ms-blob-type") !== "BlockBlob") {
      throw new AzureError(400, "MissingRequiredHeader", "x-ms-blob-type: BlockBlob is required");
    }
    const target = join(this.dir, `blob${blob.serial}.data`);
    const hash = createHash("sha256");
    let size = 0;
    const md5 = await this.receiveBody(req, target, (c) => {
      hash.update(c);
      size += c.length;
    });
    const contentType = header(req, "x-ms-blob-content-type");
    blob.onCommit({ path: target, size, sha256: hash.digest("hex"), ...(contentType ? { contentType } : {}) });
    return { ...committedHeaders(), "content-md5": md5 };
  }

  /** Streams a request body to `file` (via a temp name, so a cut upload never replaces good data). */
  private async receiveBody(req: IncomingMessage, file: string, onChunk?: (c: Buffer) => void): Promise<string> {
    const declared = header(req, "content-length");
    if (declared === undefined) throw new AzureError(411, "MissingContentLengthHeader", "Content-Length is required");
    const partial = `${file}.${randomUUID()}.part`;
    const md5 = createHash("md5");
    let received = 0;
    // Attached in the same tick as the pipeline below, so both see every chunk.
    req.on("data", (c: Buffer) => {
      md5.update(c);
      received += c.length;
      onChunk?.(c);
    });
    try {
      await pipeline(req, createWriteStream(partial));
    } catch (e) {
      await rm(partial, { force: true });
      throw e;
    }
    const digest = md5.digest("base64");
    const expectedMd5 = header(req, "content-md5") ?? header(req, "x-ms-content-md5");
    if (received !== Number(declared) || (expectedMd5 && expectedMd5 !== digest)) {
      await rm(partial, { force: true });
      throw new AzureError(400, "Md5Mismatch", `body of ${received} bytes does not match its headers`);
    }
    await rename(partial, file);
    return digest;
  }
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
