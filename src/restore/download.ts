import { mkdir } from "node:fs/promises";
import * as path from "node:path";
import { type Artifact, type ArtifactClient, DefaultArtifactClient } from "@actions/artifact";
import { HttpClient } from "@actions/http-client";
import { USER_AGENT } from "../constants.js";
import { ActionError, errorMessage } from "../errors.js";
import { isManifestName, manifestNames } from "../manifest/manifest.js";
import type { Log } from "../types.js";
import type { DumpSource } from "./config.js";
import { type ObtainedDump, openManifestFile } from "./prepare.js";

// An artifact of another run of this repository, through @actions/artifact's findBy (the REST
// API, with `github-token`): its manifest first (small), then the dump, hashed as it downloads and
// compared with the manifest's sha256. Everything lands in the run's private folder.

type ArtifactSource = Extract<DumpSource, { kind: "artifact" | "latest" }>;
/** How many of the workflow's newest successful runs `latest` looks through. */
const LATEST_RUNS = 30;

export interface DownloadDeps {
  client?: Pick<ArtifactClient, "listArtifacts" | "downloadArtifact">;
  env: Record<string, string | undefined>;
  log: Log;
}

export async function obtainArtifact(
  source: ArtifactSource,
  o: { folder: string; identity?: string | undefined; repository: string },
  deps: DownloadDeps,
): Promise<ObtainedDump & { description: string }> {
  const client = deps.client ?? new DefaultArtifactClient();
  const [owner = "", repo = ""] = o.repository.split("/");
  const findBy: FindBy = (workflowRunId) => ({ findBy: { token: source.githubToken, workflowRunId, repositoryOwner: owner, repositoryName: repo } });
  const found =
    source.kind === "artifact" ? await inRun(client, source.runId, (a) => a.name === source.name, findBy) : await latest(source, client, findBy, deps);
  if (!found)
    throw new ActionError(
      "download",
      `No artifact named ${source.kind === "artifact" ? source.name : `${source.namePrefix}...`} in run ${source.kind === "artifact" ? source.runId : "(any)"} of ${o.repository}.`,
    );
  const { run, dump, artifacts } = found;
  deps.log.info(`Found ${dump.name} (${dump.size} bytes) in run ${run} of ${o.repository}.`);
  // The newest of the manifest's names: a failed first upload retries as `-retry`.
  const names = manifestNames(dump.name);
  const manifestArtifact = artifacts.filter((a) => names.includes(a.name)).sort((a, b) => b.id - a.id)[0];
  const manifest = manifestArtifact
    ? await openManifestFile(await download(client, manifestArtifact, path.join(o.folder, "manifest"), findBy(run)), o.identity)
    : undefined;
  if (!manifest) deps.log.warning(`No manifest artifact beside ${dump.name}: its sha256 and row counts cannot be checked.`);
  // The API's digest is what the upload finalized: a mismatch is refused before a byte is downloaded.
  if (manifest && dump.digest && dump.digest !== `sha256:${manifest.dump.sha256}`)
    throw new ActionError(
      "inputs",
      `${dump.name}: the artifact's digest (${dump.digest}) is not the manifest's sha256 (${manifest.dump.sha256}): it is not the file the backup wrote. Nothing was opened.`,
    );
  const expected = manifest ? { expectedHash: `sha256:${manifest.dump.sha256}` } : {};
  const file = await download(client, dump, path.join(o.folder, "dump"), { ...findBy(run), ...expected });
  return { file, name: dump.name, ...(manifest ? { manifest } : {}), sha256Checked: Boolean(manifest), description: `artifact ${dump.name} of run ${run}` };
}

type Client = NonNullable<DownloadDeps["client"]>;
type FindBy = (run: number) => { findBy: { token: string; workflowRunId: number; repositoryOwner: string; repositoryName: string } };

async function inRun(client: Client, run: number, pick: (a: Artifact) => boolean, findBy: FindBy) {
  let artifacts: Artifact[];
  try {
    ({ artifacts } = await client.listArtifacts(findBy(run)));
  } catch (error) {
    throw new ActionError(
      "download",
      `Could not list the artifacts of run ${run}: ${errorMessage(error)}. \`github-token\` needs \`actions: read\` on this repository.`,
    );
  }
  const dumps = artifacts.filter((a) => pick(a) && !isManifestName(a.name)).sort((a, b) => b.id - a.id);
  return dumps[0] ? { run, dump: dumps[0], artifacts } : undefined;
}

/** The newest successful run of the workflow holding an artifact whose name starts with the prefix. */
async function latest(source: Extract<ArtifactSource, { kind: "latest" }>, client: Client, findBy: FindBy, deps: DownloadDeps) {
  const [owner, repo] = (deps.env.GITHUB_REPOSITORY ?? "/").split("/");
  const api = (deps.env.GITHUB_API_URL ?? "https://api.github.com").replace(/\/+$/, "");
  const url = `${api}/repos/${owner}/${repo}/actions/workflows/${encodeURIComponent(source.workflow)}/runs?status=success&per_page=${LATEST_RUNS}`;
  const http = new HttpClient(USER_AGENT);
  const response = await http
    .getJson<{ workflow_runs?: { id: number }[] }>(url, { authorization: `Bearer ${source.githubToken}`, accept: "application/vnd.github+json" })
    .catch((error) => {
      throw new ActionError(
        "download",
        `Could not list the runs of ${source.workflow}: ${errorMessage(error)}. Check \`workflow\` and that \`github-token\` has \`actions: read\`.`,
      );
    });
  for (const run of response.result?.workflow_runs ?? []) {
    const found = await inRun(client, run.id, (a) => a.name.startsWith(source.namePrefix), findBy);
    if (found) return found;
  }
  return undefined;
}

async function download(client: Client, artifact: Artifact, dir: string, options: ReturnType<FindBy> & { expectedHash?: string }): Promise<string> {
  await mkdir(dir, { mode: 0o700 });
  let result: { digestMismatch?: boolean };
  try {
    result = await client.downloadArtifact(artifact.id, { path: dir, ...options });
  } catch (error) {
    throw new ActionError("download", `Could not download ${artifact.name}: ${errorMessage(error)}`);
  }
  if (result.digestMismatch)
    throw new ActionError(
      "inputs",
      `${artifact.name}: the downloaded bytes' sha256 is not the manifest's: the artifact is not the file the backup wrote (corrupted or replaced). Nothing was opened.`,
    );
  // A non-zipped artifact is saved under its own name (the file name the API gives, base name only).
  return path.join(dir, path.basename(artifact.name));
}
