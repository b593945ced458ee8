import { ActionError, errorMessage } from "../errors.js";
import { type Clock, DEFAULT_RETRY, type RetryPolicy, realClock, requestJson } from "../scalingo/http.js";

// The two calls of GitHub's results service that an artifact upload needs, sent exactly as
// @actions/artifact 6.2.1 sends them (test/artifact-contract.test.ts compares the two clients
// request by request): Twirp JSON with proto field names, int64 as strings, wrappers bare.
// The action talks to the service itself rather than through uploadArtifact because that
// function only uploads a finished file from five 8 MiB buffers; see src/block-upload.ts.

const SERVICE = "/twirp/github.actions.results.api.v1.ArtifactService/";
/** The artifact format version @actions/artifact writes for uploads it does not zip. */
const ARTIFACT_VERSION = 7;

export interface ResultsService {
  /** Reserves the name in this run and answers where the bytes go (an Azure SAS URL). */
  create(name: string, mimeType: string, expiresAt?: Date): Promise<string>;
  /** Makes the artifact visible; answers its id. */
  finalize(name: string, size: number, sha256: string): Promise<number>;
}

export interface ResultsEnv {
  ACTIONS_RUNTIME_TOKEN?: string;
  ACTIONS_RESULTS_URL?: string;
  GITHUB_SERVER_URL?: string;
}

/** Backend ids from the runtime token's `scp` claim (`Actions.Results:<run>:<job>`); the token is only decoded. */
export function backendIds(token: string): { workflow_run_backend_id: string; workflow_job_run_backend_id: string } {
  let scp: unknown;
  try {
    scp = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")).scp;
  } catch {
    scp = undefined;
  }
  const scope = typeof scp === "string" ? scp.split(" ").find((s) => s.startsWith("Actions.Results:")) : undefined;
  const parts = scope?.split(":") ?? [];
  if (parts.length !== 3 || !parts[1] || !parts[2]) {
    throw new ActionError("upload", "ACTIONS_RUNTIME_TOKEN carries no Actions.Results scope: the runner gave this job no artifact access.");
  }
  return { workflow_run_backend_id: parts[1], workflow_job_run_backend_id: parts[2] };
}

/** GitHub Enterprise Server has no results service (artifacts v4); github.com and GHE.com have. */
export function isGhes(serverUrl = "https://github.com"): boolean {
  const host = new URL(serverUrl).hostname.toLowerCase();
  return !(host === "github.com" || host.endsWith(".ghe.com") || host.endsWith(".ghe.localhost"));
}

/** The retention the service will accept: the repository's maximum (GITHUB_RETENTION_DAYS) caps the input. */
export function expiryFor(retentionDays: number | undefined, maxDays: number | undefined, now: Date): { expiresAt?: Date; cappedTo?: number } {
  if (!retentionDays) return {};
  const days = maxDays && maxDays < retentionDays ? maxDays : retentionDays;
  const expiresAt = new Date(now);
  expiresAt.setDate(expiresAt.getDate() + days);
  return { expiresAt, ...(days !== retentionDays ? { cappedTo: days } : {}) };
}

export function resultsService(env: ResultsEnv, clock: Clock = realClock, policy: RetryPolicy = DEFAULT_RETRY): ResultsService {
  const token = env.ACTIONS_RUNTIME_TOKEN;
  const base = env.ACTIONS_RESULTS_URL;
  if (!token || !base) {
    throw new ActionError("upload", "ACTIONS_RUNTIME_TOKEN or ACTIONS_RESULTS_URL is missing: artifacts can only be uploaded inside a GitHub Actions job.");
  }
  if (isGhes(env.GITHUB_SERVER_URL)) {
    throw new ActionError("upload", "GitHub Enterprise Server does not support this artifact service: set `upload: false` and store `dump-path` yourself.");
  }
  const ids = backendIds(token);
  const call = async <T>(method: string, body: object): Promise<T> => {
    // Only the origin counts, as in @actions/artifact.
    const url = new URL(SERVICE + method, base).href;
    // CreateArtifact is not retried on a lost answer: a retry would find the name taken (409).
    try {
      const res = await requestJson<T>(
        { method: "POST", url, authorization: `Bearer ${token}`, body, expect: [200], retryLostAnswer: method !== "CreateArtifact" },
        clock,
        policy,
      );
      return res.body;
    } catch (error) {
      const message = errorMessage(error);
      if (/insufficient usage/i.test(message)) {
        throw new ActionError("upload", `${message}: the account's artifact storage is full; delete old artifacts or raise its storage limit.`);
      }
      throw new ActionError("upload", message);
    }
  };
  return {
    async create(name, mimeType, expiresAt) {
      const body = { ...ids, name, mime_type: mimeType, version: ARTIFACT_VERSION, ...(expiresAt ? { expires_at: expiresAt.toISOString() } : {}) };
      const res = await call<{ ok?: boolean; signed_upload_url?: string; signedUploadUrl?: string }>("CreateArtifact", body);
      const url = res?.signed_upload_url ?? res?.signedUploadUrl;
      if (!res?.ok || !url) throw new ActionError("upload", "CreateArtifact answered without ok and an upload URL.");
      return url;
    },
    async finalize(name, size, sha256) {
      const body = { ...ids, name, size: String(size), hash: `sha256:${sha256}` };
      const res = await call<{ ok?: boolean; artifact_id?: string; artifactId?: string }>("FinalizeArtifact", body);
      const id = Number(res?.artifact_id ?? res?.artifactId);
      if (!res?.ok || !Number.isSafeInteger(id) || id <= 0) throw new ActionError("upload", "FinalizeArtifact answered without ok and an artifact id.");
      return id;
    },
  };
}

/** What @actions/artifact would label the blob with, for the extensions this action writes. */
export function mimeTypeOf(fileName: string): string {
  if (fileName.endsWith(".tar")) return "application/x-tar";
  return "application/octet-stream";
}
