// Emulator of the GitHub Actions results service (Twirp, JSON) and of the Azure blob store behind
// it, as @actions/artifact v6 uploadArtifact uses them. One node:http server on 127.0.0.1 serves
// both: /twirp/... is the results service, /<account>/<container>/<blob> the blob store.
// Shapes follow the package's generated protobuf-ts code (lib/generated/results/api/v1) and the
// Go Twirp server GitHub runs: requests arrive with proto field names (snake_case), int64 as strings,
// wrappers (mime_type, hash) as bare strings, Timestamp as RFC 3339; answers use proto names too.
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobStore, drain, readSmallBody, replyError } from "./artifact-blob.js";

export interface StoredArtifact {
  id: number;
  name: string;
  mimeType?: string;
  expiresAt?: string;
  path: string; // file holding the committed bytes ("" until the blob is committed)
  size: number;
  sha256: string;
  finalized: boolean;
}

export interface ArtifactEmulator {
  resultsUrl: string;
  /** The token of the emulator's first workflow run. */
  runtimeToken: string;
  /** Another workflow run (its own token, its own artifact names), as each scenario of a test file is. */
  newRun(): { resultsUrl: string; runtimeToken: string };
  /** Every artifact by name, the latest run's when two runs used one name. */
  artifacts: Map<string, StoredArtifact>;
  /** Every request answered; `path` is the URL path plus `?comp=<op>` for blob calls (never the SAS). */
  requests: { method: string; path: string; status: number }[];
  /** Every request's headers (signature and token included: for contract tests) and, for Twirp, its JSON body. */
  trace: { method: string; path: string; headers: Record<string, string>; body?: Json }[];
  /** The next `times` requests whose `path` (as logged in `requests`) matches answer `status` (and `message`), unprocessed. */
  failNext(path: RegExp, status: number, times?: number, message?: string): void;
  close(): Promise<void>;
}

const SERVICE_PREFIX = "/twirp/github.actions.results.api.v1.ArtifactService/";
// Same list as the client's validateArtifactName: the service rejects them too.
const INVALID_NAME_CHARS = ['"', ":", "<", ">", "|", "*", "?", "\r", "\n", "\\", "/"];
// Real artifact ids passed 2^31 in 2025: start above it so int32 truncation shows up in tests.
const FIRST_ARTIFACT_ID = 3_000_000_001;

/** Twirp's error codes and the HTTP status each maps to (twirp spec "Error codes"). */
const TWIRP_CODES: Record<number, string> = {
  400: "invalid_argument",
  401: "unauthenticated",
  403: "permission_denied",
  404: "not_found",
  409: "already_exists",
  412: "failed_precondition",
  429: "resource_exhausted",
  500: "internal",
  503: "unavailable",
  504: "deadline_exceeded",
};

class TwirpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = TWIRP_CODES[status] ?? "unknown",
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

/** protojson accepts a field under its proto name or its lowerCamelCase JSON name. */
function field(body: Json, protoName: string): unknown {
  const camel = protoName.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return body[protoName] ?? body[camel];
}

function str(body: Json, protoName: string): string {
  const v = field(body, protoName) ?? ""; // proto3: an absent field is its default
  if (typeof v !== "string") throw new TwirpError(400, `${protoName} must be a string`, "malformed");
  return v;
}

function base64url(o: object): string {
  return Buffer.from(JSON.stringify(o)).toString("base64url");
}

