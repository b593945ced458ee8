export const id = 384;
export const ids = [384];
export const modules = {

/***/ 46384:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   obtainArtifact: () => (/* binding */ obtainArtifact)
/* harmony export */ });
/* harmony import */ var node_fs_promises__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(51455);
/* harmony import */ var node_fs_promises__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_fs_promises__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(76760);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__webpack_require__.n(node_path__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var _actions_artifact__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(20584);
/* harmony import */ var _actions_http_client__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(22779);
/* harmony import */ var _constants_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(27242);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(83916);
/* harmony import */ var _manifest_manifest_js__WEBPACK_IMPORTED_MODULE_6__ = __webpack_require__(51336);
/* harmony import */ var _prepare_js__WEBPACK_IMPORTED_MODULE_7__ = __webpack_require__(26346);








/** How many of the workflow's newest successful runs `latest` looks through. */
const LATEST_RUNS = 30;
async function obtainArtifact(source, o, deps) {
    const client = deps.client ?? new _actions_artifact__WEBPACK_IMPORTED_MODULE_2__/* .DefaultArtifactClient */ .t9();
    const [owner = "", repo = ""] = o.repository.split("/");
    const findBy = (workflowRunId) => ({ findBy: { token: source.githubToken, workflowRunId, repositoryOwner: owner, repositoryName: repo } });
    const found = source.kind === "artifact" ? await inRun(client, source.runId, (a) => a.name === source.name, findBy) : await latest(source, client, findBy, deps);
    if (!found)
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_5__/* .ActionError */ .lZ("download", `No artifact named ${source.kind === "artifact" ? source.name : `${source.namePrefix}...`} in run ${source.kind === "artifact" ? source.runId : "(any)"} of ${o.repository}.`);
    const { run, dump, artifacts } = found;
    deps.log.info(`Found ${dump.name} (${dump.size} bytes) in run ${run} of ${o.repository}.`);
    // The newest of the manifest's names: a failed first upload retries as `-retry`.
    const names = (0,_manifest_manifest_js__WEBPACK_IMPORTED_MODULE_6__/* .manifestNames */ .qI)(dump.name);
    const manifestArtifact = artifacts.filter((a) => names.includes(a.name)).sort((a, b) => b.id - a.id)[0];
    const manifest = manifestArtifact
        ? await (0,_prepare_js__WEBPACK_IMPORTED_MODULE_7__/* .openManifestFile */ .K1)(await download(client, manifestArtifact, node_path__WEBPACK_IMPORTED_MODULE_1__.join(o.folder, "manifest"), findBy(run)), o.identity)
        : undefined;
    if (!manifest)
        deps.log.warning(`No manifest artifact beside ${dump.name}: its sha256 and row counts cannot be checked.`);
    // The API's digest is what the upload finalized: a mismatch is refused before a byte is downloaded.
    if (manifest && dump.digest && dump.digest !== `sha256:${manifest.dump.sha256}`)
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_5__/* .ActionError */ .lZ("inputs", `${dump.name}: the artifact's digest (${dump.digest}) is not the manifest's sha256 (${manifest.dump.sha256}): it is not the file the backup wrote. Nothing was opened.`);
    const expected = manifest ? { expectedHash: `sha256:${manifest.dump.sha256}` } : {};
    const file = await download(client, dump, node_path__WEBPACK_IMPORTED_MODULE_1__.join(o.folder, "dump"), { ...findBy(run), ...expected });
    return { file, name: dump.name, ...(manifest ? { manifest } : {}), sha256Checked: Boolean(manifest), description: `artifact ${dump.name} of run ${run}` };
}
async function inRun(client, run, pick, findBy) {
    let artifacts;
    try {
        ({ artifacts } = await client.listArtifacts(findBy(run)));
    }
    catch (error) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_5__/* .ActionError */ .lZ("download", `Could not list the artifacts of run ${run}: ${(0,_errors_js__WEBPACK_IMPORTED_MODULE_5__/* .errorMessage */ .gJ)(error)}. \`github-token\` needs \`actions: read\` on this repository.`);
    }
    const dumps = artifacts.filter((a) => pick(a) && !(0,_manifest_manifest_js__WEBPACK_IMPORTED_MODULE_6__/* .isManifestName */ .zU)(a.name)).sort((a, b) => b.id - a.id);
    return dumps[0] ? { run, dump: dumps[0], artifacts } : undefined;
}
/** The newest successful run of the workflow holding an artifact whose name starts with the prefix. */
async function latest(source, client, findBy, deps) {
    const [owner, repo] = (deps.env.GITHUB_REPOSITORY ?? "/").split("/");
    const api = (deps.env.GITHUB_API_URL ?? "https://api.github.com").replace(/\/+$/, "");
    const url = `${api}/repos/${owner}/${repo}/actions/workflows/${encodeURIComponent(source.workflow)}/runs?status=success&per_page=${LATEST_RUNS}`;
    const http = new _actions_http_client__WEBPACK_IMPORTED_MODULE_3__/* .HttpClient */ .Qq(_constants_js__WEBPACK_IMPORTED_MODULE_4__/* .USER_AGENT */ ._O);
    const response = await http
        .getJson(url, { authorization: `Bearer ${source.githubToken}`, accept: "application/vnd.github+json" })
        .catch((error) => {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_5__/* .ActionError */ .lZ("download", `Could not list the runs of ${source.workflow}: ${(0,_errors_js__WEBPACK_IMPORTED_MODULE_5__/* .errorMessage */ .gJ)(error)}. Check \`workflow\` and that \`github-token\` has \`actions: read\`.`);
    });
    for (const run of response.result?.workflow_runs ?? []) {
        const found = await inRun(client, run.id, (a) => a.name.startsWith(source.namePrefix), findBy);
        if (found)
            return found;
    }
    return undefined;
}
async function download(client, artifact, dir, options) {
    await (0,node_fs_promises__WEBPACK_IMPORTED_MODULE_0__.mkdir)(dir, { mode: 0o700 });
    let result;
    try {
        result = await client.downloadArtifact(artifact.id, { path: dir, ...options });
    }
    catch (error) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_5__/* .ActionError */ .lZ("download", `Could not download ${artifact.name}: ${(0,_errors_js__WEBPACK_IMPORTED_MODULE_5__/* .errorMessage */ .gJ)(error)}`);
    }
    if (result.digestMismatch)
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_5__/* .ActionError */ .lZ("inputs", `${artifact.name}: the downloaded bytes' sha256 is not the manifest's: the artifact is not the file the backup wrote (corrupted or replaced). Nothing was opened.`);
    // A non-zipped artifact is saved under its own name (the file name the API gives, base name only).
    return node_path__WEBPACK_IMPORTED_MODULE_1__.join(dir, node_path__WEBPACK_IMPORTED_MODULE_1__.basename(artifact.name));
}


/***/ })

};
