export const id = 22;
export const ids = [22];
export const modules = {

/***/ 59022:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  obtainFromS3: () => (/* binding */ obtainFromS3)
});

// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __webpack_require__(77598);
// EXTERNAL MODULE: external "node:fs"
var external_node_fs_ = __webpack_require__(73024);
// EXTERNAL MODULE: external "node:fs/promises"
var promises_ = __webpack_require__(51455);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(76760);
// EXTERNAL MODULE: external "node:stream"
var external_node_stream_ = __webpack_require__(57075);
// EXTERNAL MODULE: external "node:stream/promises"
var external_node_stream_promises_ = __webpack_require__(46466);
// EXTERNAL MODULE: ./node_modules/@aws-sdk/client-s3/dist-cjs/index.js
var dist_cjs = __webpack_require__(53711);
// EXTERNAL MODULE: ./src/errors.ts
var errors = __webpack_require__(83916);
// EXTERNAL MODULE: ./src/manifest/manifest.ts
var manifest = __webpack_require__(51336);
// EXTERNAL MODULE: ./node_modules/@actions/http-client/lib/index.js
var lib = __webpack_require__(22779);
// EXTERNAL MODULE: ./node_modules/@actions/http-client/lib/proxy.js
var proxy = __webpack_require__(19783);
// EXTERNAL MODULE: ./src/constants.ts
var constants = __webpack_require__(27242);
;// CONCATENATED MODULE: ./src/s3/client.ts




/**
 * The S3 client for the destination: static credentials from the config (nothing else is looked
 * up: no profile file, no instance metadata), the SDK's own retries, and the runner's proxy.
 *
 * The SDK ignores HTTPS_PROXY/NO_PROXY. The route is decided as for every other call of the step
 * (src/runner/proxy.ts): by @actions/http-client, whose agent tunnels through the proxy with
 * CONNECT; loopback and NO_PROXY hosts go direct.
 */
function createS3Client(s3) {
    const agent = proxyAgentFor(serviceUrl(s3));
    return new dist_cjs/* S3Client */.YxF({
        region: s3.region,
        credentials: s3.credentials,
        ...(s3.endpoint ? { endpoint: s3.endpoint, forcePathStyle: true } : { followRegionRedirects: true }),
        // The handler's options as a plain object: the SDK builds its own NodeHttpHandler with them.
        ...(agent ? { requestHandler: { httpAgent: agent, httpsAgent: agent } } : {}),
        customUserAgent: constants/* USER_AGENT */._O,
    });
}
/** The URL the client talks to: the endpoint given, or AWS's virtual-hosted one for the bucket. */
function serviceUrl(s3) {
    return s3.endpoint ?? `https://${s3.bucket}.s3.${s3.region}.amazonaws.com`;
}
/**
 * The tunnelling agent @actions/http-client builds for `url`'s proxy. The SDK takes an agent
 * without destroy() for agent *options* and would build a direct one from it: tunnel's agent has
 * none, so it gets one that closes its sockets (S3Client.destroy() calls it).
 */
function proxyAgentFor(url) {
    if (!(0,proxy/* getProxyUrl */.s)(new URL(url)))
        return undefined;
    const agent = new lib/* HttpClient */.Qq(constants/* USER_AGENT */._O, [], { keepAlive: true }).getAgent(url);
    if (typeof agent.destroy !== "function") {
        const sockets = agent.sockets;
        agent.destroy = () => {
            if (Array.isArray(sockets))
                for (const socket of sockets)
                    socket.destroy?.();
        };
    }
    return agent;
}

;// CONCATENATED MODULE: ./src/s3/errors.ts
/**
 * One line a user can act on, from what the SDK threw: the service's error code and status, what
 * it usually means, and the request id for the provider's support. HeadBucket answers have no
 * body, so a 403 or 404 is explained by its status alone. Never the credentials.
 */
