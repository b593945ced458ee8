// Emulator of the slice of GitHub's REST API a restore uses, as api.github.com answers it:
// a workflow's runs (GET /repos/{owner}/{repo}/actions/workflows/{workflow}/runs), a run's artifacts
// (GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts, with ?name= and pagination), and an
// artifact's download (GET /repos/{owner}/{repo}/actions/artifacts/{id}/zip), which redirects (302)
// to a short-lived blob URL on the same server; a non-zipped (skipArchive) artifact is served as is,
// named by Content-Disposition. @actions/artifact reaches it through GITHUB_API_URL.
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface EmulatedArtifact {
  id: number;
  name: string;
  /** The stored bytes (the artifact emulator's file). */
  path: string;
  size: number;
  /** hex; the API answers it as `sha256:<hex>` */
  sha256: string;
}

export interface EmulatedRun {
  id: number;
  /** The workflow file's name, e.g. backup.yml */
  workflow: string;
  conclusion: "success" | "failure" | "cancelled";
  createdAt: Date;
  artifacts: EmulatedArtifact[];
}

export interface GitHubApiEmulator {
  url: string;
  /** The token the API accepts (`Authorization: Bearer` or `token`). */
  token: string;
  addRun(run: EmulatedRun): void;
  /** Every request answered: method, path with query, status. */
  requests: { method: string; path: string; status: number }[];
  close(): Promise<void>;
}

const PAGE_MAX = 100;

export async function startGitHubApiEmulator(o: { owner: string; repo: string; token?: string }): Promise<GitHubApiEmulator> {
  const token = o.token ?? `ghs_${randomBytes(18).toString("hex")}`;
  const runs: EmulatedRun[] = [];
  const blobs = new Map<string, EmulatedArtifact>();
  const requests: GitHubApiEmulator["requests"] = [];
  let base = "";

  const json = (res: ServerResponse, status: number, body: unknown): number => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "x-github-request-id": randomBytes(4).toString("hex").toUpperCase() });
    res.end(JSON.stringify(body));
    return status;
  };
  const artifactJson = (a: EmulatedArtifact, run: EmulatedRun) => ({
    id: a.id,
    node_id: `MDg6QXJ0aWZhY3Q${a.id}`,
    name: a.name,
    size_in_bytes: a.size,
    url: `${base}/repos/${o.owner}/${o.repo}/actions/artifacts/${a.id}`,
    archive_download_url: `${base}/repos/${o.owner}/${o.repo}/actions/artifacts/${a.id}/zip`,
    expired: false,
    digest: `sha256:${a.sha256}`,
    created_at: run.createdAt.toISOString(),
    updated_at: run.createdAt.toISOString(),
    expires_at: new Date(run.createdAt.getTime() + 90 * 86_400_000).toISOString(),
    workflow_run: { id: run.id, repository_id: 1, head_branch: "main" },
  });
  const page = (url: URL) => {
    const perPage = Math.min(PAGE_MAX, Number(url.searchParams.get("per_page") ?? 30));
    const number = Math.max(1, Number(url.searchParams.get("page") ?? 1));
    return <T>(items: T[]) => items.slice((number - 1) * perPage, number * perPage);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): number => {
    const url = new URL(req.url ?? "/", base);
    const blob = /^\/blobs\/([0-9a-f]+)$/.exec(url.pathname);
    if (blob) {
      const a = blobs.get(blob[1] as string);
      if (!a || url.searchParams.get("sig") !== blob[1]) return json(res, 403, { message: "AuthenticationFailed" });
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": String(a.size),
        "content-disposition": `attachment; filename=${a.name}; filename*=UTF-8''${encodeURIComponent(a.name)}`,
      });
      createReadStream(a.path).pipe(res);
      return 200;
    }
    const auth = req.headers.authorization ?? "";
    if (auth !== `Bearer ${token}` && auth !== `token ${token}`)
      return json(res, 401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" });
    const repo = `/repos/${o.owner}/${o.repo}/actions`;
    if (!url.pathname.startsWith(`${repo}/`)) return json(res, 404, { message: "Not Found" });
    const rest = url.pathname.slice(repo.length);
    const workflowRuns = /^\/workflows\/([^/]+)\/runs$/.exec(rest);
    if (workflowRuns) {
      const status = url.searchParams.get("status");
      const matching = runs
        .filter((r) => r.workflow === decodeURIComponent(workflowRuns[1] as string) && (!status || status === r.conclusion || status === "completed"))
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
      json(res, 200, {
        total_count: matching.length,
        workflow_runs: page(url)(matching).map((r) => ({
          id: r.id,
          name: "Nightly backup",
          status: "completed",
          conclusion: r.conclusion,
          path: `.github/workflows/${r.workflow}`,
          created_at: r.createdAt.toISOString(),
        })),
      });
      return 200;
    }
    const runArtifacts = /^\/runs\/(\d+)\/artifacts$/.exec(rest);
    if (runArtifacts) {
      const run = runs.find((r) => r.id === Number(runArtifacts[1]));
      if (!run) return json(res, 404, { message: "Not Found" });
      const name = url.searchParams.get("name");
      const all = run.artifacts.filter((a) => !name || a.name === name);
      return json(res, 200, { total_count: all.length, artifacts: page(url)(all).map((a) => artifactJson(a, run)) });
    }
    const download = /^\/artifacts\/(\d+)\/zip$/.exec(rest);
    if (download) {
      const a = runs.flatMap((r) => r.artifacts).find((x) => x.id === Number(download[1]));
      if (!a) return json(res, 404, { message: "Not Found" });
      const key = randomBytes(8).toString("hex");
      blobs.set(key, a);
      res.writeHead(302, { location: `${base}/blobs/${key}?sig=${key}` });
      res.end();
      return 302;
    }
    return json(res, 404, { message: "Not Found" });
  };

  const server = createServer((req, res) => {
    const status = handle(req, res);
    const url = new URL(req.url ?? "/", "http://x");
    requests.push({ method: req.method ?? "GET", path: url.pathname.startsWith("/blobs/") ? "/blobs/<key>" : `${url.pathname}${url.search}`, status });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    token,
    addRun: (run) => runs.push(run),
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