export async function startArtifactEmulator(): Promise<ArtifactEmulator> {
  const dir = await mkdtemp(join(tmpdir(), "artifact-emulator-"));
  // Names are unique per workflow run: each run has its own runtime token, and its own names.
  const runs = new Map<string, Run>();
  const newRun = (): { resultsUrl: string; runtimeToken: string } => {
    const run: Run = { runId: randomUUID(), jobId: randomUUID(), names: new Map() };
    // The client only decodes the token (jwt-decode), it never checks a signature: alg "none" is enough.
    const now = Math.floor(Date.now() / 1000);
    const token = `${base64url({ typ: "JWT", alg: "none" })}.${base64url({
      scp: `Actions.ExampleScope Actions.Results:${run.runId}:${run.jobId}`,
      iss: "vstoken.actions.githubusercontent.com",
      nbf: now - 60,
      exp: now + 6 * 3600,
    })}.`;
    runs.set(token, run);
    return { resultsUrl: `${origin}/`, runtimeToken: token };
  };
  const artifacts = new Map<string, StoredArtifact>();
  const requests: ArtifactEmulator["requests"] = [];
  const trace: ArtifactEmulator["trace"] = [];
  const faults: { path: RegExp; status: number; left: number; message: string }[] = [];
  let nextId = FIRST_ARTIFACT_ID;
  let blobs: BlobStore | undefined;

  function checkIds(body: Json, run: Run): void {
    if (str(body, "workflow_run_backend_id") !== run.runId || str(body, "workflow_job_run_backend_id") !== run.jobId) {
      throw new TwirpError(403, "workflow run or job backend ID does not match the runtime token");
    }
  }

  function createArtifact(body: Json, run: Run): Json {
    checkIds(body, run);
    const name = str(body, "name");
    const bad = INVALID_NAME_CHARS.find((c) => name.includes(c));
    if (!name || bad) throw new TwirpError(400, `invalid artifact name ${JSON.stringify(name)}`);
    // Reserved at creation, finalized or not: a failed upload burns the name for the whole run.
    if (run.names.has(name)) throw new TwirpError(409, "an artifact with this name already exists on the workflow run");
    const expiresAt = field(body, "expires_at");
    if (expiresAt !== undefined && (typeof expiresAt !== "string" || Number.isNaN(Date.parse(expiresAt)))) {
      throw new TwirpError(400, "expires_at must be an RFC 3339 timestamp", "malformed");
    }
    const mimeType = field(body, "mime_type");
    const stored: StoredArtifact = {
      id: nextId++,
      name,
      path: "",
      size: 0,
      sha256: "",
      finalized: false,
      ...(typeof mimeType === "string" ? { mimeType } : {}),
      ...(typeof expiresAt === "string" ? { expiresAt } : {}),
    };
    run.names.set(name, stored);
    artifacts.set(name, stored);
    const blobName = `${run.runId}/workflow-job-run-${run.jobId}/artifacts/${createHash("sha256").update(name).digest("hex")}.zip`;
    const signedUploadUrl = (blobs as BlobStore).register(blobName, (c) => Object.assign(stored, { path: c.path, size: c.size, sha256: c.sha256 }));
    return { ok: true, signed_upload_url: signedUploadUrl };
  }

  function finalizeArtifact(body: Json, run: Run): Json {
    checkIds(body, run);
    const stored = run.names.get(str(body, "name"));
    if (!stored) throw new TwirpError(404, "artifact not found");
    if (stored.finalized) throw new TwirpError(409, "artifact is already finalized");
    if (!stored.path) throw new TwirpError(412, "artifact upload was not committed");
    // int64 comes as a string (or a number from lenient clients); "0" is left out by the client.
    const size = field(body, "size") ?? "0";
    if (String(size) !== String(stored.size)) {
      throw new TwirpError(400, `size ${size} does not match the ${stored.size} bytes uploaded`);
    }
    const hash = field(body, "hash");
    if (hash !== undefined && hash !== `sha256:${stored.sha256}`) {
      throw new TwirpError(400, `hash ${String(hash)} does not match the uploaded bytes`);
    }
    stored.finalized = true;
    return { ok: true, artifact_id: String(stored.id) };
  }

  async function twirp(req: IncomingMessage, res: ServerResponse, method: string): Promise<number> {
    try {
      if (req.method !== "POST") throw new TwirpError(404, `unsupported method ${req.method}`, "bad_route");
      const handler = ({ CreateArtifact: createArtifact, FinalizeArtifact: finalizeArtifact } as Record<string, (b: Json, run: Run) => Json>)[method];
      if (!handler) throw new TwirpError(404, `no handler for ${method}`, "bad_route");
      if (!String(req.headers["content-type"]).startsWith("application/json")) {
        throw new TwirpError(404, "the emulator speaks Twirp JSON only", "bad_route");
      }
      const run = runs.get(String(req.headers.authorization).replace(/^Bearer /, ""));
      if (!run) throw new TwirpError(401, "invalid or missing runtime token");
      let body: unknown;
      try {
        body = JSON.parse((await readSmallBody(req, 1024 * 1024)).toString("utf8"));
      } catch {
        throw new TwirpError(400, "request body is not JSON", "malformed");
      }
      if (typeof body !== "object" || body === null) throw new TwirpError(400, "request body is not an object", "malformed");
      const entry = trace.findLast((t) => t.headers === req.headers);
      if (entry) entry.body = body as Json;
      return sendJson(res, 200, handler(body as Json, run));
    } catch (e) {
      const err = e instanceof TwirpError ? e : new TwirpError(500, String(e));
      await drain(req);
      return sendJson(res, err.status, { code: err.code, msg: err.message });
    }
  }

  /** Answers an armed fault, after reading the body as the real services do; undefined when none matches. */
  async function injectedFault(req: IncomingMessage, res: ServerResponse, path: string): Promise<number | undefined> {
    const fault = faults.find((f) => f.left > 0 && f.path.test(path));
    if (!fault) return undefined;
    fault.left--;
    await drain(req);
    if (path.startsWith("/twirp/")) return sendJson(res, fault.status, { code: TWIRP_CODES[fault.status] ?? "unknown", msg: fault.message });
    replyError(res, fault.status, fault.status >= 500 ? "ServerBusy" : "InjectedFault", fault.message);
    return fault.status;
  }

  const server = createServer((req, res) => {
    // A client that aborts mid-body makes req emit 'error'; the handlers see it through their own
    // streams, and without a listener it would crash the test process.
    req.on("error", () => undefined);
    const url = new URL(req.url ?? "/", "http://emulator");
    const comp = url.searchParams.get("comp");
    const path = url.pathname + (comp ? `?comp=${comp}` : "");
    trace.push({ method: req.method ?? "", path, headers: req.headers as Record<string, string> });
    const answer = async (): Promise<number> => {
      const faulted = await injectedFault(req, res, path);
      if (faulted !== undefined) return faulted;
      if (url.pathname.startsWith(SERVICE_PREFIX)) return twirp(req, res, url.pathname.slice(SERVICE_PREFIX.length));
      return (blobs as BlobStore).handle(req, res, url);
    };
    answer().then(
      (status) => requests.push({ method: req.method ?? "", path, status }),
      (e) => {
        requests.push({ method: req.method ?? "", path, status: 500 });
        if (!res.headersSent) sendJson(res, 500, { code: "internal", msg: String(e) });
      },
    );
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve, reject) => server.once("listening", resolve).once("error", reject));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  blobs = new BlobStore(dir, origin);
  // The client keeps only the origin of ACTIONS_RESULTS_URL anyway.
  const { runtimeToken } = newRun();

  return {
    resultsUrl: `${origin}/`,
    runtimeToken,
    newRun,
    artifacts,
    requests,
    trace,
    failNext(path, status, times = 1, message = "injected fault") {
      faults.push({ path, status, left: times, message });
    },
    async close() {
      server.closeAllConnections(); // the Azure SDK keeps sockets alive
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface Run {
  runId: string;
  jobId: string;
  names: Map<string, StoredArtifact>;
}

function sendJson(res: ServerResponse, status: number, body: Json): number {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
  return status;
}