function s3Problem(error, s3, use = "backup") {
    const e = (error ?? {});
    const status = e.$metadata?.httpStatusCode;
    const id = e.$metadata?.requestId ? `, request id ${e.$metadata.requestId}` : "";
    const name = e.name && e.name !== "Error" ? e.name : (e.code ?? "");
    const what = `${name}${status ? ` (HTTP ${status}${id})` : ""}`.trim() || e.message || String(error);
    return `${what}. ${adviceFor(name, status, s3, use)}`.trim();
}
function adviceFor(name, status, s3, use) {
    const input = use === "backup" ? "s3-url" : "s3-uri";
    if (name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch" || name === "InvalidToken" || name === "ExpiredToken")
        return "Check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN: they are not valid for this endpoint.";
    if (name === "NoSuchKey")
        return "No object has that key: copy the backup's `s3-uri` output (or the object's key) into `s3-uri`.";
    if (name === "NoSuchBucket" || status === 404)
        return `Check the bucket name in \`${input}\` (${s3.bucket}), \`s3-endpoint\` and \`s3-region\` (${s3.region}).`;
    // A HEAD request's 403 has no body: wrong credentials and missing permissions look the same.
    if ((status === 403 || name === "AccessDenied") && use === "restore")
        return "Check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, and that they are allowed s3:GetObject on the backup and its manifest.";
    if (status === 403 || name === "AccessDenied")
        return "Check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, and that they are allowed s3:ListBucket (HeadBucket), s3:PutObject, s3:AbortMultipartUpload, and for rotation s3:DeleteObject (s3:GetObjectRetention with Object Lock).";
    if (status === 301 || name === "PermanentRedirect" || name === "AuthorizationHeaderMalformed")
        return `The bucket is in another region than \`s3-region\` (${s3.region}).`;
    if (["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "TimeoutError"].includes(name))
        return `Check \`s3-endpoint\` (${s3.endpoint ?? "AWS"}) and the runner's proxy settings.`;
    return "";
}

// EXTERNAL MODULE: ./src/restore/prepare.ts + 2 modules
var prepare = __webpack_require__(26346);
;// CONCATENATED MODULE: ./src/restore/s3-download.ts












// A backup the backup action stored in S3 (`s3-uri`): its manifest sidecar first (small), then
// the dump, hashed as it streams to the private folder and compared with the manifest's sha256,
// all before the firewall opens, as for an artifact. The client has the credentials of the AWS_*
// variables and nothing else; no child process ever sees them.
async function obtainFromS3(source, o, log) {
    const uri = `s3://${source.bucket}/${source.key}`;
    const name = external_node_path_.basename(source.key);
    const client = createS3Client(source);
    try {
        const manifestFile = await sidecar(client, source, external_node_path_.join(o.folder, "manifest"), o.signal);
        const manifest = manifestFile ? await (0,prepare/* openManifestFile */.K1)(manifestFile, o.identity) : undefined;
        if (!manifest)
            log.warning(`No manifest beside ${uri}: its sha256 and row counts cannot be checked.`);
        const dir = external_node_path_.join(o.folder, "dump");
        await (0,promises_.mkdir)(dir, { mode: 0o700 });
        const file = external_node_path_.join(dir, name);
        const { sha256, bytes } = await download(client, source, file, o.signal).catch((error) => {
            throw new errors/* ActionError */.lZ("download", `Could not download ${uri}: ${s3Problem(error, source, "restore")}`);
        });
        log.info(`Downloaded ${uri} (${bytes} bytes).`);
        if (manifest && sha256 !== manifest.dump.sha256)
            throw new errors/* ActionError */.lZ("inputs", `${uri}: the downloaded bytes' sha256 (${sha256}) is not the manifest's (${manifest.dump.sha256}): it is not the file the backup wrote (corrupted or replaced). Nothing was opened.`);
        return { file, name, ...(manifest ? { manifest } : {}), sha256Checked: Boolean(manifest), description: `\`${uri}\`` };
    }
    finally {
        client.destroy();
    }
}
/** The manifest the backup stored beside the dump (encrypted when the dump is), or none. */
async function sidecar(client, source, dir, signal) {
    await (0,promises_.mkdir)(dir, { mode: 0o700 });
    const key = (0,manifest/* manifestName */.vS)(source.key, source.key.endsWith(".age"));
    const file = external_node_path_.join(dir, external_node_path_.basename(key));
    try {
        await download(client, { ...source, key }, file, signal);
        return file;
    }
    catch (error) {
        if (error.name === "NoSuchKey")
            return undefined;
        throw new errors/* ActionError */.lZ("download", `Could not download the manifest s3://${source.bucket}/${key}: ${s3Problem(error, source, "restore")}`);
    }
}
/** GetObject streamed to a new private file (0600), its sha256 computed on the way. */
async function download(client, source, file, signal) {
    const hash = (0,external_node_crypto_.createHash)("sha256");
    let bytes = 0;
    const object = await client.send(new dist_cjs/* GetObjectCommand */.jLs({ Bucket: source.bucket, Key: source.key }), signal ? { abortSignal: signal } : {});
    const hashing = new external_node_stream_.Transform({
        transform(chunk, _encoding, done) {
            hash.update(chunk);
            bytes += chunk.length;
            done(null, chunk);
        },
    });
    await (0,external_node_stream_promises_.pipeline)(object.Body, hashing, (0,external_node_fs_.createWriteStream)(file, { flags: "wx", mode: 0o600 }), signal ? { signal } : {});
    return { sha256: hash.digest("hex"), bytes };
}


/***/ })

};
