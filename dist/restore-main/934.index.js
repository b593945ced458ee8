export const id = 934;
export const ids = [934];
export const modules = {

/***/ 27242:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   Uw: () => (/* binding */ State),
/* harmony export */   _O: () => (/* binding */ USER_AGENT),
/* harmony export */   sb: () => (/* binding */ DEFAULT_IP_LOOKUP_URLS)
/* harmony export */ });
/* unused harmony export DEFAULT_PG_DUMP_ARGS */
/** Names shared by the main and post steps: saved-state keys, defaults. */
const State = {
    /** Label of the rule main is about to add; saved before the POST so post can find a rule whose id main never saw. */
    ruleLabel: "rule-label",
    /** Address of that rule, saved with the label: post matches both, since a label alone may be shared. */
    ruleCidr: "rule-cidr",
    /** The default label's random token, saved before the POST: what identifies this job's rule (see rule-label.ts). */
    ruleToken: "rule-token",
    /** Id of the rule this job created; saved right after the API answered. */
    ruleId: "rule-id",
    /** The database-API form the rules answered in ("regional" or "legacy"): post calls the same. */
    firewallApi: "firewall-api",
    /** "true" once main removed its rule itself: post has nothing to do. */
    ruleRemoved: "rule-removed",
    /** The restore check's server ({folder, binDir, osUser}), saved before it starts: post stops it if main died before. */
    restoreServer: "restore-server",
    /** The restore action's private folder (downloads, plaintext): post removes it if main could not. */
    restoreFolder: "restore-folder",
    /** Files and folders not finished yet (JSON list), saved before each is created: post removes what main did not. */
    plaintext: "plaintext",
    /** The running pg_dump ({pid, startTicks}), "" once it ended: post stops a pg_dump a killed main left writing. */
    pgDump: "pg-dump",
    /** The restore action's running pg_restore (psql for a plain dump), the same way: post stops what a killed main left restoring. */
    pgRestore: "pg-restore",
};
const DEFAULT_IP_LOOKUP_URLS = ["https://api.ipify.org", "https://checkip.amazonaws.com", "https://ipv4.icanhazip.com", "https://ipinfo.io/ip"];
const DEFAULT_PG_DUMP_ARGS = "--clean --if-exists --no-owner --no-privileges --no-comments --exclude-schema=information_schema --exclude-schema=^pg_*";
const USER_AGENT = "scalingo-pg-dump/1 (+https://github.com/marketplace/actions/scalingo-pg-dump)";


/***/ }),

/***/ 83916:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   Tn: () => (/* binding */ ScalingoApiError),
/* harmony export */   dz: () => (/* binding */ InputError),
/* harmony export */   gJ: () => (/* binding */ errorMessage),
/* harmony export */   lZ: () => (/* binding */ ActionError)
/* harmony export */ });
class ActionError extends Error {
    phase;
    /** The action's own sentence, without the detail. */
    sentence;
    detail;
    hint;
    constructor(phase, message, parts = {}) {
        super(parts.detail ? `${message}\n${parts.detail}` : message);
        this.phase = phase;
        this.name = new.target.name;
        this.sentence = message;
        if (parts.detail)
            this.detail = parts.detail;
        if (parts.hint)
            this.hint = parts.hint;
    }
}
/** Every invalid input at once, each named, with what it accepts. */
class InputError extends ActionError {
    problems;
    constructor(problems) {
        super("inputs", `Invalid input${problems.length > 1 ? "s" : ""}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.problems = problems;
    }
}
/** A Scalingo API call that failed; the message names method, path, status and request id, never a token. */
class ScalingoApiError extends ActionError {
    status;
    retryable;
    constructor(message, status, retryable = false) {
        super("scalingo", message);
        this.status = status;
        this.retryable = retryable;
    }
}
function errorMessage(error) {
    return error instanceof Error ? error.message : String(error);
}


/***/ }),

/***/ 51336:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   OI: () => (/* binding */ isAgeEncrypted),
/* harmony export */   Sh: () => (/* binding */ ManifestError),
/* harmony export */   oe: () => (/* binding */ readManifestFile),
/* harmony export */   qI: () => (/* binding */ manifestNames),
/* harmony export */   sV: () => (/* binding */ dumpMajor),
/* harmony export */   vS: () => (/* binding */ manifestName),
/* harmony export */   zU: () => (/* binding */ isManifestName)
/* harmony export */ });
/* unused harmony exports MANIFEST_VERSION, manifestFrom, sealManifest, openManifest, parseManifest, writeManifestFile */
/* harmony import */ var node_fs_promises__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(51455);
/* harmony import */ var node_fs_promises__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_fs_promises__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var age_encryption__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(43389);


// The manifest: what a backup was, written beside the dump (a file, an artifact, an S3 object) so
// that a restore can check the bytes it got (sha256), pick the right pg_restore (versions, format)
// and prove it restored every row (row counts). Table names and counts are data too: with
// recipients it is encrypted to them, like the dump.
const MANIFEST_VERSION = 1;
/** The first bytes of every age file (binary or armored): how an encrypted manifest is told apart. */
const AGE_HEADER = "age-encryption.org/v1\n";
const AGE_ARMOR = "-----BEGIN AGE ENCRYPTED FILE-----";
function manifestFrom(source, o) {
    const tables = source.restore ? source.restore.tables.map(({ schema, name, rows }) => ({ schema, name, rows })) : null;
    return {
        manifestVersion: MANIFEST_VERSION,
        generator: "scalingo-pg-dump",
        createdAt: o.now.toISOString(),
        database: source.database,
        region: source.region,
        dump: {
            name: o.name,
            size: source.dumpSize ?? 0,
            sha256: source.sha256 ?? "",
            format: source.format,
            ...(o.compress ? { compress: o.compress } : {}),
            encryption: source.encrypted ? "age" : "none",
        },
        serverVersion: source.serverVersion ?? "",
        pgDumpVersion: source.pgDumpVersion ?? "",
        restoreVerified: source.restoreVerified ?? null,
        tables,
        rows: source.restore ? source.restore.rows : null,
    };
}
/** `<dump name>.manifest.json`, `.age` added when encrypted: the sidecar's name, found from the dump's. */
function manifestName(dumpName, encrypted) {
    return `${dumpName}.manifest.json${encrypted ? ".age" : ""}`;
}
/**
 * Every name the manifest of `dumpName` may be stored under, newest naming first: the upload's one
 * retry after a failed attempt adds `-retry` to its base name (src/artifact/artifact.ts).
 */
function manifestNames(dumpName) {
    return [true, false].flatMap((encrypted) => {
        const name = manifestName(dumpName, encrypted);
        return [name, name.replace(/\.manifest\.json/, ".manifest-retry.json")];
    });
}
/** Whether a stored name is a manifest's (of any dump), retried or not. */
const isManifestName = (name) => /\.manifest(-retry)?\.json(\.age)?$/.test(name);
/** The manifest's bytes as stored: JSON, encrypted to `recipients` when there are any. */
async function sealManifest(manifest, recipients) {
    const json = new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
    if (!recipients.length)
        return json;
    const encrypter = new Encrypter();
    for (const recipient of recipients)
        encrypter.addRecipient(recipient);
    return encrypter.encrypt(json);
}
function isAgeEncrypted(bytes) {
    const head = new TextDecoder().decode(bytes.subarray(0, 64));
    return head.startsWith(AGE_HEADER) || head.startsWith(AGE_ARMOR);
}
/** Reads stored bytes back: decrypted with `identity` when encrypted, then checked field by field. */
async function openManifest(bytes, identity) {
    if (!isAgeEncrypted(bytes))
        return parseManifest(new TextDecoder().decode(bytes));
    if (!identity)
        throw new ManifestError("the manifest is encrypted (age): set `decryption-identity` to the age identity of one of the backup's recipients.");
    const decrypter = new age_encryption__WEBPACK_IMPORTED_MODULE_1__/* .Decrypter */ .Hz();
    decrypter.addIdentity(identity);
    let text;
    try {
        text = await decrypter.decrypt(bytes, "text");
    }
    catch {
        // age's own message says which stanza failed; the identity is never part of it, but it is not needed either.
        throw new ManifestError("the manifest does not decrypt with `decryption-identity`: it is not the identity of any of the backup's recipients.");
    }
    return parseManifest(text);
}
class ManifestError extends Error {
}
/** Parses and checks a manifest's JSON: a restore relies on every field it reads. */
function parseManifest(text) {
    let value;
    try {
        value = JSON.parse(text);
    }
    catch {
        throw new ManifestError("the manifest is not JSON.");
    }
    const m = value;
    const problems = [];
    if (!m || typeof m !== "object")
        throw new ManifestError("the manifest is not a JSON object.");
    if (m.manifestVersion !== MANIFEST_VERSION)
        problems.push(`manifestVersion ${String(m.manifestVersion)} (this action reads ${MANIFEST_VERSION})`);
    if (!m.dump || typeof m.dump !== "object")
        problems.push("no dump");
    else {
        if (!/^[0-9a-f]{64}$/.test(String(m.dump.sha256)))
            problems.push("dump.sha256 is not a sha256");
        if (!["custom", "directory", "tar", "plain"].includes(m.dump.format))
            problems.push(`dump.format ${String(m.dump.format)}`);
        if (!["age", "none"].includes(m.dump.encryption))
            problems.push(`dump.encryption ${String(m.dump.encryption)}`);
    }
    if (typeof m.pgDumpVersion !== "string")
        problems.push("no pgDumpVersion");
    if (m.tables !== null && !validTables(m.tables))
        problems.push("tables is not a list of {schema, name, rows}");
    if (problems.length)
        throw new ManifestError(`the manifest is not one this action wrote: ${problems.join("; ")}.`);
    return m;
}
function validTables(tables) {
    return (Array.isArray(tables) && tables.every((t) => t && typeof t.schema === "string" && typeof t.name === "string" && Number.isSafeInteger(t.rows) && t.rows >= 0));
}
/** Writes the sealed manifest to a file that must not exist yet, private (0600). */
async function writeManifestFile(file, manifest, recipients) {
    const bytes = await sealManifest(manifest, recipients);
    const handle = await open(file, "wx", 0o600);
    try {
        await handle.chmod(0o600);
        await handle.writeFile(bytes);
    }
    finally {
        await handle.close();
    }
}
async function readManifestFile(file, identity) {
    return openManifest(await (0,node_fs_promises__WEBPACK_IMPORTED_MODULE_0__.readFile)(file), identity);
}
/** The major of the pg_dump that wrote the dump ("15", "15.4" and "15.4 (Debian ...)" give 15). */
function dumpMajor(manifest) {
    const major = Number(/^(\d+)/.exec(manifest.pgDumpVersion)?.[1]);
    return Number.isInteger(major) && major > 0 ? major : undefined;
}


/***/ }),

/***/ 28499:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   _M: () => (/* binding */ repositoryOf),
/* harmony export */   cv: () => (/* binding */ compressionMethod),
/* harmony export */   ng: () => (/* binding */ runOf),
/* harmony export */   sl: () => (/* binding */ utcStamp)
/* harmony export */ });
/* unused harmony export extensionOf */
// Names the action gives to what it creates: the dump's file and its extension (the rule's label: scalingo/rule-label.ts).
/** `20261125T030405Z`: sortable, and safe in file and artifact names. */
function utcStamp(now) {
    return now
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d{3}/, "");
}
function repositoryOf(env) {
    return env.GITHUB_REPOSITORY || "local";
}
/** What the default rule label says about the run, for people: run id, attempt and job (see rule-label.ts). */
function runOf(env) {
    return { runId: env.GITHUB_RUN_ID || "0", attempt: env.GITHUB_RUN_ATTEMPT || "1", job: env.GITHUB_JOB || "job" };
}
/**
 * The file's extension. pg_dump compresses a plain dump as a whole (gzip, lz4 or zstd stream), so
 * it is named for what opens it; archive formats compress inside and keep their name.
 */
function extensionOf(format, compress) {
    if (format === "plain")
        return `.sql${PLAIN_SUFFIX[compressionMethod(compress)]}`;
    return { custom: ".dump", directory: "", tar: ".tar" }[format];
}
const PLAIN_SUFFIX = { none: "", gzip: ".gz", lz4: ".lz4", zstd: ".zst" };
/**
 * What `compress` makes pg_dump use on a plain dump: empty is pg_dump's default for plain
 * (none), a level 1-9 is gzip, `0` and `none` are none, otherwise the method named.
 */
function compressionMethod(compress) {
    if (!compress || compress === "0" || compress.startsWith("none"))
        return "none";
    if (/^\d$/.test(compress))
        return "gzip";
    return compress.split(":")[0];
}


/***/ }),

/***/ 66934:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  failUnexpected: () => (/* reexport */ failUnexpected),
  runRestoreMain: () => (/* reexport */ runRestoreMain)
});

// EXTERNAL MODULE: ./node_modules/@actions/core/lib/core.js + 7 modules
var core = __webpack_require__(33838);
// EXTERNAL MODULE: ./src/errors.ts
var errors = __webpack_require__(83916);
;// CONCATENATED MODULE: ./src/runner/log.ts


/**
 * The action's log through @actions/core: diagnostics as debug lines (shown when a run is re-run
 * with debug logging), and one collapsible group per sequential section of the story. GitHub's
 * groups do not nest, so a new section closes the previous one, and work that runs at the same
 * time shares one section: two groups open at once would file each other's lines.
 */
function actionLog() {
    let open = false;
    const endSection = () => {
        if (open)
            core/* endGroup */.N4();
        open = false;
    };
    return {
        info: core/* info */.pq,
        warning: core/* warning */.$e,
        debug: core/* debug */.Yz,
        section(title) {
            endSection();
            core/* startGroup */.Oh(title);
            open = true;
        },
        endSection,
    };
}
/** The job summary, when the runner gives one (GITHUB_STEP_SUMMARY); a failure to write it is a warning, never the step's failure. */
async function writeJobSummary(markdown, env) {
    if (!env.GITHUB_STEP_SUMMARY)
        return;
    await core/* summary */.z
        .addRaw(markdown(), true)
        .write()
        .catch((error) => core/* warning */.$e(`Could not write the job summary: ${(0,errors/* errorMessage */.gJ)(error)}`));
}
/**
 * For the entry points: whatever escapes a step (a bug, or the runner's files gone) fails it with
 * one message a user can act on; the stack goes to the debug log, not to their eyes.
 */
function failUnexpected(step, error) {
    if (error instanceof Error && error.stack)
        core/* debug */.Yz(error.stack);
    const next = step === "main"
        ? "If a firewall rule was added, the post step removes it."
        : "Check the database's firewall rules in the Scalingo dashboard and remove this run's rule if it is still there.";
    core/* setFailed */.C1(`Unexpected error in the ${step} step: ${(0,errors/* errorMessage */.gJ)(error)}. Please report it (with the debug log) at https://github.com/org/scalingo-pg-dump/issues. ${next}`);
}

// EXTERNAL MODULE: external "node:os"
var external_node_os_ = __webpack_require__(48161);
;// CONCATENATED MODULE: ./src/runner/cancellation.ts
/** Handles the first SIGINT or SIGTERM (a second one finds the teardown under way); returns the function that stops listening. */
function onCancellation(o) {
    let stopping = false;
    const handler = async (signal) => {
        if (stopping)
            return;
        stopping = true;
        o.onSignal(signal);
        await o.teardown.run();
        await o.afterTeardown(signal);
        o.exit(1);
    };
    o.signals.on("SIGINT", handler);
    o.signals.on("SIGTERM", handler);
    return () => {
        o.signals.off("SIGINT", handler);
        o.signals.off("SIGTERM", handler);
    };
}

;// CONCATENATED MODULE: ./src/runner/state.ts

/**
 * The runner's saved state: written by main with saveState, read back by post as STATE_<key>.
 * `core.getState` only sees what an earlier step saved, so what this process saved is remembered
 * here too: main's own guards ("already removed?") must see main's own writes.
 */
function runnerState() {
    const saved = new Map();
    return {
        save: (key, value) => {
            saved.set(key, value);
            core/* saveState */.LZ(key, value);
        },
        get: (key) => saved.get(key) ?? core/* getState */.Gu(key),
    };
}
const state_actionState = runnerState();

;// CONCATENATED MODULE: ./src/runner/surroundings.ts


const actionMainDeps = () => ({ env: process.env, state: state_actionState, exit: (code) => process.exit(code), signals: process });
const actionPostDeps = () => ({ env: process.env, state: actionState });
/** The step's inputs: the injected reader, or the runner's INPUT_* variables. */
function inputsOf(deps) {
    return deps.input ?? ((name) => core/* getInput */.V4(name));
}

;// CONCATENATED MODULE: ./src/runner/teardown.ts
// The one place that knows how to undo what a run acquired, and in which order. Each step that
// acquires something registers its undo here as it acquires it; the catch, the cancellation
// handler and the `finally` all call run(). Node 24's AsyncDisposableStack would hold the undos,
// but not the order by kind the run needs, and Node 20 (which runs the tests here) lacks it.
/**
 * The order of a teardown. Writers stop first, so no file grows again after it is removed; local
 * plaintext goes next, before anything that may wait on the network (a rate-limited DELETE can
 * take a minute, past the runner's SIGKILL); then the firewall rule; servers last.
 */
const TEARDOWN_ORDER = ["writers", "plaintext", "rule", "servers"];
class Teardown {
    onError;
    entries = [];
    running;
    stopping = new AbortController();
    /** `onError` says what could not be undone; one failed undo never stops the next. */
    constructor(onError) {
        this.onError = onError;
    }
    /** `what` names the undo for the error message: "stop pg_dump", "remove the dump's files". */
    defer(stage, what, undo) {
        const entry = { stage, what, undo };
        this.entries.push(entry);
        let done;
        return {
            now: () => {
                done ??= this.take(entry) ? this.runOne(entry) : Promise.resolve();
                return done;
            },
            release: () => {
                this.take(entry);
            },
        };
    }
    /**
     * Runs every undo still registered, stage by stage in TEARDOWN_ORDER (the undos of one stage at
     * once); never throws. Called again while it runs, it waits for the same teardown; what was
     * registered meanwhile (a step that was still starting) is undone in a further pass.
     */
    run() {
        this.stopping.abort(new Error("Stopped: the run is ending."));
        this.running ??= this.drain().finally(() => {
            this.running = undefined;
        });
        return this.running;
    }
    /**
     * Aborted when the teardown starts: a wait or a retry loop that outlives its own registration
     * (the dump's retries wait for the database again) stops, and a failure it then sees is the
     * run's end, not a lost connection.
     */
    get ending() {
        return this.stopping.signal;
    }
    /** Whether anything is left to undo. */
    get pending() {
        return this.entries.length;
    }
    async drain() {
        while (this.entries.length) {
            for (const stage of TEARDOWN_ORDER) {
                const due = this.entries.filter((e) => e.stage === stage).reverse();
                // The undos of one stage are independent (several files, two servers): at once.
                await Promise.all(due.map((entry) => (this.take(entry) ? this.runOne(entry) : undefined)));
            }
        }
    }
    take(entry) {
        const at = this.entries.indexOf(entry);
        if (at < 0)
            return false;
        this.entries.splice(at, 1);
        return true;
    }
    async runOne(entry) {
        try {
            await entry.undo();
        }
        catch (error) {
            this.onError(entry.what, error);
        }
    }
}

// EXTERNAL MODULE: external "node:net"
var external_node_net_ = __webpack_require__(77030);
;// CONCATENATED MODULE: ./src/urls.ts

/**
 * Literal loopback only: `localhost`, an IPv4 address in 127.0.0.0/8, or `[::1]`. A name that
 * merely starts with "127." (`127.attacker.example`) is resolved by DNS and can point anywhere.
 * `hostname` is a WHATWG URL's, already normalized (`127.1` becomes `127.0.0.1`).
 */
function isLoopbackHost(hostname) {
    const host = hostname.toLowerCase().replace(/\.$/, "");
    return host === "localhost" || host === "[::1]" || ((0,external_node_net_.isIPv4)(host) && host.startsWith("127."));
}
/**
 * Why a service URL must not be used, or undefined when it may: tokens travel to these URLs, so
 * plain HTTP is accepted only on literal loopback, where nothing crosses a network.
 */
function insecureUrlProblem(value) {
    let url;
    try {
        url = new URL(value);
    }
    catch {
        return `"${value}" is not a URL.`;
    }
    if (url.protocol === "https:")
        return undefined;
    if (url.protocol === "http:" && isLoopbackHost(url.hostname))
        return undefined;
    return `"${value}" must use https:// (plain http is accepted only for localhost, 127.x.x.x and [::1]).`;
}

;// CONCATENATED MODULE: ./src/s3/s3-config.ts


const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const LOCK_MODES = (/* unused pure expression or super */ null && (["GOVERNANCE", "COMPLIANCE"]));
/** 100 years: S3 accepts longer, but a longer one is surely a typo. */
const MAX_LOCK_DAYS = 36_500;
/**
 * The `s3-*` inputs. Credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN
 * (what configure-aws-credentials or `env:` from secrets set), and from nowhere else: no profile
 * file, no instance metadata, so the destination is exactly the one the workflow names.
 */
function s3_config_s3Inputs({ text, fail }, env, baseName) {
    const url = text("s3-url");
    const others = ["s3-endpoint", "s3-region", "s3-keep", "s3-object-lock-days", "s3-object-lock-mode"].filter((name) => text(name));
    if (!url) {
        for (const name of others)
            fail(name, "needs `s3-url` (the destination it configures), e.g. `s3://my-backups/scalingo/`.");
        return {};
    }
    const location = parseS3Url(url, fail);
    const { endpoint, region } = endpointInputs(text, fail, env);
    let keep;
    if (text("s3-keep")) {
        try {
            keep = parseKeep(text("s3-keep"));
        }
        catch (error) {
            fail("s3-keep", error.message);
        }
    }
    return {
        s3: { ...location, endpoint, region, keep, baseName, lock: lockInputs(text, fail), credentials: credentialsFrom(env, fail, "s3-url") },
    };
}
/** `s3-endpoint` and `s3-region`, read alike by the backup (`s3-url`) and the restore (`s3-uri`). */
function endpointInputs(text, fail, env) {
    const endpoint = text("s3-endpoint").replace(/\/+$/, "") || undefined;
    if (endpoint) {
        const problem = insecureUrlProblem(endpoint);
        if (problem)
            fail("s3-endpoint", problem);
    }
    const region = text("s3-region") || env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint ? "us-east-1" : "");
    if (!region)
        fail("s3-region", "is required for AWS (the bucket's region, e.g. eu-west-3), or set AWS_REGION.");
    return { ...(endpoint ? { endpoint } : {}), region };
}
function parseS3Url(url, fail) {
    const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
    const bucket = match?.[1] ?? "";
    if (!match || !BUCKET.test(bucket)) {
        fail("s3-url", `"${url}" is not s3://<bucket>/<prefix>/ (a bucket name: 3 to 63 lower-case letters, digits, '.' and '-').`);
        return { bucket, prefix: "" };
    }
    let prefix = match[2] ?? "";
    if (prefix && !prefix.endsWith("/"))
        prefix += "/";
    if (/[\r\n\\]|\/\//.test(prefix) || prefix.startsWith("/"))
        fail("s3-url", `the prefix "${prefix}" holds an empty folder name, a backslash or a line break: use s3://${bucket}/folder/`);
    return { bucket, prefix };
}
function lockInputs(text, fail) {
    const daysText = text("s3-object-lock-days");
    const modeText = (text("s3-object-lock-mode") || "GOVERNANCE").toUpperCase();
    if (!LOCK_MODES.includes(modeText))
        fail("s3-object-lock-mode", `"${text("s3-object-lock-mode")}" is not GOVERNANCE or COMPLIANCE.`);
    if (!daysText) {
        if (text("s3-object-lock-mode"))
            fail("s3-object-lock-mode", "needs `s3-object-lock-days` (how long each backup stays locked).");
        return undefined;
    }
    const days = Number(daysText);
    if (!/^\d+$/.test(daysText) || days < 1 || days > MAX_LOCK_DAYS) {
        fail("s3-object-lock-days", `"${daysText}" is not a whole number of days from 1 to ${MAX_LOCK_DAYS}.`);
        return undefined;
    }
    return { days, mode: modeText };
}
/** Where the credentials come from: the standard AWS variables, and nowhere else. */
const CREDENTIAL_VARIABLES = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];
/** Both entry points mask the credentials before the inputs are parsed, whatever else is wrong. */
function maskCredentials(env, setSecret) {
    for (const name of CREDENTIAL_VARIABLES) {
        const value = env[name]?.trim();
        if (value)
            setSecret(value);
    }
}
function credentialsFrom(env, fail, input) {
    const accessKeyId = env.AWS_ACCESS_KEY_ID?.trim() ?? "";
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY?.trim() ?? "";
    const sessionToken = env.AWS_SESSION_TOKEN?.trim() || undefined;
    if (!accessKeyId || !secretAccessKey)
        fail(input, "needs credentials in the environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), set by aws-actions/configure-aws-credentials or from secrets in `env:`. They are never inputs.");
    return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(76760);
// EXTERNAL MODULE: external "node:fs"
var external_node_fs_ = __webpack_require__(73024);
// EXTERNAL MODULE: external "node:stream"
var external_node_stream_ = __webpack_require__(57075);
// EXTERNAL MODULE: external "node:stream/promises"
var promises_ = __webpack_require__(46466);
// EXTERNAL MODULE: ./node_modules/age-encryption/dist/index.js + 48 modules
var dist = __webpack_require__(43389);
;// CONCATENATED MODULE: ./src/artifact/encrypt.ts




/**
 * Encrypts `source` to `target` for the age recipients, as a stream (age's STREAM construction
 * works chunk by chunk), so the dump is never held in memory. `target` must exist, empty: the
 * caller creates it exclusively (so it only ever removes what it created); this never creates or
 * replaces a file. The result decrypts with
 * `age --decrypt -i key.txt`.
 */
async function encryptFile(source, target, recipients) {
    const encrypter = new Encrypter();
    for (const recipient of recipients)
        encrypter.addRecipient(recipient);
    const plain = Readable.toWeb(createReadStream(source, { highWaterMark: 64 * 1024 }));
    const encrypted = await encrypter.encrypt(plain);
    await pipeline(Readable.fromWeb(encrypted), createWriteStream(target, { flags: "r+" }));
}
/** The library and version that encrypts (package.json pins it): named when it refuses a recipient type. */
const AGE_LIBRARY = "age-encryption 0.3.1";
/**
 * Why a line of `encryption-recipients` cannot be used, or undefined. A private key is named as
 * such without echoing any of it: it was just written where public values go, and must be rotated.
 * SSH keys are accepted as soon as the library accepts them; today it does not, and says nothing
 * a user could act on, so the message does.
 */
function encrypt_recipientProblem(line, position) {
    if (/^AGE-(SECRET-KEY|PLUGIN)-/i.test(line)) {
        return `recipient ${position} is a private key: put the public recipient (age1…) here, and rotate that key (it was written in the workflow or a secret meant for recipients).`;
    }
    try {
        new Encrypter().addRecipient(line);
        return undefined;
    }
    catch {
        const ssh = /^(ssh-ed25519|ssh-rsa)\s/.exec(line);
        if (ssh) {
            return `recipient ${position} is an SSH public key (${ssh[1]}): the age library this action uses (${AGE_LIBRARY}) cannot encrypt to SSH keys; generate an age key pair with \`age-keygen\` and put its public recipient (age1…) here.`;
        }
        return `"${line.slice(0, 24)}..." is not an age recipient (a public key starting with age1, one per line).`;
    }
}

// EXTERNAL MODULE: ./src/constants.ts
var constants = __webpack_require__(27242);
;// CONCATENATED MODULE: ./src/duration.ts
// Durations in inputs: a bare number keeps the input's historical unit (seconds for
// `reachable-timeout`, minutes for `stale-rule-age`), and a unit may be written instead
// (`300s`, `5m`, `12h`, `1h30m`, `7d`). One parser for every duration input, so that they all
// read and refuse the same way.
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const UNIT_NAMES = { s: "seconds", m: "minutes", h: "hours", d: "days" };
/** One or more `<whole number><unit>` parts, largest first by habit but in any order. */
const WITH_UNITS = /^(?:\d+[smhd])+$/;
/** Milliseconds in `text` (trimmed, case-insensitive units), or undefined when it is not a duration. */
function parseDuration(text, bareUnit) {
    const value = text.trim().toLowerCase().replace(/\s+/g, "");
    if (/^\d+$/.test(value))
        return Number(value) * UNIT_MS[bareUnit];
    if (!WITH_UNITS.test(value))
        return undefined;
    let ms = 0;
    for (const [, n, unit] of value.matchAll(/(\d+)([smhd])/g))
        ms += Number(n) * UNIT_MS[unit];
    return ms;
}
/** `90m` → "1h30m": the shortest exact spelling, for messages. */
function formatDuration(ms) {
    if (ms === 0)
        return "0";
    let rest = ms;
    let text = "";
    for (const unit of ["d", "h", "m", "s"]) {
        const n = Math.floor(rest / UNIT_MS[unit]);
        if (n)
            text += `${n}${unit}`;
        rest -= n * UNIT_MS[unit];
    }
    return text || `${ms}ms`;
}
/** A duration input in milliseconds; a bad value is reported through `fail`, naming the input. */
function duration_duration(text, spec, fail) {
    if (!text.trim())
        return spec.fallbackMs;
    const ms = parseDuration(text, spec.bareUnit);
    const range = `from ${formatDuration(spec.minMs)} to ${formatDuration(spec.maxMs)}${spec.zeroDisables ? ", or 0 (off)" : ""}`;
    if (ms === undefined) {
        fail(spec.input, `"${text.trim()}" is not a duration: a whole number of ${UNIT_NAMES[spec.bareUnit]}, or with a unit (300s, 5m, 12h, 1h30m, 7d), ${range}.`);
        return spec.fallbackMs;
    }
    if (ms === 0 && spec.zeroDisables)
        return 0;
    if (ms < spec.minMs || ms > spec.maxMs) {
        fail(spec.input, `"${text.trim()}" is out of range: ${range}.`);
        return spec.fallbackMs;
    }
    return ms;
}

;// CONCATENATED MODULE: ./src/inputs.ts


const inputs_TRUE = ["true", "True", "TRUE"];
const inputs_FALSE = ["false", "False", "FALSE"];
/** Non-empty lines, comments (`#`) left out: URLs and recipients are given one per line. */
function inputs_lines(value) {
    return value
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith("#"));
}
function inputs_integer(value, fallback, min, max, input, unit, fail) {
    if (!value)
        return fallback;
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
        fail(input, `"${value}" is not a whole number from ${min} to ${max} (${unit}).`);
        return fallback;
    }
    return n;
}
function inputs_boolean(value, fallback, input, fail) {
    if (!value)
        return fallback;
    if (inputs_TRUE.includes(value))
        return true;
    if (inputs_FALSE.includes(value))
        return false;
    fail(input, `"${value}" is not true or false.`);
    return fallback;
}
/** The API token travels to these URLs (Basic auth): see insecureUrlProblem. */
function serviceUrl(value, input, fail) {
    const problem = insecureUrlProblem(value);
    if (problem)
        fail(input, problem);
    return value.replace(/\/+$/, "");
}
/** PEM text is kept as is, `system` and `scalingo` too; anything else is a file, relative to the workspace. */
function rootCert(value, env, fail) {
    if (!value || value === "system" || value === "scalingo")
        return value || undefined;
    if (value.includes("-----BEGIN")) {
        if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(value))
            fail("ssl-root-cert", "holds PEM text but no complete certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----).");
        return value;
    }
    if (/[\r\n]/.test(value)) {
        fail("ssl-root-cert", "is neither PEM text, a file path, `system` nor `scalingo`.");
        return undefined;
    }
    return external_node_path_.resolve(env.GITHUB_WORKSPACE || process.cwd(), value);
}

// EXTERNAL MODULE: ./src/naming.ts
var naming = __webpack_require__(28499);
;// CONCATENATED MODULE: ./src/postgres/pg-dump-options.ts
// pg-dump-args as pg_dump itself reads them: getopt_long, with pg_dump's own option table. A
// plain prefix check misses what getopt accepts: an unambiguous abbreviation (`--fil=/tmp/x`), a
// group of short options (`-vZ9`, `-Fp`), an argument in the next word (`-f /tmp/x`), and a
// non-option word, which pg_dump takes as the database name or a whole connection string.
/** Short options of pg_dump 15 to 18 (`:` = takes an argument), from their getopt_long calls; `-V` and `-?` it reads before. */
const SHORT = "abBcCd:e:E:f:F:h:j:n:N:Op:RsS:t:T:U:vwWxXZ:V?";
/** Long options of pg_dump 15 to 18 (the union: a name one version lacks is refused by it), with their argument. */
const LONG = {
    "data-only": { arg: false, short: "a" },
    blobs: { arg: false, short: "b" },
    "large-objects": { arg: false, short: "b" },
    "no-blobs": { arg: false, short: "B" },
    "no-large-objects": { arg: false, short: "B" },
    clean: { arg: false, short: "c" },
    create: { arg: false, short: "C" },
    dbname: { arg: true, short: "d" },
    extension: { arg: true, short: "e" },
    file: { arg: true, short: "f" },
    format: { arg: true, short: "F" },
    host: { arg: true, short: "h" },
    jobs: { arg: true, short: "j" },
    "no-reconnect": { arg: false, short: "R" },
    "no-owner": { arg: false, short: "O" },
    port: { arg: true, short: "p" },
    schema: { arg: true, short: "n" },
    "exclude-schema": { arg: true, short: "N" },
    "schema-only": { arg: false, short: "s" },
    superuser: { arg: true, short: "S" },
    table: { arg: true, short: "t" },
    "exclude-table": { arg: true, short: "T" },
    "no-password": { arg: false, short: "w" },
    password: { arg: false, short: "W" },
    username: { arg: true, short: "U" },
    verbose: { arg: false, short: "v" },
    "no-privileges": { arg: false, short: "x" },
    "no-acl": { arg: false, short: "x" },
    compress: { arg: true, short: "Z" },
    encoding: { arg: true, short: "E" },
    help: { arg: false, short: "?" },
    version: { arg: false, short: "V" },
    "attribute-inserts": { arg: false },
    "binary-upgrade": { arg: false },
    "column-inserts": { arg: false },
    "disable-dollar-quoting": { arg: false },
    "disable-triggers": { arg: false },
    "enable-row-security": { arg: false },
    "exclude-table-data": { arg: true },
    "extra-float-digits": { arg: true },
    "if-exists": { arg: false },
    inserts: { arg: false },
    "lock-wait-timeout": { arg: true },
    "no-table-access-method": { arg: false },
    "no-tablespaces": { arg: false },
    "quote-all-identifiers": { arg: false },
    "load-via-partition-root": { arg: false },
    role: { arg: true },
    section: { arg: true },
    "serializable-deferrable": { arg: false },
    snapshot: { arg: true },
    "statistics-only": { arg: false },
    "strict-names": { arg: false },
    "use-set-session-authorization": { arg: false },
    "no-comments": { arg: false },
    "no-data": { arg: false },
    "no-policies": { arg: false },
    "no-publications": { arg: false },
    "no-schema": { arg: false },
    "no-security-labels": { arg: false },
    "no-statistics": { arg: false },
    "no-subscriptions": { arg: false },
    "no-toast-compression": { arg: false },
    "no-unlogged-table-data": { arg: false },
    "no-sync": { arg: false },
    "on-conflict-do-nothing": { arg: false },
    "rows-per-insert": { arg: true },
    "include-foreign-data": { arg: true },
    "table-and-children": { arg: true },
    "exclude-table-and-children": { arg: true },
    "exclude-table-data-and-children": { arg: true },
    "sync-method": { arg: true },
    filter: { arg: true },
    "exclude-extension": { arg: true },
    "restrict-key": { arg: true },
    "with-data": { arg: false },
    "with-schema": { arg: false },
    "with-statistics": { arg: false },
    "sequence-data": { arg: false },
};
function pg_dump_options_parsePgDumpArgs(words) {
    return parseGetoptArgs(words, { short: SHORT, long: LONG });
}
/**
 * Every option pg_dump would see, as getopt_long reads them: `--name[=value]` where name may be
 * any unambiguous prefix (an exact name wins); grouped short options up to the first that takes an
 * argument, which is the rest of the word or the next word. Everything after `--` is an operand.
 */
function parseGetoptArgs(words, table) {
    const { short: SHORT, long: LONG } = table;
    const longNameOf = (short) => Object.keys(LONG).find((name) => LONG[name]?.short === short) ?? short;
    const options = [];
    const operands = [];
    for (let i = 0; i < words.length; i++) {
        const word = words[i];
        if (word === "--") {
            operands.push(...words.slice(i + 1));
            break;
        }
        if (word.startsWith("--")) {
            const [written, ...value] = word.slice(2).split("=");
            const names = LONG[written] ? [written] : Object.keys(LONG).filter((name) => name.startsWith(written));
            // Several names for one option (blobs/large-objects) are one option: getopt takes either.
            const takesArg = names.length > 0 && names.every((name) => LONG[name].arg);
            const separate = takesArg && value.length === 0 && i + 1 < words.length;
            options.push({ names: names.length ? names : [written], text: separate ? `${word} ${words[++i]}` : word });
            continue;
        }
        if (word.startsWith("-") && word.length > 1) {
            for (let j = 1; j < word.length; j++) {
                const letter = word[j];
                const at = SHORT.indexOf(letter);
                const takesArg = at >= 0 && SHORT[at + 1] === ":";
                if (!takesArg) {
                    options.push({ names: [longNameOf(letter)], text: `-${letter}` });
                    continue;
                }
                const inWord = j + 1 < word.length;
                const text = inWord ? `-${word.slice(j)}` : i + 1 < words.length ? `-${letter} ${words[++i]}` : `-${letter}`;
                options.push({ names: [longNameOf(letter)], text });
                break;
            }
            continue;
        }
        operands.push(word);
    }
    return { options, operands };
}
/** What the action sets itself: where the file goes, its format, and where the connection comes from. */
const RESERVED = new Set(["file", "format", "jobs", "dbname", "host", "port", "username", "password", "no-password", "compress"]);
/** Options that make pg_dump print something and exit 0 without dumping: the "dump" would be empty. */
const NO_DUMP = new Set(["help", "version"]);
/**
 * Why these arguments cannot be passed to pg_dump, or undefined. An abbreviation is refused when
 * any option it could stand for is reserved: pg_dump versions differ, and one with fewer options
 * may resolve it to the reserved one.
 */
function pg_dump_options_reservedArgsProblem(parsed) {
    const noDump = parsed.options.filter((o) => o.names.some((name) => NO_DUMP.has(name)));
    if (noDump.length) {
        return `${noDump.map((o) => o.text).join(", ")} ${noDump.length > 1 ? "print" : "prints"} pg_dump's version or help instead of dumping: remove ${noDump.length > 1 ? "them" : "it"}.`;
    }
    const taken = parsed.options.filter((o) => o.names.some((name) => RESERVED.has(name)));
    if (taken.length) {
        return `${taken.map((o) => o.text).join(", ")} ${taken.length > 1 ? "are" : "is"} set by the action itself: use the \`format\`, \`jobs\`, \`compress\` and \`path\` inputs instead (the connection comes from Scalingo).`;
    }
    if (parsed.operands.length) {
        return `${parsed.operands.map((w) => `"${w}"`).join(" ")}: pg_dump reads a word that is not an option as the database name or a connection string; the connection comes from Scalingo. Pass options only (an option's value goes after = or in the next word).`;
    }
    return undefined;
}
/** `--snapshot`, however written. */
const pg_dump_options_setsSnapshot = (parsed) => parsed.options.some((o) => o.names.includes("snapshot"));
/**
 * `--enable-row-security`, however abbreviated (`--enable-row`): the row counts must read the rows
 * pg_dump reads, so they use the same setting. An ambiguous abbreviation is refused by pg_dump itself.
 */
const enablesRowSecurity = (parsed) => parsed.options.some((o) => o.names.length === 1 && o.names[0] === "enable-row-security");

// EXTERNAL MODULE: ./node_modules/shell-quote/index.js
var shell_quote = __webpack_require__(26591);
;// CONCATENATED MODULE: ./src/words.ts

/**
 * Splits `pg-dump-args` into argv words the way a shell would (quotes, backslashes), without
 * running a shell: no variable expansion, no globbing (`^pg_*` stays a pg_dump pattern), and shell
 * operators are refused because nothing would run them.
 */
function words_parseWords(text) {
    // A comment ends at the end of its line, as in a shell: shell-quote's runs to the end of the text.
    return text.split(/\r?\n/).flatMap(lineWords);
}
function lineWords(text) {
    const words = [];
    for (const entry of (0,shell_quote.parse)(text, (name) => `$${name}`)) {
        if (typeof entry === "string")
            words.push(entry);
        else if ("op" in entry && entry.op === "glob")
            words.push(entry.pattern);
        else if ("comment" in entry)
            break;
        else
            throw new Error(`contains the shell operator "${"op" in entry ? entry.op : "?"}": pg-dump-args are pg_dump arguments, not a shell command.`);
    }
    return words;
}

;// CONCATENATED MODULE: ./src/postgres/pg-dump-seed.ts



// `pg-dump-args` replaces the default arguments (the seed), so that a user can drop one on
// purpose (`--clean` cannot go with `--data-only`); `pg-dump-extra-args` adds to them. A user who
// set `pg-dump-args` to add one option often drops the seed by mistake: each seed flag missing
// from it is named, so the log says what changed.
/** An option as pg_dump reads it: its long name and its value, however it was written. */
function canonical(option) {
    const name = option.names.length === 1 ? option.names[0] : option.names.join("|");
    const value = /^--?[^=\s]+(?:=|\s)(.*)$/s.exec(option.text)?.[1] ?? (/^-[A-Za-z](.+)$/s.exec(option.text)?.[1] || "");
    return value ? `${name}=${value}` : name;
}
/** Flags the seed holds that `--data-only` (or its short form) cannot go with. */
const DATA_ONLY_CONFLICTS = new Set(["clean", "if-exists"]);
/** The seed's words missing from a replacing `pg-dump-args`, leaving out those its own options exclude. */
function pg_dump_seed_missingSeedFlags(words) {
    const given = parsePgDumpArgs(words).options;
    const have = new Set(given.map(canonical));
    const dataOnly = given.some((o) => o.names.includes("data-only"));
    const seedWords = parseWords(DEFAULT_PG_DUMP_ARGS);
    return parsePgDumpArgs(seedWords)
        .options.filter((o) => !have.has(canonical(o)))
        .filter((o) => !(dataOnly && o.names.some((n) => DATA_ONLY_CONFLICTS.has(n))))
        .map((o) => o.text);
}

// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __webpack_require__(77598);
;// CONCATENATED MODULE: ./src/scalingo/rule-label.ts

// The firewall rule's label, in one place: the label the action writes by default, and the labels
// it recognises as its own (this format and the one before it). Scalingo documents no rule for
// labels (length, characters, normalisation), so the default label keeps to a strict subset that
// any sane rule accepts: at most 64 characters of letters, digits, space, dot, dash and underscore.
/** Every default label starts with this, so a person reading the rules knows who added it. */
const LABEL_PREFIX = "scalingo-pg-dump";
const MAX_LABEL_LENGTH = 64;
/** The label rule the action assumes for its own labels (and names when Scalingo refuses one). */
const LABEL_RULE = `at most ${MAX_LABEL_LENGTH} characters, only letters, digits, space, dot, dash and underscore`;
const LABEL_CHARS = /^[A-Za-z0-9 ._-]*$/;
function followsLabelRule(label) {
    return label.length <= MAX_LABEL_LENGTH && LABEL_CHARS.test(label);
}
/**
 * A random token per job attempt and matrix leg (legs share GITHUB_JOB and may share an egress IP
 * and a second): 8 characters of lower-case base32, 40 bits. Lower case only, so a Scalingo that
 * changes the case of labels cannot change it.
 */
function newLabelToken(random = external_node_crypto_.randomBytes) {
    const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
    return [...random(8)].map((byte) => alphabet[byte & 31]).join("");
}
/** A short hash of `owner/repo`: recognisable per repository, whatever its name's length or characters. */
function repositoryTag(repository) {
    return (0,external_node_crypto_.createHash)("sha256").update(repository.toLowerCase()).digest("hex").slice(0, 8);
}
/** `20261205T0317Z`: the creation time to the minute, in characters any label rule accepts. */
function labelStamp(at) {
    return at
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\d\d\.\d{3}Z$/, "Z");
}
/**
 * `scalingo-pg-dump <token> <repo-hash> <time> <run>-<attempt> <job>`, cut at 64 characters: the
 * token first (a trimmed label keeps it), then what the stale sweep needs (repository and time),
 * then the run and job for people, as far as they fit.
 */
function defaultRuleLabel(o) {
    const tail = ` ${o.runId}-${o.attempt} ${o.job}`.replace(/[^A-Za-z0-9 ._-]/g, "_");
    const label = `${LABEL_PREFIX} ${o.token} ${repositoryTag(o.repository)} ${labelStamp(o.at)}${tail}`;
    return label.slice(0, MAX_LABEL_LENGTH).trimEnd();
}
const NEW_FORMAT = new RegExp(`^${LABEL_PREFIX} ([a-z2-7]{8}) ([0-9a-f]{8}) (\\d{4})(\\d\\d)(\\d\\d)T(\\d\\d)(\\d\\d)Z(?: .*)?$`, "i");
// Before 2026-12: `scalingo-pg-dump <owner/repo> run <id>/<attempt> job <job> at <ISO time>`.
const OLD_FORMAT = new RegExp(`^${LABEL_PREFIX} (\\S+) run \\d+/\\d+ job \\S+(?: at (\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ))?$`, "i");
/** A label in either of the action's default formats: its repository check, token and creation time. */
function parseOwnLabel(label) {
    const fresh = NEW_FORMAT.exec(label);
    if (fresh) {
        const [, token, tag, y, mo, d, h, mi] = fresh;
        return {
            isRepository: (repository) => repositoryTag(repository) === tag.toLowerCase(),
            token: token.toLowerCase(),
            createdAtMs: Date.parse(`${y}-${mo}-${d}T${h}:${mi}:00Z`),
        };
    }
    const old = OLD_FORMAT.exec(label);
    if (!old)
        return undefined;
    return { isRepository: (repository) => repository.toLowerCase() === old[1].toLowerCase(), createdAtMs: old[2] ? Date.parse(old[2]) : undefined };
}
/** Whether a label is in one of the action's own default formats, whatever the repository. */
function looksLikeOwnLabel(label) {
    return parseOwnLabel(label) !== undefined;
}
/**
 * Whether a listed label is this job's: it holds the token (a Scalingo that trims or changes the
 * case of labels keeps it, since it comes first), or, for a user's label, equals it but for case.
 */
function isOwnLabel(listed, own) {
    if (listed === undefined)
        return false;
    if (own.token)
        return listed.toLowerCase().includes(own.token.toLowerCase());
    return listed.trim().toLowerCase() === own.label.trim().toLowerCase();
}

;// CONCATENATED MODULE: ./src/config.ts















const SSL_MODE_INPUTS = ["require", "verify-ca", "verify-full"];
const FORMATS = (/* unused pure expression or super */ null && (["custom", "directory", "tar", "plain"]));
const VERIFY_LEVELS = (/* unused pure expression or super */ null && (["list", "restore", "false"]));
/**
 * `jobs: 0` is one worker per CPU, but each worker is a connection to the production database: on a
 * 64-core runner that would be 64. Four keep a 2-4 core hosted runner busy; more must be asked for.
 */
const MAX_DEFAULT_JOBS = 4;
const DATABASE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/;
// pg_dump --compress: a level, or method[:detail] where detail is a level or key=value list.
const COMPRESS = /^(\d|(gzip|lz4|zstd|none)(:[a-z0-9=,_-]+)?)$/;
const ARTIFACT_NAME_FORBIDDEN = /["<>|*?:\\/\r\n]/;
/**
 * Every input at once, in the order action.yml lists them: each section reads its own, and all
 * problems are reported together, each naming its input (docs/design.md).
 */
function parseConfig(read, env, now, cpuCount) {
    const problems = [];
    const warnings = [];
    const inputs = {
        raw: read,
        text: (name) => read(name).trim(),
        fail: (input, message) => problems.push(`\`${input}\`: ${message}`),
        warn: (message) => warnings.push(message),
    };
    const scalingo = scalingoInputs(inputs);
    const firewall = firewallInputs(inputs, env);
    const { baseName, ...dump } = dumpInputs(inputs, env, now, cpuCount, scalingo.database);
    const checks = checkInputs(inputs, env, dump.pgDumpArgs, cpuCount);
    const artifact = artifactInputs(inputs, baseName);
    const s3 = s3Inputs(inputs, env, baseName);
    if (problems.length)
        throw new InputError(problems);
    return { ...scalingo, ...firewall, ...dump, ...checks, ...artifact, ...s3, warnings };
}
function scalingoInputs({ raw, text, fail }) {
    const apiToken = raw("api-token").trim();
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression shown to the user, not a template
    if (!apiToken)
        fail("api-token", "is required: pass the Scalingo API token from a secret, e.g. `${{ secrets.SCALINGO_API_TOKEN }}`.");
    else if (/\s/.test(apiToken))
        fail("api-token", "contains white space: check the secret holds only the token.");
    const database = text("database");
    if (!database)
        fail("database", "is required: the Dedicated Resources database ID, as in `scalingo --database <id>`.");
    else if (!DATABASE_ID.test(database))
        fail("database", `"${database}" is not a database ID (letters, digits, '-' and '_', up to 100).`);
    const region = text("region") || "osc-fr1";
    if (!REGION.test(region))
        fail("region", `"${region}" is not a region name such as osc-fr1 or osc-secnum-fr1.`);
    const authUrl = serviceUrl(text("auth-url") || "https://auth.scalingo.com", "auth-url", fail);
    const runnerIp = text("runner-ip") || undefined;
    if (runnerIp && !(0,external_node_net_.isIPv4)(runnerIp))
        fail("runner-ip", `"${runnerIp}" is not an IPv4 address (Scalingo firewall rules are IPv4 only).`);
    const lookupLines = inputs_lines(raw("ip-lookup-urls"));
    for (const url of lookupLines)
        serviceUrl(url, "ip-lookup-urls", fail);
    const custom = lookupLines.length > 0;
    return {
        apiToken,
        database,
        region,
        authUrl,
        runnerIp,
        ipLookupUrls: custom ? lookupLines : [...constants/* DEFAULT_IP_LOOKUP_URLS */.sb],
        ipLookupUrlsCustom: custom,
        ipLookupPolicy: (custom ? "first" : "agree"),
    };
}
function firewallInputs({ text, fail }, env) {
    // Sent as given (labels that work today keep working): Scalingo decides, and a refusal names it.
    const ruleLabel = text("rule-label") || undefined;
    if (ruleLabel && (/[\r\n]/.test(ruleLabel) || ruleLabel.length > 200))
        fail("rule-label", "must be one line of at most 200 characters.");
    // A custom label in the default format would pass for another run's leftover in the sweep of
    // the repository it names: that format is reserved for the default labels.
    else if (ruleLabel && looksLikeOwnLabel(ruleLabel))
        fail("rule-label", `"${ruleLabel}" is in the action's own default format, reserved for its default labels: choose another label, or leave it empty.`);
    // A bare number keeps each input's historical unit: seconds here, minutes for the sweep.
    const reachableTimeoutMs = duration_duration(text("reachable-timeout"), { input: "reachable-timeout", bareUnit: "s", fallbackMs: 300_000, minMs: 1000, maxMs: 3_600_000 }, fail);
    const staleRuleAgeMs = duration_duration(text("stale-rule-age"), { input: "stale-rule-age", bareUnit: "m", fallbackMs: 720 * MINUTE, minMs: 0, maxMs: 365 * 24 * 60 * MINUTE }, fail);
    if (staleRuleAgeMs > 0 && staleRuleAgeMs < MIN_STALE_RULE_AGE_MINUTES * MINUTE)
        fail("stale-rule-age", `"${text("stale-rule-age")}" is too short: a rule younger than ${MIN_STALE_RULE_AGE_MINUTES} minutes (6h, the longest job on GitHub-hosted runners) may belong to a run still going. Use 0 (off) or at least ${MIN_STALE_RULE_AGE_MINUTES} (6h); self-hosted runners: more than your longest job.`);
    return { ...(ruleLabel ? { ruleLabel } : {}), run: (0,naming/* runOf */.ng)(env), repository: (0,naming/* repositoryOf */._M)(env), reachableTimeoutMs, staleRuleAgeMs };
}
function dumpInputs({ raw, text, fail, warn }, env, now, cpuCount, database) {
    const format = (text("format") || "custom");
    if (!FORMATS.includes(format))
        fail("format", `"${format}" is not one of ${FORMATS.join(", ")}.`);
    const compress = text("compress") || undefined;
    if (compress && !COMPRESS.test(compress))
        fail("compress", `"${compress}" is not a pg_dump compression: a level 0-9, or gzip[:N], lz4[:N], zstd[:N] or none.`);
    const compressAfter = compressAfterInput(boolean(text("compress-after"), false, "compress-after", fail), format, compress, fail);
    const jobsInput = integer(text("jobs"), 0, 0, 64, "jobs", `parallel workers (0 = one per CPU, at most ${MAX_DEFAULT_JOBS})`, fail);
    if (jobsInput > 1 && format !== "directory")
        fail("jobs", `parallel workers need \`format: directory\`; got format "${format}". Remove \`jobs\` or use the directory format.`);
    const jobs = format === "directory" ? jobsInput || Math.min(MAX_DEFAULT_JOBS, Math.max(1, cpuCount)) : undefined;
    // `pg-dump-args` replaces the defaults, `pg-dump-extra-args` adds to them (pg-dump-seed.ts).
    const replacing = raw("pg-dump-args").trim();
    const pgDumpArgs = [
        ...argsInput(replacing || DEFAULT_PG_DUMP_ARGS, "pg-dump-args", fail),
        ...argsInput(raw("pg-dump-extra-args"), "pg-dump-extra-args", fail),
    ];
    const missing = replacing ? missingSeedFlags(argsInput(replacing, "pg-dump-args", () => undefined)) : [];
    if (missing.length)
        warn(`\`pg-dump-args\` replaces the default arguments, and ${missing.join(" ")} ${missing.length > 1 ? "are" : "is"} not among yours. To add options to the defaults instead, put them in \`pg-dump-extra-args\` and leave \`pg-dump-args\` empty.`);
    const versionText = text("pg-dump-version") || "auto";
    const pgDumpVersion = versionText === "auto" ? "auto" : Number(versionText);
    if (pgDumpVersion !== "auto" && !(Number.isInteger(pgDumpVersion) && pgDumpVersion >= 10 && pgDumpVersion <= 40)) {
        fail("pg-dump-version", `"${versionText}" is not \`auto\` or a PostgreSQL major version such as 17.`);
    }
    const dumpRetries = integer(text("dump-retries"), 1, 0, 10, "dump-retries", "new attempts when pg_dump loses its connection; 0 = none", fail);
    // A bare number is minutes; the default stays under the hosted runners' 6-hour job limit, so the
    // action, not the runner, stops pg_dump and closes the rule.
    const dumpTimeoutMs = duration(text("dump-timeout"), { input: "dump-timeout", bareUnit: "m", fallbackMs: 5 * HOUR, minMs: 1000, maxMs: 7 * 24 * HOUR }, fail);
    const baseName = `${database || "database"}-${utcStamp(now)}`;
    const pathInput = text("path");
    const dumpPath = pathInput
        ? path.resolve(env.GITHUB_WORKSPACE || process.cwd(), pathInput)
        : path.join(runnerTemp(env), "scalingo-pg-dump", baseName + extensionOf(format, compress));
    return {
        format,
        ...(compressAfter === undefined ? { compress } : { compressAfter }),
        jobs,
        pgDumpArgs,
        pgDumpVersion,
        dumpPath,
        dumpRetries,
        dumpTimeoutMs,
        baseName,
    };
}
/**
 * `compress-after: true`: pg_dump writes uncompressed while the rule is open, and the data files
 * are gzipped after it is removed; `compress` then gives that gzip level (default 6). Only the
 * directory format keeps one file per table that pg_restore reads compressed or not.
 */
function compressAfterInput(on, format, compress, fail) {
    if (!on)
        return undefined;
    if (format !== "directory") {
        fail("compress-after", `compresses a directory dump's files after the rule is removed: it needs \`format: directory\` (format is "${format}").`);
        return undefined;
    }
    if (!compress)
        return DEFAULT_AFTER_LEVEL;
    const level = /^(?:gzip:)?([1-9])$/.exec(compress)?.[1] ?? (compress === "gzip" ? String(DEFAULT_AFTER_LEVEL) : undefined);
    if (level === undefined)
        fail("compress", `with \`compress-after\`, "${compress}" is not a gzip level: use 1-9 (or gzip:N), or leave it empty for 6.`);
    return Number(level ?? DEFAULT_AFTER_LEVEL);
}
function checkInputs(inputs, env, pgDumpArgs, cpuCount) {
    const { text, fail } = inputs;
    const verify = verifyLevel(text("verify"), fail);
    const verifyRowCounts = boolean(text("verify-row-counts"), false, "verify-row-counts", fail);
    if (verifyRowCounts && verify !== "restore")
        fail("verify-row-counts", `compares the dump with its restored copy: it needs \`verify: restore\` (verify is "${verify}").`);
    if (verifyRowCounts && setsSnapshot(parsePgDumpArgs(pgDumpArgs)))
        fail("pg-dump-args", "--snapshot is set by the action when `verify-row-counts` is true (the rows are counted in that snapshot): remove it.");
    // Read by the install while the rule propagates: refused now, before anything is opened.
    const mirror = mirrorProblem(env[PGDG_MIRROR_ENV]);
    if (mirror)
        fail(PGDG_MIRROR_ENV, mirror);
    return { verify, verifyRowCounts, restoreJobs: Math.max(1, Math.min(cpuCount, 8)), tempDir: runnerTemp(env), ...tlsInputs(inputs, env) };
}
/** `ssl-mode` and `ssl-root-cert`: the restore action reads them too (docs/design.md, TLS). */
function tlsInputs({ raw, text, fail }, env) {
    const sslMode = (text("ssl-mode") || undefined);
    if (sslMode && !SSL_MODE_INPUTS.includes(sslMode))
        fail("ssl-mode", `"${sslMode}" is not one of ${SSL_MODE_INPUTS.join(", ")} (empty: the URI's).`);
    const sslRootCert = rootCert(raw("ssl-root-cert").trim(), env, fail);
    return { ...(sslMode ? { sslMode } : {}), ...(sslRootCert ? { sslRootCert } : {}) };
}
function artifactInputs({ raw, text, fail }, baseName) {
    const upload = boolean(text("upload"), true, "upload", fail);
    const allowUnencryptedPublic = boolean(text("allow-unencrypted-public"), false, "allow-unencrypted-public", fail);
    const artifactName = text("artifact-name") || baseName;
    if (text("artifact-name") && ARTIFACT_NAME_FORBIDDEN.test(artifactName))
        fail("artifact-name", `"${artifactName}" contains a character artifact names reject: " : < > | * ? \\ / or a line break.`);
    const retentionText = text("retention-days");
    const retentionDays = retentionText ? integer(retentionText, 0, 1, 90, "retention-days", "days", fail) : undefined;
    const encryptionRecipients = lines(raw("encryption-recipients"));
    encryptionRecipients.forEach((recipient, i) => {
        const problem = recipientProblem(recipient, i + 1);
        if (problem)
            fail("encryption-recipients", problem);
    });
    return { upload, allowUnencryptedPublic, artifactName, retentionDays, encryptionRecipients };
}
/** pg_dump arguments as pg_dump reads them; options the action sets itself, and operands, are refused. */
function argsInput(text, input, fail) {
    if (!text.trim())
        return [];
    try {
        const words = parseWords(text.trim());
        const problem = reservedArgsProblem(parsePgDumpArgs(words));
        if (problem)
            fail(input, problem);
        return words;
    }
    catch (error) {
        fail(input, error.message);
        return [];
    }
}
function runnerTemp(env) {
    return env.RUNNER_TEMP || env.TMPDIR || "/tmp";
}
const HOUR = 3_600_000;
/** Jobs on GitHub-hosted runners end after 6 hours: an own rule older than that belongs to a dead run. */
const MIN_STALE_RULE_AGE_MINUTES = 360;
const MINUTE = 60_000;
/** `true` stays an alias of `list`, today's check, so existing workflows keep their meaning. */
function verifyLevel(value, fail) {
    if (!value || TRUE.includes(value))
        return "list";
    if (FALSE.includes(value))
        return "false";
    if (VERIFY_LEVELS.includes(value))
        return value;
    fail("verify", `"${value}" is not one of list (or true), restore, false.`);
    return "list";
}

;// CONCATENATED MODULE: ./src/s3/s3-source.ts

/**
 * `s3-uri` (the backup's `s3-uri` output: `s3://bucket/key`) with `s3-endpoint` and `s3-region`.
 * Credentials, as for the backup, only from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN.
 */
function s3ObjectInputs({ text, fail }, env) {
    const uri = text("s3-uri");
    if (!uri) {
        for (const name of ["s3-endpoint", "s3-region"].filter((n) => text(n)))
            fail(name, "needs `s3-uri` (the backup it reads), e.g. `s3://my-backups/scalingo/my-db-20261205T031700Z.dump`.");
        return undefined;
    }
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
    const bucket = match?.[1] ?? "";
    const key = match?.[2] ?? "";
    if (!match || !BUCKET.test(bucket) || key.endsWith("/") || /[\r\n\\]/.test(key))
        fail("s3-uri", `"${uri}" is not s3://<bucket>/<key> of one backup: use the backup's \`s3-uri\` output, e.g. s3://my-backups/scalingo/my-db-20261205T031700Z.dump.`);
    else if (key.includes(".manifest.json"))
        fail("s3-uri", `"${uri}" is a manifest: name the dump itself (the manifest beside it is read too).`);
    const { endpoint, region } = endpointInputs(text, fail, env);
    return { bucket, key, ...(endpoint ? { endpoint } : {}), region, credentials: credentialsFrom(env, fail, "s3-uri") };
}

// EXTERNAL MODULE: ./src/restore/input-path.ts
var input_path = __webpack_require__(30856);
;// CONCATENATED MODULE: ./src/restore/pg-restore-options.ts


// pg-restore-args as pg_restore reads them (getopt_long, its own option table), checked like
// pg-dump-args: what the action owns (the target, the transaction, the workers, the connection)
// is reserved, and a word that is not an option is refused.
/** Short options of pg_restore 15 to 18, from their getopt_long calls. */
const pg_restore_options_SHORT = "acCd:ef:F:h:I:j:lL:n:N:Op:P:RsS:t:T:U:vwWx1";
const flag = (short) => ({ arg: false, ...(short ? { short } : {}) });
const value = (short) => ({ arg: true, ...(short ? { short } : {}) });
const pg_restore_options_LONG = {
    "data-only": flag("a"),
    clean: flag("c"),
    create: flag("C"),
    dbname: value("d"),
    "exit-on-error": flag("e"),
    file: value("f"),
    format: value("F"),
    host: value("h"),
    index: value("I"),
    jobs: value("j"),
    list: flag("l"),
    "use-list": value("L"),
    schema: value("n"),
    "exclude-schema": value("N"),
    "no-owner": flag("O"),
    port: value("p"),
    function: value("P"),
    "no-reconnect": flag("R"),
    "schema-only": flag("s"),
    superuser: value("S"),
    table: value("t"),
    trigger: value("T"),
    username: value("U"),
    verbose: flag("v"),
    "no-password": flag("w"),
    password: flag("W"),
    "no-privileges": flag("x"),
    "no-acl": flag("x"),
    "single-transaction": flag("1"),
    help: flag(),
    version: flag(),
    "disable-triggers": flag(),
    "enable-row-security": flag(),
    "if-exists": flag(),
    "no-data-for-failed-tables": flag(),
    "no-tablespaces": flag(),
    role: value(),
    section: value(),
    "strict-names": flag(),
    "use-set-session-authorization": flag(),
    "no-comments": flag(),
    "no-data": flag(),
    "no-policies": flag(),
    "no-publications": flag(),
    "no-schema": flag(),
    "no-security-labels": flag(),
    "no-statistics": flag(),
    "no-subscriptions": flag(),
    "no-table-access-method": flag(),
    "statistics-only": flag(),
    "transaction-size": value(),
    filter: value(),
    "exclude-database": value(),
    "restrict-key": value(),
    "with-data": flag(),
    "with-schema": flag(),
    "with-statistics": flag(),
};
/** Owned by the action: the target and how it is written into (issue 22), and the connection. */
const pg_restore_options_RESERVED = new Set([
    "dbname",
    "file",
    "list",
    "use-list",
    "create",
    "clean",
    "single-transaction",
    "jobs",
    "host",
    "port",
    "username",
    "password",
    "no-password",
    "help",
    "version",
]);
/** What the action passes unless told otherwise: stop at the first error; the target's role owns everything. */
const DEFAULT_PG_RESTORE_ARGS = "--exit-on-error --no-owner --no-privileges --no-tablespaces";
function parsePgRestoreArgs(words) {
    return parseGetoptArgs(words, { short: pg_restore_options_SHORT, long: pg_restore_options_LONG });
}
/** The words to pass to pg_restore, or throws why they cannot be. */
function pgRestoreArgs(text) {
    const words = words_parseWords(text.trim() || DEFAULT_PG_RESTORE_ARGS);
    const parsed = parsePgRestoreArgs(words);
    const taken = parsed.options.filter((o) => o.names.some((name) => pg_restore_options_RESERVED.has(name)));
    if (taken.length) {
        throw new Error(`${taken.map((o) => o.text).join(", ")} ${taken.length > 1 ? "are" : "is"} set by the action itself: the target comes from \`database\` and \`target-database-name\`, the transaction from \`confirm\`, the workers from \`jobs\` (-d, -f, -l, -L, -C, --clean, -1 and -j are reserved; the connection comes from Scalingo).`);
    }
    if (parsed.operands.length) {
        throw new Error(`${parsed.operands.map((w) => `"${w}"`).join(" ")}: pg_restore reads a word that is not an option as the dump file; the dump comes from \`path\` or the artifact. Pass options only.`);
    }
    return words;
}
/** Whether the arguments keep pg_restore going after an error (without --exit-on-error). */
const exitsOnError = (words) => parsePgRestoreArgs(words).options.some((o) => o.names.includes("exit-on-error"));

;// CONCATENATED MODULE: ./src/restore/config.ts






// A database name the action will quote anyway; this keeps names readable in logs and summaries.
const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;
const config_ARTIFACT_NAME_FORBIDDEN = /["<>|*?:\\/\r\n]/;
const WORKFLOW = /^[A-Za-z0-9._-]+\.ya?ml$|^\d+$/;
function parseRestoreConfig(read, env, cpuCount) {
    const problems = [];
    const inputs = {
        raw: read,
        text: (name) => read(name).trim(),
        fail: (input, message) => problems.push(`\`${input}\`: ${message}`),
        warn: () => undefined,
    };
    const scalingo = scalingoInputs(inputs);
    const firewall = firewallInputs(inputs, env);
    const tls = tlsInputs(inputs, env);
    const source = sourceInputs(inputs, env);
    const target = targetInputs(inputs, cpuCount);
    const identity = read("decryption-identity").trim();
    if (identity && !/^AGE-SECRET-KEY-1[0-9A-Z]+$/.test(identity))
        inputs.fail("decryption-identity", "is not an age identity (one line starting with AGE-SECRET-KEY-1): pass the secret holding the backup's identity.");
    if (problems.length)
        throw new errors/* InputError */.dz(problems);
    return { ...scalingo, ...firewall, ...tls, source, ...target, ...(identity ? { decryptionIdentity: identity } : {}), tempDir: runnerTemp(env) };
}
function sourceInputs(inputs, env) {
    const { text, fail } = inputs;
    const file = text("path");
    const name = text("artifact-name");
    const runId = text("run-id");
    const latest = inputs_boolean(text("latest"), false, "latest", fail);
    const workflow = text("workflow");
    const githubToken = text("github-token");
    const s3 = s3ObjectInputs(inputs, env);
    const chosen = [file && "`path`", runId && "`run-id`", latest && "`latest: true`", s3 && "`s3-uri`"].filter(Boolean);
    if (chosen.length !== 1) {
        fail("path", `say which backup to restore, one of: \`path\` (a file on the runner), \`artifact-name\` with \`run-id\`, or \`latest: true\` with \`workflow\` and \`artifact-name\`, or \`s3-uri\` (a backup stored in S3)${chosen.length ? ` (got ${chosen.join(" and ")})` : ""}.`);
        return { kind: "path", path: "" };
    }
    if (name && config_ARTIFACT_NAME_FORBIDDEN.test(name))
        fail("artifact-name", `"${name}" contains a character artifact names reject.`);
    if (file || s3) {
        if (name)
            fail("artifact-name", `is for an artifact of another run: with \`${file ? "path" : "s3-uri"}\`, leave it empty.`);
        return s3 ? { kind: "s3", object: s3 } : { kind: "path", path: (0,input_path/* resolveInputPath */.q)(file, env) };
    }
    if (!name)
        fail("artifact-name", `is required with ${latest ? "`latest`" : "`run-id`"}: the dump's artifact name${latest ? " (or its beginning)" : ""}, as the backup's \`artifact-name\` output gives it.`);
    if (!githubToken)
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression shown to the user, not a template
        fail("github-token", "is required to download an artifact of another run: `${{ github.token }}` with `permissions: actions: read`.");
    if (!latest) {
        if (!/^\d{1,20}$/.test(runId))
            fail("run-id", `"${runId}" is not a workflow run ID (digits, as in the run's URL).`);
        if (workflow)
            fail("workflow", "is for `latest: true`: with `run-id`, leave it empty.");
        return { kind: "artifact", name, runId: Number(runId), githubToken };
    }
    if (!WORKFLOW.test(workflow))
        fail("workflow", `${workflow ? `"${workflow}"` : "empty"}: with \`latest: true\`, the backup workflow's file name (e.g. backup.yml) or ID.`);
    return { kind: "latest", namePrefix: name, workflow, githubToken };
}
function targetInputs({ raw, text, fail }, cpuCount) {
    const target = text("target-database-name") || undefined;
    const confirm = text("confirm");
    if (target && !DATABASE_NAME.test(target))
        fail("target-database-name", `"${target}" is not a database name (letters, digits, _ $ -; up to 63).`);
    if (target && confirm !== target)
        fail("confirm", `restoring over the existing database "${target}" replaces its contents: set \`confirm\` to the same name to do so${confirm ? ` (got "${confirm}")` : ""}. Without \`target-database-name\`, the action restores into a fresh database instead.`);
    if (!target && confirm)
        fail("confirm", "confirms a `target-database-name`, which is empty: name the database to restore over, or remove `confirm`.");
    const dropAfter = inputs_boolean(text("drop-after"), false, "drop-after", fail);
    if (dropAfter && target)
        fail("drop-after", "drops the fresh database the action creates; it never drops a named target: remove one of the two.");
    const jobsInput = inputs_integer(text("jobs"), 0, 0, 64, "jobs", `pg_restore workers (0 = one per CPU, at most ${MAX_DEFAULT_JOBS})`, fail);
    if (target && jobsInput > 1)
        fail("jobs", "a restore over a named target runs in one transaction, which pg_restore cannot split between workers: remove `jobs`.");
    const jobs = target ? 1 : jobsInput || Math.min(MAX_DEFAULT_JOBS, Math.max(1, cpuCount));
    let args = [];
    try {
        args = pgRestoreArgs(raw("pg-restore-args"));
    }
    catch (error) {
        fail("pg-restore-args", error.message);
    }
    const counts = text("verify-row-counts") || "auto";
    if (!["true", "false", "auto"].includes(counts))
        fail("verify-row-counts", `"${counts}" is not true, false or auto.`);
    return { ...(target ? { target } : {}), jobs, pgRestoreArgs: args, dropAfter, verifyRowCounts: counts };
}

// EXTERNAL MODULE: ./node_modules/pg/esm/index.mjs
var esm = __webpack_require__(83849);
;// CONCATENATED MODULE: ./src/postgres/auth-guard.ts
/** What libpq would say, or undefined when the method is allowed. */
function authProblem(policy, method, channelBound) {
    if (policy.channelBinding === "require" && !channelBound) {
        return `channel binding is required (channel_binding=require), but the server ${method === "none" ? "authenticated the client without it" : `asked for ${method} authentication without it`}`;
    }
    const list = policy.requireAuth
        ?.split(",")
        .map((m) => m.trim())
        .filter(Boolean);
    if (!list?.length)
        return undefined;
    const negated = list.every((m) => m.startsWith("!"));
    const named = list.map((m) => m.replace(/^!/, ""));
    const allowed = negated ? !named.includes(method) : named.includes(method);
    if (allowed)
        return undefined;
    const asked = method === "password" ? "a cleartext password" : method === "none" ? "no authentication" : `${method} authentication`;
    return `authentication method requirement "${policy.requireAuth}" failed: the server asked for ${asked}; the password was not sent`;
}
/**
 * Guards one pg.Client before it connects: `password` must be the client's password function
 * returned here. The client's Connection emits each authentication request before the client's own
 * handler asks for the password, so the method is known when the password is requested.
 */
function guardAuthentication(client, policy, password, tlsUsed) {
    // `connection` is node-postgres's protocol layer: public on the instance, not in its types.
    const con = client.connection;
    let method;
    let bound = false;
    con.on("authenticationCleartextPassword", () => {
        method = "password";
    });
    con.on("authenticationMD5Password", () => {
        method = "md5";
    });
    con.on("authenticationSASL", (msg) => {
        method = "scram-sha-256";
        // node-postgres picks SCRAM-SHA-256-PLUS whenever it is offered over TLS (enableChannelBinding).
        bound = tlsUsed() && msg.mechanisms.includes("SCRAM-SHA-256-PLUS");
    });
    con.on("authenticationOk", () => {
        const problem = method ? undefined : authProblem(policy, "none", false);
        if (problem)
            con.emit("error", new AuthRefusedError(problem));
    });
    client.password = () => {
        const problem = authProblem(policy, method ?? "none", bound);
        if (problem)
            throw new AuthRefusedError(problem);
        return password;
    };
}
class AuthRefusedError extends Error {
    code = "AUTH_REFUSED";
}

;// CONCATENATED MODULE: ./src/postgres/connection.ts




const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
function parseConnectionUri(uri) {
    let url;
    try {
        url = new URL(uri);
    }
    catch {
        throw new errors/* ActionError */.lZ("scalingo", "SCALINGO_POSTGRESQL_URL is not a valid URI (its value is not shown: it holds the password).");
    }
    if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
        throw new errors/* ActionError */.lZ("scalingo", `SCALINGO_POSTGRESQL_URL has scheme "${url.protocol}", expected postgres:// or postgresql://.`);
    }
    const sslmode = url.searchParams.get("sslmode") ?? undefined;
    if (sslmode && !SSL_MODES.includes(sslmode))
        throw new errors/* ActionError */.lZ("scalingo", `SCALINGO_POSTGRESQL_URL has an unknown sslmode "${sslmode}".`);
    return {
        host: url.hostname.replace(/^\[|\]$/g, ""),
        port: url.port ? Number(url.port) : 5432,
        user: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        database: decodeURIComponent(url.pathname.replace(/^\//, "")) || decodeURIComponent(url.username),
        sslmode,
        sslrootcert: url.searchParams.get("sslrootcert") ?? undefined,
    };
}
/**
 * libpq reads these, so pg_dump and pg_restore get the connection without any of it in argv
 * (where `ps` and /proc/<pid>/cmdline would show the password).
 */
function libpqEnv(c) {
    const env = {
        PGHOST: c.host,
        PGPORT: String(c.port),
        PGUSER: c.user,
        PGPASSWORD: c.password,
        PGDATABASE: c.database,
        PGAPPNAME: "scalingo-pg-dump",
        PGCONNECT_TIMEOUT: "15",
    };
    if (c.sslmode)
        env.PGSSLMODE = c.sslmode;
    if (c.sslrootcert)
        env.PGSSLROOTCERT = c.sslrootcert;
    // libpq before 13 (channel_binding) and before 16 (require_auth) ignores these variables.
    if (c.channelBinding)
        env.PGCHANNELBINDING = c.channelBinding;
    if (c.requireAuth)
        env.PGREQUIREAUTH = c.requireAuth;
    return env;
}
/**
 * The same connection for the `pg` library, verified exactly as libpq verifies it (node-postgres
 * would read `require` as `verify-full`, and trust Node's own CA list): TLS unless sslmode
 * disables it; the chain checked against `sslrootcert` whenever one is set (libpq does so even for
 * require); the host name checked for verify-full only. Without `sslrootcert`, nothing is verified,
 * as libpq's require. The password is added by pgClient, behind the authentication guard.
 */
function pgClientConfig(c, connectTimeoutMs, allowPlain = false, queryTimeoutMs) {
    const mode = c.sslmode ?? "prefer";
    const ca = c.sslrootcert ? (0,external_node_fs_.readFileSync)(c.sslrootcert, "utf8") : undefined;
    let ssl;
    if (mode === "disable" || (allowPlain && (mode === "allow" || mode === "prefer")))
        ssl = false;
    else if (!ca)
        ssl = { rejectUnauthorized: false };
    else if (mode === "verify-full")
        ssl = { rejectUnauthorized: true, ca };
    else
        ssl = { rejectUnauthorized: true, ca, checkServerIdentity: () => undefined };
    return {
        host: c.host,
        port: c.port,
        user: c.user,
        database: c.database,
        ssl,
        // SCRAM-SHA-256-PLUS when the server offers it over TLS, as libpq's channel_binding=prefer.
        enableChannelBinding: c.channelBinding !== "disable",
        connectionTimeoutMillis: connectTimeoutMs,
        // A black-holed session must fail, not hang: TCP keepalive from the first idle minute (each
        // query that can take long is bounded by its caller: the probe's, the dump's time limit).
        keepAlive: true,
        keepAliveInitialDelayMillis: 60_000,
        ...(queryTimeoutMs ? { query_timeout: queryTimeoutMs } : {}),
        application_name: "scalingo-pg-dump",
    };
}
/** A pg.Client for the connection whose password is only sent for an authentication libpq would allow. */
function pgClient(c, connectTimeoutMs, allowPlain = false, queryTimeoutMs) {
    const config = pgClientConfig(c, connectTimeoutMs, allowPlain, queryTimeoutMs);
    const client = new esm/* default.Client */.Ay.Client(config);
    guardAuthentication(client, { requireAuth: c.requireAuth, channelBinding: c.channelBinding }, c.password, () => config.ssl !== false);
    return client;
}

// EXTERNAL MODULE: external "node:fs/promises"
var external_node_fs_promises_ = __webpack_require__(51455);
// EXTERNAL MODULE: external "node:tls"
var external_node_tls_ = __webpack_require__(41692);
;// CONCATENATED MODULE: ./src/postgres/tls.ts






const tls_SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
const CHANNEL_BINDINGS = ["disable", "prefer", "require"];
const rank = (mode) => tls_SSL_MODES.indexOf((mode ?? "prefer"));
const stronger = (order, a, b) => b !== undefined && order.indexOf(b) > order.indexOf(a) ? b : a;
function rootCertOf(value) {
    if (value === "system")
        return { kind: "system" };
    if (value.includes("-----BEGIN"))
        return { kind: "pem", pem: value };
    return { kind: "file", path: value };
}
/**
 * The URI's settings, the inputs and the runner's PG* variables combined, never weaker than any of
 * them: the strongest sslmode wins; the `ssl-root-cert` input, else PGSSLROOTCERT, else the URI's
 * sslrootcert, else libpq's own default file; `system` implies verify-full (any public CA can sign
 * a certificate for another name, which is also why libpq 16 insists on it). Over a channel whose
 * server is not verified, a cleartext password is refused (require_auth `!password`) unless the
 * runner's PGREQUIREAUTH says otherwise.
 */
function decideTls(uri, input, env) {
    if (input.sslMode && rank(input.sslMode) < rank(uri.sslmode)) {
        throw new errors/* InputError */.dz([
            `\`ssl-mode\`: "${input.sslMode}" is weaker than the database URI's sslmode "${uri.sslmode}"; the action never weakens it. Use "${uri.sslmode}" or stronger, or leave it empty.`,
        ]);
    }
    let sslmode = stronger(tls_SSL_MODES, (uri.sslmode ?? "prefer"), input.sslMode);
    sslmode = stronger(tls_SSL_MODES, sslmode, env.PGSSLMODE);
    const source = input.sslRootCert ?? env.PGSSLROOTCERT ?? uri.sslrootcert ?? libpqDefaultRootCert(env);
    const rootCert = source ? rootCertOf(source) : undefined;
    if (rootCert?.kind === "system")
        sslmode = stronger(tls_SSL_MODES, sslmode, "verify-full");
    if (sslmode.startsWith("verify-") && !rootCert) {
        throw new errors/* InputError */.dz([
            `\`ssl-mode\`: ${sslmode} verifies the server against a CA, but none is given: set \`ssl-root-cert\` to the CA's PEM text, a file, or \`system\` (the runner's trusted roots).`,
        ]);
    }
    const channelBinding = stronger(CHANNEL_BINDINGS, "prefer", env.PGCHANNELBINDING);
    // allow and prefer may fall back to a plain connection: only require and above are sure to verify.
    const verified = Boolean(rootCert) && rank(sslmode) >= rank("require");
    const requireAuth = env.PGREQUIREAUTH || (verified ? undefined : "!password");
    return { sslmode, ...(rootCert ? { rootCert } : {}), channelBinding, ...(requireAuth ? { requireAuth } : {}) };
}
/** libpq reads ~/.postgresql/root.crt when no root certificate is named, and then verifies with it. */
function libpqDefaultRootCert(env) {
    const file = external_node_path_.join(env.HOME || (0,external_node_os_.homedir)(), ".postgresql", "root.crt");
    return (0,external_node_fs_.existsSync)(file) ? file : undefined;
}
/**
 * The decision applied to the connection: PEM text and the OS roots are written to `root.crt` in a
 * private temporary folder (0700, the file 0600), which the caller removes when the run ends; a
 * file is used where it is. libpq before 16 takes `sslrootcert=system` for a file named "system",
 * so the OS roots are always passed as a file: every pg_dump version, and the probe, trust the
 * same list.
 */
async function applyTls(c, d, tempBase, onFolder) {
    let sslrootcert;
    if (d.rootCert?.kind === "file") {
        sslrootcert = d.rootCert.path;
        await (0,external_node_fs_promises_.readFile)(sslrootcert).catch((error) => {
            throw new errors/* InputError */.dz([`\`ssl-root-cert\`: cannot read ${sslrootcert} (${error.code ?? error.message}).`]);
        });
    }
    else if (d.rootCert) {
        const dir = await (0,external_node_fs_promises_.mkdtemp)(external_node_path_.join(tempBase || (0,external_node_os_.tmpdir)(), "scalingo-pg-dump-tls-"));
        onFolder(dir);
        sslrootcert = external_node_path_.join(dir, "root.crt");
        const pem = d.rootCert.kind === "pem" ? d.rootCert.pem : systemRoots();
        await (0,external_node_fs_promises_.writeFile)(sslrootcert, pem.endsWith("\n") ? pem : `${pem}\n`, { flag: "wx", mode: 0o600 });
    }
    const { sslrootcert: _uriRootCert, ...rest } = c;
    return {
        ...rest,
        sslmode: d.sslmode,
        ...(sslrootcert ? { sslrootcert } : {}),
        channelBinding: d.channelBinding,
        ...(d.requireAuth ? { requireAuth: d.requireAuth } : {}),
    };
}
/** Node 24 reads the OS store (OpenSSL's default file and folder); older Node has only its own list. */
function systemRoots() {
    const get = external_node_tls_.getCACertificates;
    const roots = get ? get("system") : [...external_node_tls_.rootCertificates];
    if (!roots.length)
        throw new errors/* ActionError */.lZ("inputs", "`ssl-root-cert`: system: the runner has no trusted root certificates.");
    return roots.join("\n");
}

;// CONCATENATED MODULE: ./src/runner/first-failure.ts
// Work started at once where the first failure stops the rest: the client install and the wait for
// the database while the rule propagates (the rule must not stay open for a run already lost).
// The run's teardown stops them too. Every task settles before the failure is thrown, so nothing
// starts after the clean-up.
function firstFailureStops(ending) {
    const stop = new AbortController();
    return {
        signal: AbortSignal.any([stop.signal, ending]),
        track: (work) => work.catch((error) => {
            stop.abort(error);
            throw error;
        }),
        settle: async (...tasks) => {
            await Promise.allSettled(tasks);
            if (stop.signal.aborted)
                throw stop.signal.reason;
            return (await Promise.all(tasks));
        },
    };
}
/**
 * Work started at once where each task runs to its end: every task settles before anything is
 * thrown (none acquires after the clean-up), then the failure of the first task in the list that
 * failed, whichever failed first in time: the caller decides which failure the user reads first.
 */
async function settleInOrder(...tasks) {
    const settled = await Promise.allSettled(tasks);
    for (const result of settled)
        if (result.status === "rejected")
            throw result.reason;
    return settled.map((result) => result.value);
}

;// CONCATENATED MODULE: ./src/report/report.ts

function report_newReport(database, region, format, encrypted) {
    return { database, region, format, encrypted, durationsMs: {} };
}
/** The phase each error escaped from (the innermost phase() it crossed): who reports it later asks. */
const escapedFrom = new WeakMap();
/** Runs one phase, timing it and recording it as the failed one if it throws. */
async function phase(report, name, work) {
    const started = Date.now();
    try {
        return await work();
    }
    catch (error) {
        const failed = error.phase ?? name;
        report.failedPhase ??= failed;
        if (error && typeof error === "object" && !escapedFrom.has(error))
            escapedFrom.set(error, failed);
        throw error;
    }
    finally {
        report.durationsMs[name] = (report.durationsMs[name] ?? 0) + Date.now() - started;
    }
}
/**
 * Phases started at once, each run to its end (runner/first-failure.ts, settleInOrder): nothing
 * they acquire is still being acquired when the caller's teardown runs. The error thrown is the
 * first one in the list that failed, and the report then names its phase: phase() alone would
 * keep the phase that failed first in time, and the summary would name one failure and tell another.
 */
async function phasesAtOnce(report, ...tasks) {
    try {
        return await settleInOrder(...tasks);
    }
    catch (error) {
        const failed = error && typeof error === "object" ? escapedFrom.get(error) : undefined;
        report.failedPhase = failed ?? error.phase ?? report.failedPhase;
        throw error;
    }
}
/** Outputs as action.yml names them; only what is known. */
function outputsOf(r) {
    const all = {
        "dump-path": r.dumpPath,
        "dump-size": r.dumpSize,
        "dump-sha256": r.sha256,
        "artifact-id": r.artifactId,
        "artifact-name": r.artifactName,
        "artifact-digest": r.artifactDigest,
        "artifact-url": r.artifactUrl,
        "runner-ip": r.runnerIp,
        "firewall-rule-id": r.ruleId,
        "server-version": r.serverVersion,
        "pg-dump-version": r.pgDumpVersion,
        "restore-verified": r.restoreVerified,
        "manifest-path": r.manifestPath,
        "manifest-artifact-name": r.manifestArtifactName,
        "s3-uri": r.s3Uri,
        "s3-version-id": r.s3VersionId,
        "s3-deleted": r.s3Deleted ? JSON.stringify(r.s3Deleted) : undefined,
        tables: r.restore?.tables.length,
        rows: r.restore?.rows,
    };
    return Object.fromEntries(Object.entries(all)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, String(v)]));
}
/** The log's last word on a good night: where the backup is kept, then the runner's copy. */
function doneLine(r) {
    const size = `${r.dumpSize} bytes, sha256 ${r.sha256}`;
    if (!r.artifactName)
        return `Backup done: ${r.dumpPath} (${size}); not uploaded (\`upload: false\`).`;
    const link = r.artifactUrl ? ` ${r.artifactUrl}` : ` (id ${r.artifactId})`;
    return `Backup done: artifact ${r.artifactName}${link} (${size}); the runner's copy: ${r.dumpPath}.`;
}

// EXTERNAL MODULE: ./src/runner/files.ts
var files = __webpack_require__(40869);
// EXTERNAL MODULE: ./node_modules/@actions/http-client/lib/index.js
var lib = __webpack_require__(22779);
// EXTERNAL MODULE: ./node_modules/@actions/http-client/lib/proxy.js
var lib_proxy = __webpack_require__(19783);
;// CONCATENATED MODULE: ./src/runner/proxy.ts



const client = new lib/* HttpClient */.Qq(constants/* USER_AGENT */._O);
/** One dispatcher per proxy, so its connections are reused across calls. */
const dispatchers = new Map();
/** The dispatcher `fetch` must use for `url`: the proxy @actions/http-client would use, or none (direct). */
function dispatcherFor(url) {
    const proxy = (0,lib_proxy/* getProxyUrl */.s)(new URL(url));
    if (!proxy)
        return undefined;
    let dispatcher = dispatchers.get(proxy.href);
    if (!dispatcher) {
        // undici's ProxyAgent (@actions/http-client's own); Node's fetch accepts any undici dispatcher.
        dispatcher = client.getAgentDispatcher(url);
        dispatchers.set(proxy.href, dispatcher);
    }
    return dispatcher;
}
/** fetch, through the proxy the environment sets for `url`. */
function proxiedFetch(url, init = {}) {
    const dispatcher = dispatcherFor(url);
    return fetch(url, dispatcher ? { ...init, dispatcher } : init);
}

;// CONCATENATED MODULE: ./src/runner/public-ip.ts



/**
 * Ranges that can never be the runner's address as the database sees it: allowlisting one would
 * open nothing useful (or something dangerous), so an answer in them means a broken provider.
 */
const NOT_PUBLIC = new external_node_net_.BlockList();
for (const [net, prefix] of [
    ["0.0.0.0", 8],
    ["10.0.0.0", 8],
    ["100.64.0.0", 10],
    ["127.0.0.0", 8],
    ["169.254.0.0", 16],
    ["172.16.0.0", 12],
    ["192.0.0.0", 24],
    ["192.0.2.0", 24],
    ["192.168.0.0", 16],
    ["198.18.0.0", 15],
    ["198.51.100.0", 24],
    ["203.0.113.0", 24],
    ["224.0.0.0", 4],
    ["240.0.0.0", 4],
]) {
    NOT_PUBLIC.addSubnet(net, prefix, "ipv4");
}
function isPublicIPv4(ip) {
    return (0,external_node_net_.isIPv4)(ip) && !NOT_PUBLIC.check(ip, "ipv4");
}
/**
 * Asks every provider at once. `first`: the first valid answer wins. `agree`: the first address two
 * providers give wins; when the window after the first answer closes (or every provider has
 * answered) with a single answer, it is used with a warning; with answers that all differ, the
 * lookup fails: one of them is wrong, and allowlisting the wrong address either opens the
 * database to someone else or never lets the runner in. The others are cancelled.
 */
async function lookupPublicIp(o) {
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(o.timeoutMs ?? 5000)]);
    const policy = o.policy ?? "first";
    const answers = [];
    const failures = new Map();
    let window;
    try {
        return await new Promise((resolve, reject) => {
            let pending = o.urls.length;
            const decide = () => {
                clearTimeout(window);
                try {
                    resolve(decideAddress(answers, failures, policy));
                }
                catch (error) {
                    reject(error);
                }
            };
            for (const url of o.urls) {
                askProvider(url, o.requirePublic, signal)
                    .then((answer) => {
                    answers.push(answer);
                    if (policy === "first" || agreeing(answers).length >= 2)
                        decide();
                    else if (answers.length === 1)
                        window = setTimeout(decide, o.agreeWindowMs ?? 2500);
                })
                    .catch((error) => failures.set(url, error.message))
                    .finally(() => {
                    if (--pending === 0)
                        decide();
                });
            }
        });
    }
    finally {
        clearTimeout(window);
        controller.abort();
    }
}
/** The answers for the address given most often (the first such on a tie). */
function agreeing(answers) {
    let best = [];
    for (const { ip } of answers) {
        const same = answers.filter((a) => a.ip === ip);
        if (same.length > best.length)
            best = same;
    }
    return best;
}
function decideAddress(answers, failures, policy) {
    const others = [...failures].map(([url, reason]) => `  - ${url}: ${reason}`);
    if (answers.length === 0) {
        throw new errors/* ActionError */.lZ("ip-lookup", `Could not detect the runner's public IPv4 address:\n${others.join("\n")}\nSet \`runner-ip\` to the runner's egress address, or \`ip-lookup-urls\` to services that answer it.`);
    }
    if (policy === "first")
        return { ip: answers[0].ip, sources: [answers[0].source] };
    const agreed = agreeing(answers);
    if (agreed.length >= 2)
        return { ip: agreed[0].ip, sources: agreed.map((a) => a.source) };
    if (answers.length === 1) {
        const { ip, source } = answers[0];
        return {
            ip,
            sources: [source],
            warning: `Only ${source} answered the runner's IP address (${ip}); no second lookup service confirmed it${others.length ? `:\n${others.join("\n")}` : "."}\nSet \`runner-ip\` if you know the runner's egress address.`,
        };
    }
    throw new errors/* ActionError */.lZ("ip-lookup", `The IP lookup services disagree on the runner's address: ${answers.map((a) => `${a.source} says ${a.ip}`).join(", ")}. Allowlisting the wrong one would open the database to someone else: set \`runner-ip\` to the runner's egress address, or \`ip-lookup-urls\` to a service you trust.`);
}
async function askProvider(url, requirePublic, signal) {
    let res;
    try {
        res = await proxiedFetch(url, { signal, headers: { Accept: "text/plain" } });
    }
    catch (error) {
        const e = error;
        throw new Error(signal.aborted ? "timed out" : `no answer (${e.cause?.code ?? e.message})`);
    }
    if (!res.ok)
        throw new Error(`answered ${res.status}`);
    const ip = (await res.text()).trim();
    if (!(0,external_node_net_.isIPv4)(ip))
        throw new Error(`answered "${ip.slice(0, 40)}", not an IPv4 address`);
    if (requirePublic && !isPublicIPv4(ip))
        throw new Error(`answered ${ip}, which is not a public address`);
    return { ip, source: url };
}

;// CONCATENATED MODULE: ./src/scalingo/answers.ts

function wrongShape(a, what) {
    const where = a.requestId ? ` (request id ${a.requestId})` : "";
    return new errors/* ScalingoApiError */.Tn(`${a.call} answered ${a.status} with an answer of the wrong shape: ${what}${where}`, a.status);
}
const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);
/** `field` of `parent` as an object: null or missing is empty. */
function objectAt(a, parent, field) {
    const value = parent[field];
    if (value === null || value === undefined)
        return {};
    if (!isObject(value))
        throw wrongShape(a, `"${field}" is not an object`);
    return value;
}
/** `field` of `parent` as a list of objects: null or missing is empty. */
function listAt(a, parent, field) {
    const value = parent[field];
    if (value === null || value === undefined)
        return [];
    if (!Array.isArray(value) || !value.every(isObject))
        throw wrongShape(a, `"${field}" is not a list of objects`);
    return value;
}
/** A string the call cannot do without. */
function required(a, parent, field, where) {
    const value = parent[field];
    if (typeof value !== "string" || value === "")
        throw wrongShape(a, `${where} has no "${field}"`);
    return value;
}
/** A string the action can do without: null, missing or another type is absent. */
function optional(parent, field) {
    const value = parent[field];
    return typeof value === "string" ? value : undefined;
}
/** The whole body: an empty body or null is an empty object. */
function root(res) {
    if (res.body === null || res.body === undefined)
        return {};
    if (!isObject(res.body))
        throw wrongShape(res, "not a JSON object");
    return res.body;
}
function tokenOf(res) {
    return required(res, root(res), "token", "the answer");
}
function regionsOf(res) {
    return listAt(res, root(res), "regions").map((r) => ({
        name: required(res, r, "name", "a region"),
        api: required(res, r, "api", "a region"),
        database_api: optional(r, "database_api") || undefined,
    }));
}
function addonIdsOf(res) {
    return listAt(res, root(res), "addons").map((addon) => required(res, addon, "id", "an addon"));
}
function addonTokenOf(res) {
    return required(res, objectAt(res, root(res), "addon"), "token", '"addon"');
}
function variableOf(res, name) {
    const variable = listAt(res, root(res), "variables").find((v) => v.name === name);
    return variable ? optional(variable, "value") : undefined;
}
function databaseOf(res) {
    const db = objectAt(res, root(res), "database");
    return { id: optional(db, "id"), status: required(res, db, "status", '"database"'), readable_version: required(res, db, "readable_version", '"database"') };
}
function ruleOf(res, rule) {
    const type = required(res, rule, "type", "a rule");
    return {
        id: required(res, rule, "id", "a rule"),
        type: type,
        ...(optional(rule, "cidr") ? { cidr: optional(rule, "cidr") } : {}),
        ...(optional(rule, "label") !== undefined ? { label: optional(rule, "label") } : {}),
        ...(optional(rule, "range_id") ? { range_id: optional(rule, "range_id") } : {}),
    };
}
function rulesOf(res) {
    return listAt(res, root(res), "rules").map((rule) => ruleOf(res, rule));
}
function createdRuleOf(res) {
    return ruleOf(res, objectAt(res, root(res), "rule"));
}
/**
 * `readable_version` as people write a PostgreSQL version: `17.11.0-1` (Scalingo's changelog,
 * 2026-08-19) and `17.2.0` both give major.minor (`17.11`, `17.2`); the major leads either way.
 */
function serverVersionOf(readable) {
    const match = /^(\d+)(?:\.(\d+))?/.exec(readable.trim());
    if (!match)
        return readable;
    return match[2] === undefined ? match[1] : `${match[1]}.${match[2]}`;
}

;// CONCATENATED MODULE: ./src/scalingo/ca-certificate.ts




const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
/** The CA certificates in a PEM answer; an answer holding none, or no CA, is an error naming the URL. */
function caCertificatesIn(text, url) {
    const blocks = text.match(PEM_BLOCK) ?? [];
    const certificates = blocks.flatMap((block) => {
        try {
            return [new external_node_crypto_.X509Certificate(block)];
        }
        catch {
            return [];
        }
    });
    if (!certificates.some((c) => c.ca)) {
        throw new errors/* ActionError */.lZ("scalingo", `${url} answered no CA certificate (${blocks.length} PEM certificate block(s), none a CA). Set \`ssl-root-cert\` to the CA yourself.`);
    }
    return `${blocks.join("\n")}\n`;
}
/** Fetched over HTTPS (verified by Node against the runner's roots), through the runner's proxy. */
async function fetchScalingoCa(region, timeoutMs = 30_000) {
    const url = `${region.database_api ?? region.api}/api/ca_certificate`;
    let text;
    try {
        const res = await proxiedFetch(url, { headers: { "User-Agent": constants/* USER_AGENT */._O }, signal: AbortSignal.timeout(timeoutMs) });
        text = await res.text();
        if (!res.ok)
            throw new Error(`HTTP ${res.status}${res.headers.get("x-request-id") ? `, request id ${res.headers.get("x-request-id")}` : ""}`);
    }
    catch (error) {
        const cause = error.cause?.code;
        throw new errors/* ActionError */.lZ("scalingo", `Could not download Scalingo's database CA from ${url} (${(0,errors/* errorMessage */.gJ)(error)}${cause ? `, ${cause}` : ""}) for \`ssl-root-cert: scalingo\`. Set \`ssl-root-cert\` to the CA's PEM text instead.`);
    }
    return { pem: caCertificatesIn(text, url), url };
}

;// CONCATENATED MODULE: ./src/scalingo/database-api.ts

/**
 * The forms this region can be called in, in the order to try them: the one already known to
 * answer, then the form Scalingo's own Go client and CLI use when the regions list names a
 * `database_api`, then the regional one.
 */
function formsInOrder(urls, known) {
    const available = urls.database_api !== undefined ? ["legacy", "regional"] : ["regional"];
    return known && available.includes(known) ? [known, ...available.filter((f) => f !== known)] : available;
}
/**
 * Answers that mean "not here, and not done": the credential is not taken (401 after a renewal,
 * 403) or the route is not served (404, 405, 410). Never a 5xx or a lost answer, after which the
 * request may have been applied.
 */
const REFUSED = new Set([401, 403, 404, 405, 410]);
function refusedByForm(status) {
    return status !== undefined && REFUSED.has(status);
}
/** Every form refused: the error names each refusal, the last one's status kept. */
function refusedByEveryForm(refusals) {
    const last = refusals[refusals.length - 1];
    if (!last)
        return new errors/* ScalingoApiError */.Tn("The region lists no host for the database API.");
    if (refusals.length === 1)
        return last;
    return new errors/* ScalingoApiError */.Tn(`Both forms of the database API refused the call: ${refusals.map((e) => e.message).join("; ")}`, last.status);
}
function isDbApiForm(value) {
    return value === "regional" || value === "legacy";
}
/** `""` is the database itself, `/firewall_rules...` its rules. */
function resourceOf(suffix) {
    return suffix.startsWith("/firewall_rules") ? "firewall_rules" : "database";
}
/** The request body in the form's shape: the regional API wants the rule wrapped. */
function bodyFor(form, resource, body) {
    return form === "regional" && resource === "firewall_rules" && body !== undefined ? { firewall_rule: body } : body;
}
function dbApiUrl(form, urls, addonId, suffix) {
    const base = form === "regional" ? urls.api : urls.database_api;
    return base === undefined ? undefined : `${base}/api/databases/${encodeURIComponent(addonId)}${suffix}`;
}

;// CONCATENATED MODULE: ./src/scalingo/http.ts



const realClock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
const DEFAULT_RETRY = { attempts: 6, baseDelayMs: 500, maxDelayMs: 10_000, deadlineMs: 90_000, requestTimeoutMs: 30_000 };
/** Full jitter (AWS architecture blog): spreads retries of many runners hitting the same API. */
function backoffMs(attempt, policy, random = Math.random) {
    return Math.round(random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt));
}
/** `Retry-After` is either seconds or an HTTP date. */
function retryAfterMs(header, nowMs) {
    if (!header)
        return undefined;
    if (/^\d+$/.test(header.trim()))
        return Number(header) * 1000;
    const at = Date.parse(header);
    return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
/** The API's own words from an error body, whichever of its shapes it is (or plain text). */
function apiMessage(text) {
    try {
        const json = JSON.parse(text);
        if (typeof json?.error === "string")
            return json.code ? `${json.error} (${json.code})` : json.error;
        if (json?.errors && typeof json.errors === "object") {
            return Object.entries(json.errors)
                .map(([field, messages]) => `${field} ${Array.isArray(messages) ? messages.join(", ") : String(messages)}`)
                .join("; ");
        }
    }
    catch {
        // not JSON: a proxy page or a plain-text 429 ("Retry later")
    }
    return text.trim().slice(0, 200);
}
function describe(req) {
    return `${req.method} ${new URL(req.url).pathname}`;
}
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
/** No answer, a 5xx the API may not give next time, or a rate limit: worth another try once it is safe. */
function isTransient(error) {
    return error.status === undefined || RETRYABLE_STATUS.has(error.status);
}
/** One attempt: the parsed answer, or the failure with whether another attempt may help. */
async function attemptOnce(req, policy, clock) {
    let res;
    let text;
    try {
        res = await proxiedFetch(req.url, {
            method: req.method,
            headers: { Accept: "application/json", "Content-Type": "application/json", "User-Agent": constants/* USER_AGENT */._O, Authorization: req.authorization },
            body: req.body === undefined ? undefined : JSON.stringify(req.body),
            signal: AbortSignal.timeout(policy.requestTimeoutMs),
        });
        text = await res.text();
    }
    catch (error) {
        // No (complete) answer arrived: reset, refused, DNS, timeout. The request may have been applied.
        const cause = error.cause?.code ?? error.name;
        return { failure: new errors/* ScalingoApiError */.Tn(`${describe(req)} got no answer (${cause})`, undefined, req.retryLostAnswer !== false) };
    }
    const requestId = res.headers.get("x-request-id") ?? undefined;
    const where = requestId ? ` (request id ${requestId})` : "";
    if (!req.expect.includes(res.status)) {
        const retryable = RETRYABLE_STATUS.has(res.status) && (res.status === 429 || req.retryLostAnswer !== false);
        const failure = new errors/* ScalingoApiError */.Tn(`${describe(req)} answered ${res.status}: ${apiMessage(text) || res.statusText}${where}`, res.status, retryable);
        return { failure, retryAfterMs: retryAfterMs(res.headers.get("retry-after"), clock.now()) };
    }
    try {
        return { status: res.status, body: (text ? JSON.parse(text) : undefined), requestId, call: describe(req) };
    }
    catch {
        // A proxy's HTML page with a success status: not the API talking, and not worth a retry.
        return { failure: new errors/* ScalingoApiError */.Tn(`${describe(req)} answered ${res.status} with a body that is not JSON${where}`, res.status) };
    }
}
/**
 * Scalingo allows about 60 requests a minute and its documented 429 is plain text "Retry later",
 * without Retry-After: the refused request can only succeed once the window it was counted in has
 * passed. So after such a 429 the call keeps trying for at least this long.
 */
const RATE_LIMIT_WINDOW_MS = 60_000;
/**
 * How long a call may keep trying: the policy's deadline, extended after a 429 without
 * Retry-After until one attempt can land after a whole rate-limit window.
 */
function callDeadline(startedMs, policy, rateLimitedSinceMs) {
    const deadline = startedMs + policy.deadlineMs;
    if (rateLimitedSinceMs === undefined)
        return deadline;
    return Math.max(deadline, rateLimitedSinceMs + RATE_LIMIT_WINDOW_MS + policy.maxDelayMs);
}
/**
 * A JSON call with a timeout per attempt and capped, jittered retries within a deadline. A 429
 * does not use up attempts (the request was not processed); it waits as Retry-After says, or,
 * without it, keeps backing off across the whole window (see callDeadline).
 */
async function requestJson(req, clock = realClock, policy = DEFAULT_RETRY, debug = () => undefined) {
    const started = clock.now();
    let rateLimitedSince;
    let failures = 0;
    for (let attempt = 0;; attempt++) {
        const sent = clock.now();
        const result = await attemptOnce(req, policy, clock);
        if (!("failure" in result)) {
            debug(`${describe(req)}: ${result.status}${result.requestId ? `, request id ${result.requestId}` : ""}, ${clock.now() - sent} ms`);
            return result;
        }
        const limited = result.failure.status === 429;
        if (limited && result.retryAfterMs === undefined)
            rateLimitedSince ??= clock.now();
        if (!limited)
            failures++;
        const waitMs = Math.max(backoffMs(attempt, policy), result.retryAfterMs ?? 0);
        const outOfTime = clock.now() + waitMs > callDeadline(started, policy, rateLimitedSince);
        if (!result.failure.retryable || failures >= policy.attempts || outOfTime)
            throw result.failure;
        debug(`${result.failure.message}; retrying in ${waitMs} ms`);
        await clock.sleep(waitMs);
    }
}

;// CONCATENATED MODULE: ./src/scalingo/tokens.ts
// Lifetimes of the bearer tokens the client holds: the JWT from the token exchange and the
// database-API (addon) token.
/** The Go client exchanges again when less than this is left on the JWT; the addon token gets the same margin. */
const REFRESH_MARGIN_MS = 5 * 60_000;
/** Scalingo documents about an hour for an addon token; used when the token carries no `exp`. */
const ADDON_TOKEN_LIFETIME_MS = 60 * 60_000;
/** JWT `exp` in milliseconds; the token is only decoded, never verified (the API does that). */
function jwtExpiryMs(jwt) {
    try {
        const payload = JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
        return typeof payload.exp === "number" ? payload.exp * 1000 : undefined;
    }
    catch {
        return undefined;
    }
}
/** Whether a token has more than the margin left. */
function isFresh(token, nowMs) {
    return token !== undefined && (token.expiresAtMs === undefined || token.expiresAtMs - nowMs > REFRESH_MARGIN_MS);
}

;// CONCATENATED MODULE: ./src/scalingo/client.ts







/**
 * Scalingo's three services as the official CLI uses them for a Dedicated Resources database:
 * auth (token exchange, regions), the regional API (the database is an app with one addon) and
 * the database API (details, firewall rules), each with its own bearer.
 */
class ScalingoClient {
    o;
    jwt;
    urls;
    addon;
    clock;
    forms;
    constructor(o) {
        this.o = o;
        this.clock = o.clock ?? realClock;
        this.forms = { ...o.forms };
    }
    /** The form the database API answered in for this resource, once a call settled it. */
    formOf(resource) {
        return this.forms[resource];
    }
    /** Exchange, region and addon: everything the other calls need. */
    async connect() {
        await this.bearer();
        this.urls = await this.findRegion();
        this.addon = { id: await this.findAddonId() };
    }
    async database() {
        return databaseOf(await this.dbApi("GET", ""));
    }
    async connectionUri() {
        const res = await this.call({
            method: "GET",
            url: `${this.region().api}/v1/apps/${this.o.database}/variables?aliases=false`,
            authorization: await this.bearer(),
            expect: [200],
        });
        const uri = variableOf(res, "SCALINGO_POSTGRESQL_URL");
        if (!uri)
            throw new errors/* ScalingoApiError */.Tn(`The database "${this.o.database}" has no SCALINGO_POSTGRESQL_URL variable: is it a PostgreSQL database?`);
        this.o.onSecret(uri);
        return uri;
    }
    /** The region's database CA (`ssl-root-cert: scalingo`), from the host the regions list names. */
    async caCertificate() {
        return fetchScalingoCa(this.region());
    }
    async listRules() {
        return rulesOf(await this.dbApi("GET", "/firewall_rules"));
    }
    /** Not retried on a lost answer here: the firewall module lists the rules before adding again. */
    async addRule(cidr, label) {
        const body = { type: "custom_range", cidr, label };
        return createdRuleOf(await this.dbApi("POST", "/firewall_rules", body, [200, 201], false));
    }
    /** Resolves false when the rule was already gone (404): the goal, no rule, is reached. */
    async removeRule(ruleId) {
        const res = await this.dbApi("DELETE", `/firewall_rules/${encodeURIComponent(ruleId)}`, undefined, [200, 204, 404]);
        return res.status !== 404;
    }
    region() {
        if (!this.urls)
            throw new Error("ScalingoClient.connect() must run first");
        return this.urls;
    }
    async call(req) {
        return requestJson(req, this.clock, this.o.retry ?? DEFAULT_RETRY, this.o.debug);
    }
    /** A bearer JWT with at least five minutes left, exchanging the API token again when needed. */
    async bearer() {
        if (isFresh(this.jwt, this.clock.now()))
            return `Bearer ${this.jwt.value}`;
        try {
            const token = tokenOf(await this.call({
                method: "POST",
                url: `${this.o.authUrl}/v1/tokens/exchange`,
                authorization: `Basic ${Buffer.from(`:${this.o.apiToken}`).toString("base64")}`,
                expect: [200],
            }));
            this.o.onSecret(token);
            this.jwt = { value: token, expiresAtMs: jwtExpiryMs(token) };
            return `Bearer ${token}`;
        }
        catch (error) {
            if (error instanceof errors/* ScalingoApiError */.Tn && error.status === 401) {
                throw new errors/* ScalingoApiError */.Tn(`Scalingo refused the API token (${error.message}). Check the secret passed as \`api-token\`: it must be a valid, unexpired token of a user with access to the database.`, 401);
            }
            throw error;
        }
    }
    async findRegion() {
        const regions = regionsOf(await this.call({ method: "GET", url: `${this.o.authUrl}/v1/regions`, authorization: await this.bearer(), expect: [200] }));
        const region = regions.find((r) => r.name === this.o.region);
        if (!region) {
            throw new errors/* ScalingoApiError */.Tn(`Region "${this.o.region}" not found. Set \`region\` to one of: ${regions.map((r) => r.name).join(", ") || "(none listed)"}.`);
        }
        // The bearer tokens go to these URLs: the same rule as for `auth-url`, whatever the list says.
        for (const url of [region.api, region.database_api].filter((u) => u !== undefined)) {
            const problem = insecureUrlProblem(url);
            if (problem)
                throw new errors/* ScalingoApiError */.Tn(`Region ${region.name} in the regions list of \`auth-url\` has an unsafe URL: ${problem} Check \`auth-url\`.`);
        }
        return { name: region.name, api: region.api.replace(/\/+$/, ""), database_api: region.database_api?.replace(/\/+$/, "") };
    }
    /** A Dedicated Resources database is an app holding exactly one addon: the database itself. */
    async findAddonId() {
        const path = `/v1/apps/${this.o.database}/addons`;
        let addons;
        try {
            addons = addonIdsOf(await this.call({ method: "GET", url: `${this.region().api}${path}`, authorization: await this.bearer(), expect: [200] }));
        }
        catch (error) {
            if (error instanceof errors/* ScalingoApiError */.Tn && (error.status === 404 || error.status === 403)) {
                throw new errors/* ScalingoApiError */.Tn(`Database "${this.o.database}" not found in region ${this.o.region} (${error.message}). Check \`database\` (the database's name in the dashboard, as listed by \`SCALINGO_PREVIEW_FEATURES=true scalingo databases\`), \`region\`, and that the token's user can access it.`, error.status);
            }
            throw error;
        }
        if (addons.length === 0)
            throw new errors/* ScalingoApiError */.Tn(`No addon found for database "${this.o.database}": check \`database\` is a Dedicated Resources database ID.`);
        if (addons.length > 1)
            throw new errors/* ScalingoApiError */.Tn(`Multiple addons found for "${this.o.database}": it may be an application, not a Dedicated Resources database. Check \`database\`.`);
        return addons[0];
    }
    /**
     * A database-API (addon) token with at least five minutes left. It lives about an hour and a
     * dump can last longer; what an expired one gets (401, 403, 400) is not documented, so it is
     * renewed from its expiry before the call, never only after a refusal.
     */
    async addonToken() {
        const addon = this.addon;
        if (!addon)
            throw new Error("ScalingoClient.connect() must run first");
        if (!isFresh(addon.token, this.clock.now())) {
            const obtainedAt = this.clock.now();
            const token = addonTokenOf(await this.call({
                method: "POST",
                url: `${this.region().api}/v1/apps/${this.o.database}/addons/${addon.id}/token`,
                authorization: await this.bearer(),
                expect: [200],
            }));
            this.o.onSecret(token);
            addon.token = { value: token, expiresAtMs: jwtExpiryMs(token) ?? obtainedAt + ADDON_TOKEN_LIFETIME_MS };
        }
        return `Bearer ${addon.token?.value}`;
    }
    /**
     * A database-API call in whichever form this resource answers: the one already settled (or
     * saved by main), else the region's order (database_api first when the regions list names it).
     * A form that refuses the call (401 once its credential was renewed, 403, or a route it does not
     * serve: 404, 405, 410) gives way to the other: such an answer means the request was not
     * applied, so even a write may go to the other form. A 5xx or a lost answer never moves a call:
     * the request may have been applied there. A DELETE's 404 is an answer, checked by the caller.
     * The first write of a resource settles its form with a read, so a POST is never sent to a form
     * nobody has seen work.
     */
    async dbApi(method, suffix, body, expect = [200], retryLostAnswer = true) {
        const resource = resourceOf(suffix);
        if (method !== "GET" && !this.forms[resource])
            await this.dbApi("GET", resource === "firewall_rules" ? "/firewall_rules" : "");
        const forms = formsInOrder(this.region(), this.forms[resource]);
        const refusals = [];
        for (const form of forms) {
            try {
                const res = await this.dbApiAs(form, method, suffix, body, expect, retryLostAnswer);
                if (refusals.length)
                    this.o.debug?.(`The ${form} form of the database API answered after: ${refusals.map((e) => e.message).join("; ")}`);
                this.forms[resource] = form;
                return res;
            }
            catch (error) {
                if (!(error instanceof errors/* ScalingoApiError */.Tn) || !refusedByForm(error.status))
                    throw error;
                refusals.push(error);
            }
        }
        throw refusedByEveryForm(refusals);
    }
    /**
     * One call in one form: the regional API with the user's bearer, or the database API with an
     * addon token. A 401 gets a fresh credential and one more try.
     */
    async dbApiAs(form, method, suffix, body, expect, retryLostAnswer) {
        const url = dbApiUrl(form, this.region(), this.addon?.id ?? "", suffix);
        const payload = bodyFor(form, resourceOf(suffix), body);
        for (let retried = false;; retried = true) {
            const authorization = form === "regional" ? await this.bearer() : await this.addonToken();
            try {
                return await this.call({ method, url, body: payload, expect, retryLostAnswer, authorization });
            }
            catch (error) {
                if (retried || !(error instanceof errors/* ScalingoApiError */.Tn) || error.status !== 401)
                    throw error;
                if (form === "regional")
                    this.jwt = undefined;
                else if (this.addon)
                    this.addon.token = undefined;
            }
        }
    }
}

;// CONCATENATED MODULE: ./src/scalingo/firewall.ts




/**
 * Rules this repository's earlier runs created and left behind, older than `maxAgeMs`, in the
 * action's current label format or the one before it. Users' rules, custom labels and other
 * repositories' rules never match: another repository's jobs may still be running, and only
 * GitHub's job time limit tells a dead job from a live one.
 */
function staleRules(rules, o) {
    if (o.maxAgeMs <= 0)
        return [];
    return rules.filter((rule) => {
        const own = rule.type === "custom_range" && rule.label ? parseOwnLabel(rule.label) : undefined;
        if (!own?.isRepository(o.repository) || own.createdAtMs === undefined || (o.ownToken && own.token === o.ownToken))
            return false;
        return o.nowMs - own.createdAtMs > o.maxAgeMs;
    });
}
/** This job's rule: its label (or token) AND its address, since a label alone may be shared. */
function findOwnRule(rules, own, cidr) {
    return rules.find((r) => r.type === "custom_range" && r.cidr === cidr && isOwnLabel(r.label, own));
}
/** Removes this repository's stale rules; resolves how many it removed. */
async function removeStaleRules(client, rules, o) {
    let removed = 0;
    for (const rule of staleRules(rules, o)) {
        try {
            await client.removeRule(rule.id);
            removed++;
            o.log.info(`Removed stale rule ${rule.cidr} ("${rule.label}") left by a run that did not clean up.`);
        }
        catch (error) {
            o.log.warning(`Could not remove stale rule ${rule.cidr} ("${rule.label}"): ${(0,errors/* errorMessage */.gJ)(error)}`);
        }
    }
    return removed;
}
/** A rule for this address already there: used, never removed; another live run of this repository's is said so. */
function reuseExisting(existing, cidr, repository, log) {
    if (existing.label && parseOwnLabel(existing.label)?.isRepository(repository)) {
        log.warning(`${cidr} is already allowlisted by another run of this repository ("${existing.label}"), still going: this run uses that rule and never removes it, but that run removes it when it ends, maybe during this dump. Give the jobs that back up one database a concurrency group (see the README).`);
    }
    else {
        log.info(`A rule for ${cidr} already exists ("${existing.label ?? existing.id}"): using it, and leaving it in place.`);
    }
    return { id: existing.id, cidr, label: existing.label, created: false };
}
/** Scalingo's 422 to the POST, in words the user can act on: the label, or the number of rules. */
function refusal(error, cidr, label, custom) {
    if (/\blabel\b/i.test(error.message)) {
        const fix = custom
            ? "Change `rule-label`, or leave it empty for the default label, which follows that rule."
            : "Set `rule-label` to a label Scalingo accepts.";
        return new errors/* ActionError */.lZ("firewall", `Scalingo refused the rule label "${label}": ${error.message}. Scalingo does not document its label rule; the action assumes ${LABEL_RULE}. ${fix}`);
    }
    return new errors/* ActionError */.lZ("firewall", `Scalingo refused the firewall rule for ${cidr}: ${error.message} (label "${label}"). A database holds at most 30 rules: remove unused ones (\`scalingo --database <id> database-firewall-rules\`) and run again.`);
}
/**
 * Allowlists `<ip>/32`: reuses a rule that already exists for it (and never removes it), else adds
 * one and saves its id at once. `rules` must be the list as it is now (after any sweep): a rule
 * just removed must not be "reused". The label, its token and the address are saved before the
 * POST. A POST that failed may still have created the rule, so before trying again the rules are
 * listed and a rule with this job's token (or label) and address is adopted; only when none is
 * there is the POST retried, like any other call, on a 5xx or a lost answer.
 */
async function openRule(client, o) {
    const cidr = `${o.ip}/32`;
    const clock = o.clock ?? realClock;
    const label = o.own.label;
    const reuse = (rules) => rules.find((r) => r.type === "custom_range" && r.cidr === cidr);
    const existing = reuse(o.rules);
    if (existing)
        return reuseExisting(existing, cidr, o.repository, o.log);
    o.state.save(constants/* State */.Uw.ruleLabel, label);
    o.state.save(constants/* State */.Uw.ruleToken, o.own.token ?? "");
    o.state.save(constants/* State */.Uw.ruleCidr, cidr);
    for (let attempt = 0;; attempt++) {
        try {
            const rule = await client.addRule(cidr, label);
            o.state.save(constants/* State */.Uw.ruleId, rule.id);
            return { id: rule.id, cidr, label, created: true };
        }
        catch (error) {
            if (!(error instanceof errors/* ScalingoApiError */.Tn))
                throw error;
            const rules = await client.listRules();
            const adopted = findOwnRule(rules, o.own, cidr);
            if (adopted) {
                o.state.save(constants/* State */.Uw.ruleId, adopted.id);
                o.log.info(`The rule was created although its answer was lost (${error.message}): adopting it ("${adopted.label}").`);
                return { id: adopted.id, cidr, label: adopted.label, created: true };
            }
            if (error.status === 422) {
                const other = reuse(rules);
                if (other)
                    return reuseExisting(other, cidr, o.repository, o.log);
                throw refusal(error, cidr, label, o.custom);
            }
            // The list shows no rule was created: the POST is as safe to send again as any other call.
            if (!isTransient(error) || attempt + 1 >= DEFAULT_RETRY.attempts)
                throw error;
            o.log.info(`Adding the firewall rule failed (${error.message}) and no rule was created: trying again.`);
            await clock.sleep(backoffMs(attempt, DEFAULT_RETRY));
        }
    }
}
/**
 * The firewall step of main: list, sweep this repository's stale rules, list again if the sweep
 * removed any (a removed rule for this very IP must not be "reused"), then open this job's rule
 * under the user's label, or the default one with a fresh random token.
 */
async function sweepAndOpen(client, config, o) {
    let rules = await client.listRules();
    // The list settled which form of the database API serves the rules: post must call the same.
    o.state.save(constants/* State */.Uw.firewallApi, client.formOf("firewall_rules") ?? "");
    const sweep = { nowMs: o.now.getTime(), maxAgeMs: config.staleRuleAgeMs, repository: config.repository, log: o.log };
    if ((await removeStaleRules(client, rules, sweep)) > 0)
        rules = await client.listRules();
    const token = o.token ?? newLabelToken();
    const own = config.ruleLabel
        ? { label: config.ruleLabel }
        : { label: defaultRuleLabel({ token, repository: config.repository, at: o.now, ...config.run }), token };
    return openRule(client, { ip: o.ip, own, custom: Boolean(config.ruleLabel), repository: config.repository, rules, state: o.state, log: o.log });
}

;// CONCATENATED MODULE: ./src/scalingo/rule-removal.ts



/**
 * DELETE, and what it achieved. Whether a deleted rule answers 404 is not documented, and a 404
 * may also come from a host or route that does not serve the rule: after a 404 the rules are
 * listed, and the rule is "gone" only when the list does not hold it.
 */
async function removeChecked(client, id) {
    if (await client.removeRule(id))
        return "removed";
    return (await client.listRules()).some((r) => r.id === id) ? "still-open" : "gone";
}
function stillOpen(cidr, id) {
    return `Scalingo answered 404 to the removal of rule ${id}${cidr ? ` (${cidr})` : ""}, yet still lists it: the rule is still open`;
}
/** Removes a rule this job created; a rule already gone counts as removed. Safe to call twice. */
async function closeRule(client, rule, state, log) {
    if (!rule.created || state.get(State.ruleRemoved) === "true")
        return;
    const outcome = await removeChecked(client, rule.id);
    // Not marked removed: the post step tries again.
    if (outcome === "still-open")
        throw new ActionError("firewall", stillOpen(rule.cidr, rule.id));
    state.save(State.ruleRemoved, "true");
    log.info(outcome === "removed" ? `Removed the temporary firewall rule for ${rule.cidr}.` : `The temporary rule for ${rule.cidr} was already gone.`);
}
/** Whether main saved a rule (or the intent to add one) that it did not remove itself. */
function rule_removal_hasLeftoverRule(state) {
    return state.get(constants/* State */.Uw.ruleRemoved) !== "true" && Boolean(state.get(constants/* State */.Uw.ruleId) || state.get(constants/* State */.Uw.ruleLabel));
}
/** What happens to a rule main could not remove, read from what main saved: only what is true. */
function whoRemovesLeftover(state) {
    return rule_removal_hasLeftoverRule(state)
        ? "the post step will try again at the end of the job."
        : "remove it by hand (Scalingo dashboard, or `scalingo --database <id> database-firewall-rules`): it allowlists this runner's IP.";
}
/**
 * Post step: the rule main created and did not remove, from the saved id, or, when main died
 * before the API answered, by this job's token (or label) and address. Nothing else is ever
 * touched. Main saves the label, token and address before its POST and the id right after the
 * answer, so a main that died in between left them to search by; a main that saved neither never
 * asked for a rule.
 */
async function rule_removal_removeLeftoverRule(client, state, log, leftBy = "main") {
    if (!rule_removal_hasLeftoverRule(state))
        return "none";
    let id = state.get(constants/* State */.Uw.ruleId);
    if (!id) {
        const own = { label: state.get(constants/* State */.Uw.ruleLabel), token: state.get(constants/* State */.Uw.ruleToken) || undefined };
        const mine = findOwnRule(await client.listRules(), own, state.get(constants/* State */.Uw.ruleCidr));
        if (!mine)
            return "none";
        id = mine.id;
    }
    const outcome = await removeChecked(client, id);
    if (outcome === "still-open")
        throw new errors/* ActionError */.lZ("firewall", stillOpen(state.get(constants/* State */.Uw.ruleCidr), id));
    state.save(constants/* State */.Uw.ruleRemoved, "true");
    const what = leftBy === "main" ? "the temporary firewall rule main left behind" : `the temporary firewall rule for ${state.get(constants/* State */.Uw.ruleCidr)}`;
    log.info(outcome === "removed" ? `Removed ${what}.` : `${what[0]?.toUpperCase()}${what.slice(1)} was already gone.`);
    return outcome;
}

;// CONCATENATED MODULE: ./src/scalingo/firewall-session.ts



/**
 * Opens the rule; its removal is on the teardown from before the request (a lost answer may still
 * have created it). A run whose teardown started meanwhile (a cancelled job) opens nothing more,
 * and a rule whose answer came after the teardown looked for it is removed at once.
 */
async function openFirewall(o) {
    o.teardown.ending.throwIfAborted();
    const removal = o.teardown.defer("rule", "remove the firewall rule", () => removeSavedRule(o));
    const rule = await sweepAndOpen(o.client, o.rules, { ip: o.ip, now: o.now ?? new Date(), state: o.state, log: o.log });
    if (!rule.created)
        removal.release();
    if (o.teardown.ending.aborted) {
        if (rule.created)
            await removeSavedRule(o);
        throw o.teardown.ending.reason;
    }
    if (rule.created)
        o.log.info(`Added firewall rule ${rule.cidr} ("${rule.label}"). Scalingo applies it in about two minutes.`);
    const openedAt = new Date();
    if (o.record)
        Object.assign(o.record, { ruleId: rule.id, ruleCreated: rule.created, ruleAddedAt: openedAt });
    return { rule, openedAt, close: () => removal.now() };
}
/**
 * The whole session: open → `waitUntilReady` (given a signal that the teardown aborts) → `work` →
 * close, the rule closed as soon as the work ends, however it ends.
 */
async function withFirewall(o, work) {
    const session = await openFirewall(o);
    try {
        const ready = await o.waitUntilReady(o.teardown.ending);
        return await work(ready, session.rule);
    }
    finally {
        await session.close();
    }
}
/** Main's removal, from the saved label, address and id: what post would do, a warning if it fails. */
async function removeSavedRule(o) {
    try {
        if ((await rule_removal_removeLeftoverRule(o.client, o.state, o.log, "this run")) !== "none" && o.record)
            o.record.ruleRemovedAt ??= new Date();
    }
    catch (error) {
        o.log.warning(`Could not remove the firewall rule now (${(0,errors/* errorMessage */.gJ)(error)}); ${whoRemovesLeftover(o.state)}`);
    }
}
/**
 * The post step's part: the rule a main step created and did not remove (it failed, was cancelled,
 * or was killed). `connect` builds the client only when there is something to remove. Throws when
 * it cannot: post is the last chance, and the error must say to remove the rule by hand.
 */
async function removeLeftoverFirewallRule(o) {
    if (!hasLeftoverRule(o.state)) {
        o.log.info("No temporary firewall rule left to remove.");
        return false;
    }
    return (await removeLeftoverRule(await o.connect(), o.state, o.log, "main")) !== "none";
}

;// CONCATENATED MODULE: ./src/backup/discover.ts









// Both actions' steps before their work: what the run learns before it opens anything (the
// database's version, status and connection, masked at once; the runner's public address), then
// the firewall rule.
/** Both actions' first contact, in one log section: the database through the Scalingo API and the runner's address, at once, on the step's report. */
async function discoverTarget(config, report, deps, session) {
    const client = (deps.newClient ?? ((o) => new ScalingoClient(o)))({ ...config, onSecret: deps.setSecret, debug: deps.log.debug });
    // The API calls and the IP lookup are independent: do them at once (in one log section). Both
    // settle before either failure is thrown: a lookup that fails at once must not let the caller's
    // teardown run while the Scalingo read is still writing its TLS folder (it would stay behind).
    deps.log.section?.("Scalingo API and the runner's address");
    const [{ connection, serverVersion }, ip] = await phasesAtOnce(report, phase(report, "scalingo", () => readDatabase(client, config, deps, session)), phase(report, "ip-lookup", () => detectIp(config, deps.log)));
    Object.assign(report, { serverVersion, runnerIp: ip });
    return { client, connection, serverVersion, ip };
}
/** Both actions' firewall phase: this job's rule through the firewall session, recorded on the step's report. */
function openFirewallStep(config, report, deps, o) {
    deps.log.section?.("Firewall rule");
    return phase(report, "firewall", () => openFirewall({ ...o, rules: config, state: deps.state, log: deps.log, record: report }));
}
async function readDatabase(client, config, deps, session) {
    await client.connect();
    const [db, uri, ca] = await Promise.all([client.database(), client.connectionUri(), config.sslRootCert === "scalingo" ? client.caCertificate() : undefined]);
    if (db.status === "stopped")
        throw new errors/* ActionError */.lZ("scalingo", `Database ${config.database} is stopped: start it in the Scalingo dashboard before backing it up.`);
    if (db.status !== "running")
        deps.log.warning(`Database ${config.database} is ${db.status}; trying anyway.`);
    const parsed = parseConnectionUri(uri);
    deps.setSecret(parsed.password);
    deps.setSecret(encodeURIComponent(parsed.password));
    // Known only now that the URI is: still before the firewall opens.
    // `ssl-root-cert: scalingo` is the region's CA, and with it the host name is verified too.
    const tlsInput = ca ? { sslMode: "verify-full", sslRootCert: ca.pem } : config;
    const env = deps.env ?? process.env;
    const tls = await applyTls(parsed, decideTls(parsed, tlsInput, env), env.RUNNER_TEMP, (dir) => {
        session.teardown.defer("plaintext", "remove the TLS folder", () => (0,files/* removeQuietly */.S2)(dir));
    });
    const connection = ca ? { ...tls, caSource: `Scalingo's database CA for region ${config.region} (${ca.url})` } : tls;
    return { connection, serverVersion: serverVersionOf(db.readable_version) };
}
async function detectIp(config, log) {
    if (config.runnerIp)
        return config.runnerIp;
    const found = await lookupPublicIp({ urls: config.ipLookupUrls, requirePublic: !config.ipLookupUrlsCustom, policy: config.ipLookupPolicy });
    if (found.warning)
        log.warning(found.warning);
    log.debug?.(`Runner IP ${found.ip} from ${found.sources.join(", ")}.`);
    return found.ip;
}
/**
 * One calm line on how the connection is protected, printed once the pg_dump major is known. The
 * default (Scalingo's URI says `require`: encrypted, server not verified) is no fault of the user's
 * run: it says so once and points to where verification is explained, rather than warning nightly.
 */
function tlsLine(c, pgDumpMajor) {
    if (c.sslrootcert) {
        const what = c.sslmode === "verify-full" ? "the server's certificate and host name are verified" : "the server's certificate chain is verified (not its host name)";
        return `TLS to the database: sslmode ${c.sslmode}, ${what}${c.caSource ? ` with ${c.caSource}` : ""}.`;
    }
    const encrypted = ["require", "verify-ca", "verify-full"].includes(c.sslmode ?? "") ? "encrypted" : "encrypted if the server offers it";
    // pg_dump before 16 cannot refuse a cleartext password itself (require_auth): the action's own
    // connection, made first to the same server, refuses it for both.
    const oldClient = c.requireAuth && pgDumpMajor < 16 ? ` (for pg_dump ${pgDumpMajor}, the action's own connection checks the password method)` : "";
    return `TLS to the database: sslmode ${c.sslmode ?? "prefer"}, ${encrypted}, the server's certificate not checked${oldClient}, as Scalingo's connection string sets it. To check it, see "TLS to the database" in the README.`;
}

// EXTERNAL MODULE: ./src/runner/commands.ts
var commands = __webpack_require__(46342);
;// CONCATENATED MODULE: ./src/postgres/pgdg-mirror.ts
// SCALINGO_PG_DUMP_PGDG_MIRROR: a mirror of apt.postgresql.org (a company proxy, an offline copy).
// It serves packages that run as root, so it is reached over https only, and its signing key is
// checked against PGDG's own whatever it serves (pgdg-key.ts). Credentials in its URL
// (`https://user:password@mirror/...`) never reach argv or a world-readable file: they are taken
// out of the URL here and handed to curl and apt in private files.
/** apt.postgresql.org; a mirror of it (same packages, same signatures) replaces it through PGDG_MIRROR_ENV. */
const PGDG_REPOSITORY = "https://apt.postgresql.org/pub/repos/apt";
const pgdg_mirror_PGDG_MIRROR_ENV = "SCALINGO_PG_DUMP_PGDG_MIRROR";
/** Why the variable's value cannot be used, or undefined; never echoes the URL (it may hold a password). */
function pgdg_mirror_mirrorProblem(value) {
    if (!value)
        return undefined;
    let url;
    try {
        url = new URL(value);
    }
    catch {
        return "is not a URL (its value is not shown: it may hold a password).";
    }
    if (url.protocol !== "https:")
        return `must use https:// (it is ${url.protocol}//...): the packages it serves are installed as root, and a password in it would travel in clear.`;
    if (/\s/.test(decodeURIComponent(url.username + url.password)))
        return "has white space in its user name or password, which apt's auth.conf cannot hold.";
    return undefined;
}
/** The mirror from the environment (or PGDG itself); an unusable value throws, as the inputs' check would have. */
function pgdgMirror(env) {
    const value = env[pgdg_mirror_PGDG_MIRROR_ENV];
    if (!value)
        return { url: PGDG_REPOSITORY };
    const problem = pgdg_mirror_mirrorProblem(value);
    if (problem)
        throw new Error(`${pgdg_mirror_PGDG_MIRROR_ENV} ${problem}`);
    const url = new URL(value);
    const username = decodeURIComponent(url.username) || undefined;
    const password = decodeURIComponent(url.password) || undefined;
    url.username = "";
    url.password = "";
    return { url: url.toString().replace(/\/+$/, ""), ...(username ? { username } : {}), ...(password ? { password } : {}) };
}
/** apt_auth.conf(5): `machine host[:port]/path login … password …`, for the mirror only. */
function aptAuthConf(mirror) {
    if (!mirror.username && !mirror.password)
        return undefined;
    const url = new URL(mirror.url);
    return `machine ${url.host}${url.pathname.replace(/\/+$/, "")} login ${mirror.username ?? ""} password ${mirror.password ?? ""}\n`;
}
/** curl's config file (`-K`): the credentials for the key's download, out of argv. */
function curlAuthConfig(mirror) {
    if (!mirror.username && !mirror.password)
        return undefined;
    const quoted = `${mirror.username ?? ""}:${mirror.password ?? ""}`.replace(/[\\"]/g, (c) => `\\${c}`);
    return `user = "${quoted}"\n`;
}

;// CONCATENATED MODULE: ./src/postgres/pgdg-key.ts




// PGDG's signing key, fetched from the repository (or its mirror) and trusted only if it is PGDG's
// own: whoever serves the packages must not also choose the key that vouches for them. The check
// runs with the runner user's rights, in the run's private folder, before root installs anything.
/** The repository's signing key, served at the repository's root (so a full mirror serves it too). */
const PGDG_KEY_FILE = "ACCC4CF8.asc";
/** The full fingerprint of PGDG's signing key ("PostgreSQL Debian Repository", ACCC4CF8). */
const PGDG_KEY_FINGERPRINT = "B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8";
/** Downloads the key, checks it is exactly the pinned one, and returns the path of that key alone (armored). */
async function fetchCheckedKey(o) {
    const pinned = o.pinnedFingerprint ?? PGDG_KEY_FINGERPRINT;
    const downloaded = external_node_path_.join(o.dir, "downloaded.asc");
    const auth = curlAuthConfig(o.mirror);
    const authFile = external_node_path_.join(o.dir, "curl.conf");
    if (auth)
        await (0,external_node_fs_promises_.writeFile)(authFile, auth, { mode: 0o600 });
    const url = `${o.mirror.url}/${PGDG_KEY_FILE}`;
    await step(o, ["curl", "-fsSL", "--retry", "3", "--max-time", "60", ...(auth ? ["-K", authFile] : []), "-o", downloaded, url]);
    const home = external_node_path_.join(o.dir, "gnupg");
    await (0,external_node_fs_promises_.mkdir)(home, { mode: 0o700 });
    const gpg = ["gpg", "--batch", "--no-tty", "--quiet", "--homedir", home];
    await step(o, [...gpg, "--import", downloaded]);
    const listed = await step(o, [...gpg, "--with-colons", "--fingerprint", "--list-keys"]);
    const primaries = primaryFingerprints(listed.stdout);
    if (primaries.length !== 1 || primaries[0] !== pinned) {
        throw new errors/* ActionError */.lZ("pg-dump-client", `The signing key served at ${url} is not PGDG's (expected only ${pinned}; found ${primaries.join(", ") || "no key"}). Nothing was installed. Check the mirror set in SCALINGO_PG_DUMP_PGDG_MIRROR: it must serve PGDG's own key and signatures.`);
    }
    const checked = external_node_path_.join(o.dir, "pgdg.asc");
    await step(o, [...gpg, "--armor", "--output", checked, "--export", pinned]);
    return checked;
}
/** The fingerprint of each primary key (`pub`) in gpg's machine-readable listing. */
function primaryFingerprints(colons) {
    const found = [];
    let inPrimary = false;
    for (const line of colons.split("\n")) {
        const [type, , , , , , , , , field] = line.split(":");
        if (type === "pub")
            inPrimary = true;
        else if (type === "fpr" && inPrimary) {
            found.push((field ?? "").toUpperCase());
            inPrimary = false;
        }
        else if (type === "sub")
            inPrimary = false;
    }
    return found;
}
async function step(o, argv) {
    const result = await o.run(argv[0], argv.slice(1), o.options);
    if (result.code !== 0) {
        throw new errors/* ActionError */.lZ("pg-dump-client", `${o.label} failed at \`${argv.join(" ")}\` (exit ${result.code}): ${result.stderr.trim().slice(-500)}`);
    }
    return result;
}

;// CONCATENATED MODULE: ./src/postgres/apt-install.ts





// Installs packages from the PostgreSQL apt repository (PGDG) without touching the host's apt
// configuration: the PGDG source and its key live in a private folder, apt reads the host's
// sources plus that folder through `-o Dir::...` options, and its package lists go to the private
// folder too. Nothing is written under /etc/apt, /usr/share/keyrings or /var/lib/apt/lists: the
// only lasting change is the installed packages (and dpkg's own records of them).

/** How long apt waits for another apt or dpkg (unattended-upgrades on a fresh VM) to release its lock. */
const DPKG_LOCK_WAIT_SECONDS = 120;
/** Bounds per step: a stalled download or lock must not keep the firewall open until the job's timeout. */
const TIMEOUTS = { key: 90, update: 300, install: 600, local: 60 };
/**
 * Installs `packages` (e.g. `postgresql-client-17`, `postgresql-17`) from PGDG. Reused for every
 * PostgreSQL package the action needs. Throws an ActionError("pg-dump-client") naming the failed step.
 */
async function installPackages(packages, o) {
    const label = `Installing ${packages.join(" ")}`;
    let mirror;
    try {
        mirror = pgdgMirror(o.env);
    }
    catch (error) {
        throw new errors/* ActionError */.lZ("pg-dump-client", `${label}: ${error.message}`);
    }
    const repository = mirror.url;
    const paths = await aptPaths(o);
    const hostFiles = await sourceFiles(paths);
    const reused = await findPgdgSource(hostFiles, repository, paths.sourceList);
    const privateDir = external_node_path_.join(paths.cacheDir, "scalingo-pg-dump");
    o.log(reused
        ? `${label} with the PostgreSQL apt source already configured in ${reused}...`
        : `${label} from ${repository} (source and key in ${privateDir}, the host's apt configuration untouched)...`);
    // The runner user's private folder (0700): the source, the key and any credentials are written
    // here first, then copied by root with explicit modes.
    const temp = await (0,external_node_fs_promises_.mkdtemp)(external_node_path_.join(o.tempDir, "pgdg-"));
    const options = (timeout) => ({ timeoutSeconds: TIMEOUTS[timeout], ...(o.signal ? { signal: o.signal } : {}) });
    try {
        const files = reused
            ? {}
            : await privateFiles(temp, privateDir, mirror, o, label, options("key"));
        const hostAuth = files.authFile ? await hostAuthFiles(paths) : [];
        const steps = installSteps({
            packages,
            privateDir,
            paths,
            hostFiles,
            reuse: Boolean(reused),
            ...files,
            hostAuthFiles: hostAuth,
            aptConfig: o.env.APT_CONFIG,
        });
        await runSteps(steps, packages, o);
    }
    finally {
        await (0,external_node_fs_promises_.rm)(temp, { recursive: true, force: true });
        // The private lists are big and a cache only: leave the host as it was, whatever happened.
        const cleanup = o.sudo ? ["sudo", "-n", "rm", "-rf", privateDir] : ["rm", "-rf", privateDir];
        await o.run(cleanup[0], cleanup.slice(1), { silent: true, timeoutSeconds: TIMEOUTS.local });
    }
}
/** The checked key, the deb822 source (no credentials in it) and, for a mirror with credentials, its auth.conf (0600). */
async function privateFiles(temp, privateDir, mirror, o, label, options) {
    const keyFile = await fetchCheckedKey({
        mirror,
        dir: temp,
        run: o.run,
        options,
        label,
        ...(o.pinnedFingerprint ? { pinnedFingerprint: o.pinnedFingerprint } : {}),
    });
    const sourceFile = external_node_path_.join(temp, "pgdg.sources");
    await (0,external_node_fs_promises_.writeFile)(sourceFile, pgdgSource(mirror.url, o.codename, external_node_path_.join(privateDir, "pgdg.asc")), { mode: 0o644 });
    const authText = aptAuthConf(mirror);
    const authFile = authText ? external_node_path_.join(temp, "pgdg-auth.conf") : undefined;
    if (authFile)
        await (0,external_node_fs_promises_.writeFile)(authFile, authText, { mode: 0o600 });
    return { keyFile, sourceFile, ...(authFile ? { authFile } : {}) };
}
async function runSteps(steps, packages, o) {
    let updateErrors = "";
    for (const step of steps) {
        if (o.signal?.aborted)
            throw new errors/* ActionError */.lZ("pg-dump-client", `Installing ${packages.join(" ")} was stopped: the run failed elsewhere.`);
        const [file, ...args] = o.sudo ? ["sudo", "-n", ...step.argv] : step.argv;
        const options = { timeoutSeconds: TIMEOUTS[step.timeout], ...(o.signal ? { signal: o.signal } : {}) };
        const result = await o.run(file, args, options);
        // A broken third-party source on the host fails `update` but not what PGDG needs: the install says.
        if (step.name === "update" && result.code !== 0 && result.code !== 124) {
            updateErrors = result.stderr.trim().slice(-300);
            continue;
        }
        if (result.code !== 0)
            throw installError(packages, step.argv, result, updateErrors);
    }
}
/** The commands, in order; pure, so the layout can be read (and tested) in one place. */
function installSteps(o) {
    const auth = o.authFile && o.paths.netrcParts ? external_node_path_.join(o.privateDir, "auth.conf.d") : undefined;
    const apt = aptArgv(o, auth);
    return [
        ...folderSteps(o),
        ...authSteps(o, auth),
        { name: "update", argv: [...apt, "update"], timeout: "update" },
        { name: "install", argv: [...apt, "install", "-y", "--no-install-recommends", ...o.packages], timeout: "install" },
    ];
}
/** The private folders, the host's sources copied in, then PGDG's key and source (unless the host's own PGDG source is reused). */
function folderSteps(o) {
    const p = o.privateDir;
    const parts = external_node_path_.join(p, "sources.list.d");
    const dirs = [p, parts, external_node_path_.join(p, "lists"), external_node_path_.join(p, "lists/partial"), external_node_path_.join(p, "archives"), external_node_path_.join(p, "archives/partial")];
    // Modes are explicit: apt's download and signature checks run as the `_apt` user, who must read
    // the key and the sources whatever the umask root inherited.
    const steps = [{ name: "prepare", argv: ["install", "-d", "-m", "0755", ...dirs], timeout: "local" }];
    if (o.hostFiles.length)
        steps.push({ name: "prepare", argv: ["install", "-m", "0644", ...o.hostFiles, `${parts}/`], timeout: "local" });
    if (!o.reuse && o.keyFile && o.sourceFile) {
        steps.push({ name: "key", argv: ["install", "-m", "0644", o.keyFile, external_node_path_.join(p, "pgdg.asc")], timeout: "local" }, { name: "source", argv: ["install", "-m", "0644", o.sourceFile, external_node_path_.join(parts, "pgdg.sources")], timeout: "local" });
    }
    return steps;
}
/**
 * The mirror's credentials: root's alone (0600), in a private auth.conf.d that also holds the
 * host's own files, which apt reads before it drops its privileges (apt_auth.conf(5)).
 */
function authSteps(o, auth) {
    if (!auth)
        return [];
    const hostFiles = o.hostAuthFiles?.length
        ? [{ name: "source", argv: ["install", "-m", "0600", ...o.hostAuthFiles, `${auth}/`], timeout: "local" }]
        : [];
    return [
        { name: "source", argv: ["install", "-d", "-m", "0700", auth], timeout: "local" },
        ...hostFiles,
        { name: "source", argv: ["install", "-m", "0600", o.authFile, external_node_path_.join(auth, "pgdg.conf")], timeout: "local" },
    ];
}
/** apt-get reading only the private folders (and the host's one-file list), in the host's configuration. */
function aptArgv(o, auth) {
    const p = o.privateDir;
    return [
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        // sudo drops the environment: apt under sudo must read the configuration these paths came from.
        ...(o.aptConfig ? [`APT_CONFIG=${o.aptConfig}`] : []),
        "apt-get",
        "-o",
        `Dir::Etc::sourcelist=${o.paths.sourceList}`,
        "-o",
        `Dir::Etc::sourceparts=${external_node_path_.join(p, "sources.list.d")}`,
        ...(auth ? ["-o", `Dir::Etc::netrcparts=${auth}`] : []),
        "-o",
        `Dir::State::Lists=${external_node_path_.join(p, "lists")}`,
        "-o",
        `Dir::Cache::archives=${external_node_path_.join(p, "archives")}/`,
        // No package cache files: the host's pkgcache.bin must not learn of the private sources.
        "-o",
        "Dir::Cache::pkgcache=",
        "-o",
        "Dir::Cache::srcpkgcache=",
        "-o",
        `DPkg::Lock::Timeout=${DPKG_LOCK_WAIT_SECONDS}`,
        "-o",
        "Acquire::Retries=3",
    ];
}
/** A deb822 source for `<codename>-pgdg`, for every architecture PGDG builds (amd64, arm64, ...). */
function pgdgSource(repository, codename, keyring) {
    return `Types: deb\nURIs: ${repository}\nSuites: ${codename}-pgdg\nComponents: main\nSigned-By: ${keyring}\n`;
}
async function aptPaths(o) {
    const env = o.env.APT_CONFIG ? { APT_CONFIG: o.env.APT_CONFIG } : {};
    const args = ["shell", "L", "Dir::Etc::sourcelist/f", "P", "Dir::Etc::sourceparts/d", "C", "Dir::Cache/d", "N", "Dir::Etc::netrcparts/d"];
    const result = await o.run("apt-config", args, { silent: true, env, timeoutSeconds: TIMEOUTS.local });
    const value = (name) => new RegExp(`^${name}='([^']*)'`, "m").exec(result.stdout)?.[1];
    const [sourceList, sourceParts, cacheDir] = [value("L"), value("P"), value("C")];
    if (result.code !== 0 || !sourceList || !sourceParts || !cacheDir) {
        throw new errors/* ActionError */.lZ("pg-dump-client", `apt-config could not tell apt's folders (exit ${result.code}): ${result.stderr.trim()}`);
    }
    return { sourceList, sourceParts, cacheDir, ...(value("N") ? { netrcParts: value("N") } : {}) };
}
/** The host's auth.conf.d files, so that its own credentials still apply beside the mirror's. */
async function hostAuthFiles(paths) {
    if (!paths.netrcParts)
        return [];
    const files = (await (0,external_node_fs_promises_.readdir)(paths.netrcParts).catch(() => [])).filter((f) => /^[\w.-]+\.conf$/.test(f)).sort();
    return files.map((f) => external_node_path_.join(paths.netrcParts, f));
}
/** The host's source files: the one-file list and the `.list`/`.sources` of the source folder. */
async function sourceFiles(paths) {
    const parts = (await (0,external_node_fs_promises_.readdir)(paths.sourceParts).catch(() => [])).filter((f) => /^[\w.-]+\.(list|sources)$/.test(f)).sort();
    return parts.map((f) => external_node_path_.join(paths.sourceParts, f));
}
/**
 * The first host source file with an enabled entry for PGDG (apt.postgresql.org, or the configured
 * mirror): adding a second one with another key would make apt refuse both ("Conflicting values
 * set for option Signed-By"), so the host's is used as it is.
 */
async function findPgdgSource(hostFiles, repository, sourceList) {
    for (const file of [...(sourceList ? [sourceList] : []), ...hostFiles]) {
        const text = await (0,external_node_fs_promises_.readFile)(file, "utf8").catch(() => "");
        if (sourceUris(text, file.endsWith(".sources")).some((uri) => isPgdg(uri, repository)))
            return file;
    }
    return undefined;
}
/** The repository URIs of the enabled entries of a one-line (`.list`) or deb822 (`.sources`) file. */
function sourceUris(text, deb822) {
    if (!deb822) {
        return text
            .split("\n")
            .map((l) => l.replace(/#.*/, "").trim())
            .filter((l) => /^deb\s/.test(l))
            .map((l) => l.replace(/^deb\s+(\[[^\]]*\]\s+)?/, "").split(/\s+/)[0]);
    }
    return text
        .split(/\n\s*\n/)
        .filter((stanza) => !/^Enabled:\s*no\b/im.test(stanza) && /^Types:.*\bdeb\b/im.test(stanza))
        .flatMap((stanza) => /^URIs:\s*(.+)$/im.exec(stanza)?.[1].trim().split(/\s+/) ?? []);
}
function isPgdg(uri, repository) {
    const bare = (u) => u.replace(/^\w+:\/\//, "").replace(/\/+$/, "");
    return bare(uri) === bare(repository) || /^(https?:\/\/)?apt(-archive)?\.postgresql\.org(\/|$)/.test(uri);
}
function installError(packages, argv, result, updateErrors) {
    // The command as a user would type it, without the private `-o` options.
    const command = argv.filter((a, i) => a !== "-o" && argv[i - 1] !== "-o" && !a.includes("=")).join(" ");
    const update = updateErrors ? `\napt-get update had reported: ${updateErrors}` : "";
    return new errors/* ActionError */.lZ("pg-dump-client", `Installing ${packages.join(" ")} failed at \`${command}\` (exit ${result.code}): ${result.stderr.trim().slice(-500)}${update}\nInstall it before this step, or set \`pg-dump-version\` to an installed pg_dump.`);
}

;// CONCATENATED MODULE: ./src/postgres/pg-client.ts




/** Refused before any API call: nothing on Windows runners can install or run the right pg_dump here. */
function unsupportedPlatform(os) {
    if (os === "win32") {
        return "Windows runners are not supported: run this action on a Linux runner (`runs-on: ubuntu-latest`), or on macOS with pg_dump installed.";
    }
    return undefined;
}
/** What to run before this step to get pg_dump `major`, in the platform's own terms. */
function installAdvice(major, platform) {
    if (platform.os === "darwin")
        return `brew install postgresql@${major} (its pg_dump is in $(brew --prefix postgresql@${major})/bin)`;
    if (platform.debianLike) {
        return `sudo /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y && sudo apt-get install -y postgresql-client-${major} (PostgreSQL's own apt setup, from the postgresql-common package)`;
    }
    return `install the PostgreSQL ${major} client with this system's package manager`;
}
function majorOf(version) {
    return Number(version.split(".")[0]);
}
/** `pg_dump (PostgreSQL) 17.2 (Ubuntu 17.2-1.pgdg24.04+1)` → 17 */
function parsePgDumpVersion(output) {
    const match = /\(PostgreSQL\)\s+(\d+)/.exec(output);
    return match ? Number(match[1]) : undefined;
}
/**
 * pg_dump refuses a server newer than itself, and an archive written by a newer pg_dump cannot be
 * read by an older pg_restore: the server's own major is the one that fits. A newer client is used
 * only when asked for by `pg-dump-version`, so nobody gets a dump their pg_restore cannot read.
 */
function choosePgDump(o) {
    const wanted = o.requested === "auto" ? o.serverMajor : o.requested;
    if (wanted < o.serverMajor) {
        return {
            kind: "fail",
            message: `\`pg-dump-version\` ${wanted} cannot dump a PostgreSQL ${o.serverMajor} server (pg_dump refuses newer servers). Use \`auto\` or ${o.serverMajor} or later.`,
        };
    }
    const exact = o.installed.get(wanted);
    if (exact)
        return { kind: "use", major: wanted, path: exact };
    if (o.platform.canInstall)
        return { kind: "install", major: wanted };
    const newer = [...o.installed.keys()].filter((m) => m > wanted).sort((a, b) => b - a)[0];
    const have = o.installed.size ? `installed: ${[...o.installed.keys()].join(", ")}` : "none installed";
    const alternative = newer === undefined
        ? ""
        : ` Or set \`pg-dump-version: ${newer}\` to use the installed pg_dump ${newer} (restore its dumps with pg_restore ${newer} or later).`;
    const why = o.platform.debianLike
        ? "installing it needs apt-get, curl and root or password-less sudo"
        : "the action installs pg_dump on Debian and Ubuntu only";
    return {
        kind: "fail",
        message: `No pg_dump ${wanted} on this runner (${have}) and it cannot be installed here (${why}). Install it before this step, e.g.: ${installAdvice(wanted, o.platform)}.${alternative}`,
    };
}
const debianBinDir = (major) => `/usr/lib/postgresql/${major}/bin`;
/** Debian's layout first (`/usr/bin/pg_dump` is pg_wrapper, which may pick another major), then PATH. */
async function findInstalled(run = commands/* runCommand */.d1, root = "/usr/lib/postgresql") {
    const found = new Map();
    for (const dir of await (0,external_node_fs_promises_.readdir)(root).catch(() => [])) {
        const candidate = external_node_path_.join(root, dir, "bin", "pg_dump");
        if (/^\d+$/.test(dir) && (await isExecutable(candidate)))
            found.set(Number(dir), candidate);
    }
    for (const dir of (process.env.PATH ?? "").split(external_node_path_.delimiter).filter(Boolean)) {
        const candidate = external_node_path_.join(dir, "pg_dump");
        if (!(await isExecutable(candidate)) || (await (0,external_node_fs_promises_.realpath)(candidate)).includes("pg_wrapper"))
            continue;
        const major = parsePgDumpVersion((await run(candidate, ["--version"], { silent: true })).stdout);
        if (major && !found.has(major))
            found.set(major, candidate);
    }
    return found;
}
async function detectPlatform(run = commands/* runCommand */.d1, os = process.platform) {
    const root = process.getuid?.() === 0;
    if (os !== "linux")
        return { os, canInstall: false, debianLike: false, root };
    const osRelease = await (0,external_node_fs_promises_.readFile)("/etc/os-release", "utf8").catch(() => "");
    const field = (name) => new RegExp(`^${name}="?([^"\\n]*)`, "m").exec(osRelease)?.[1] ?? "";
    const debianLike = /\b(debian|ubuntu)\b/.test(`${field("ID")} ${field("ID_LIKE")}`);
    const codename = field("VERSION_CODENAME") || field("UBUNTU_CODENAME") || undefined;
    const hasApt = (await isExecutable("/usr/bin/apt-get")) && (await isExecutable("/usr/bin/curl"));
    const privileged = root || (await run("sudo", ["-n", "true"], { silent: true, timeoutSeconds: 30 })).code === 0;
    return { os, canInstall: debianLike && hasApt && privileged && Boolean(codename), debianLike, codename, root };
}
/**
 * postgresql-client-<major> from PGDG, and with `packages` more of the same repository in the same
 * apt run; Debian's layout puts its pg_dump in /usr/lib/postgresql/<major>/bin.
 */
async function installPgDump(major, platform, deps, packages = [`postgresql-client-${major}`]) {
    await installPackages(packages, { ...deps, codename: platform.codename ?? "", sudo: !platform.root });
    return external_node_path_.join(debianBinDir(major), "pg_dump");
}
async function isExecutable(file) {
    return (0,external_node_fs_promises_.access)(file, 1).then(() => true, () => false);
}

;// CONCATENATED MODULE: ./src/postgres/reachability.ts



/** The probe's one query: a server that accepted the connection answers it in milliseconds. */
const PROBE_QUERY_TIMEOUT_MS = 15_000;
/**
 * Whether a failed connection means "the rule is not applied yet" (keep trying) or a problem no
 * amount of waiting fixes (wrong password, missing database, certificate refused).
 */
function classifyConnectError(error) {
    const e = error;
    const message = e.message ?? "";
    switch (e.code) {
        case "28P01": // invalid_password
        case "3D000": // invalid_catalog_name
        case "ENOTFOUND":
        case "AUTH_REFUSED": // the authentication guard: a method require_auth or channel binding forbids
            return "fatal";
        case "57P03": // cannot_connect_now: starting up or in recovery
        case "53300": // too_many_connections
            return "wait";
        case "28000": // invalid_authorization_specification: a pg_hba that does not list us yet
            return /no pg_hba\.conf entry/.test(message) ? "wait" : "fatal";
    }
    if (/does not support SSL/.test(message))
        return "plain-retry";
    if (/certificate|self[- ]signed|CERT_|ERR_TLS/i.test(`${e.code} ${message}`))
        return "fatal";
    // Any other SQLSTATE is the server answering about something waiting will not change.
    if (e.code && /^[0-9A-Z]{5}$/.test(e.code))
        return "fatal";
    return "wait";
}
/** A refused certificate or authentication method is a security stop, not a wrong password. */
function fatalAdvice(error, caSource) {
    const e = error;
    if (caSource && /certificate|self[- ]signed|CERT_|ERR_TLS/i.test(`${e.code} ${e.message}`)) {
        const what = /ALTNAME|does not match/i.test(`${e.code} ${e.message}`) ? "is signed by it but does not name the URI's host" : "is not signed by it";
        return `The database's certificate did not verify against ${caSource}: it ${what}, so no password was sent. Scalingo does not document that Dedicated Resources certificates chain to that CA: set \`ssl-root-cert\` to the CA that signed the certificate.`;
    }
    if (e.code === "AUTH_REFUSED") {
        return "Nothing was sent: someone on the path may be impersonating the server. Verify it with `ssl-mode: verify-full` and `ssl-root-cert` (see the README's security notes).";
    }
    if (/certificate|self[- ]signed|CERT_|ERR_TLS/i.test(`${e.code} ${e.message}`)) {
        return "The server's certificate did not verify, so no password was sent: check `ssl-root-cert` (the CA that signed it) and, for verify-full, that the URI's host name is in the certificate.";
    }
    return "Check SCALINGO_POSTGRESQL_URL of the database (its user, password and database name).";
}
function describeError(error) {
    const e = error;
    return `${(0,errors/* errorMessage */.gJ)(error)}${e.code ? ` [${e.code}]` : ""}`;
}
/**
 * A new firewall rule takes effect after a delay that nothing reports: the only signal is the
 * database accepting a connection. Try with growing pauses until it does or the deadline passes.
 */
async function waitUntilReachable(conn, o) {
    const clock = o.clock ?? realClock;
    const started = clock.now();
    // A wait after a lost connection keeps the TLS decision the first one made: never weaker, never a new negotiation.
    let allowPlain = o.allowPlain ?? false;
    let lastError = "";
    for (let attempt = 1;; attempt++) {
        if (o.signal?.aborted)
            throw stoppedWaiting();
        const remaining = o.timeoutMs - (clock.now() - started);
        // A server that accepted the connection answers its one query at once: a stall is not one to wait on.
        const client = pgClient(conn, Math.max(1000, Math.min(15_000, remaining)), allowPlain, PROBE_QUERY_TIMEOUT_MS);
        client.on("error", () => undefined);
        // An attempt in flight is cut short too. Ending a pg client mid-connect leaves its connect()
        // pending for ever, so the attempt is raced against the stop rather than awaited alone.
        let endOnAbort = () => undefined;
        const stopped = new Promise((_, reject) => {
            // The client is ended in the finally below, which the race reaches at once.
            endOnAbort = () => reject(stoppedWaiting());
        });
        stopped.catch(() => undefined);
        o.signal?.addEventListener("abort", endOnAbort, { once: true });
        const attemptOnce = async () => {
            await client.connect();
            return client.query("SHOW server_version_num");
        };
        const inFlight = attemptOnce();
        inFlight.catch(() => undefined);
        try {
            const { rows } = await Promise.race([inFlight, stopped]);
            return { serverVersionNum: Number(rows[0].server_version_num), allowPlain, attempts: attempt, waitedMs: clock.now() - started };
        }
        catch (error) {
            if (o.signal?.aborted)
                throw stoppedWaiting();
            // libpq's allow/prefer fall back to a plain connection; every other mode must not.
            const negotiable = !conn.sslmode || conn.sslmode === "allow" || conn.sslmode === "prefer";
            let verdict = classifyConnectError(error);
            if (verdict === "plain-retry")
                verdict = negotiable && !allowPlain ? "plain-retry" : "fatal";
            lastError = describeError(error);
            if (verdict === "fatal") {
                throw new errors/* ActionError */.lZ("reachability", `The database refused the connection: ${lastError}. ${fatalAdvice(error, conn.caSource)}`);
            }
            if (verdict === "plain-retry")
                allowPlain = true;
            if (attempt === 1 || attempt % 5 === 0)
                o.log(`Database not reachable yet (${lastError}); waiting ${o.waitingFor ?? "for the firewall rule to apply"}...`);
        }
        finally {
            o.signal?.removeEventListener("abort", endOnAbort);
            // A stopped attempt's end may wait on a server that never answers: not awaited then.
            const ending = client.end().catch(() => undefined);
            if (!o.signal?.aborted)
                await ending;
        }
        if (o.signal?.aborted)
            continue;
        const elapsed = clock.now() - started;
        if (elapsed >= o.timeoutMs) {
            throw new errors/* ActionError */.lZ("reachability", `The database was still unreachable after ${Math.round(elapsed / 1000)} s and ${attempt} attempts (last error: ${lastError}). Check that the firewall rule was applied (Scalingo usually takes about two minutes; raise \`reachable-timeout\`), that the detected IP is really the runner's egress address (set \`runner-ip\` for self-hosted runners behind NAT), and that \`region\` is the database's.`);
        }
        // Start quick (a reused rule is usually in effect already), then settle at one try every 10 s.
        await sleepUnlessAborted(clock, Math.min(10_000, 100 * 2 ** attempt, o.timeoutMs - elapsed), o.signal);
    }
}
const stoppedWaiting = () => new errors/* ActionError */.lZ("reachability", "Stopped waiting for the database: the run failed elsewhere.");
/** The pause between attempts ends early when the run is stopped (the install failed). */
function sleepUnlessAborted(clock, ms, signal) {
    if (!signal)
        return clock.sleep(ms);
    if (signal.aborted)
        return Promise.resolve();
    return new Promise((resolve) => {
        const done = () => {
            signal.removeEventListener("abort", done);
            resolve();
        };
        signal.addEventListener("abort", done, { once: true });
        clock.sleep(ms).then(done);
    });
}

// EXTERNAL MODULE: external "node:timers/promises"
var external_node_timers_promises_ = __webpack_require__(58500);
;// CONCATENATED MODULE: ./src/runner/process-record.ts



/** /proc/<pid>/stat: the name (field 2) may hold spaces and parentheses, so fields are counted after its last ")". */
function parseStat(text) {
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0] ?? "", startTicks: fields[19] ?? "" };
}
/**
 * Read right after the spawn, synchronously, so the record is saved before anything else runs.
 * Undefined where there is no /proc (macOS): then only the live handle can stop the process.
 */
function recordProcess(pid) {
    if (!pid)
        return undefined;
    try {
        return { pid, startTicks: parseStat((0,external_node_fs_.readFileSync)(`/proc/${pid}/stat`, "utf8")).startTicks };
    }
    catch {
        return undefined;
    }
}
/** Whether the recorded process still runs: same pid, same start time, not a zombie. */
async function isRunning(record) {
    try {
        const stat = parseStat(await (0,external_node_fs_promises_.readFile)(`/proc/${record.pid}/stat`, "utf8"));
        return stat.startTicks === record.startTicks && stat.state !== "Z";
    }
    catch {
        return false;
    }
}
/**
 * Stops the recorded process, if it is still that process: SIGTERM, then SIGKILL when it has not
 * ended after `graceMs`. Resolves whether it was running. Never signals a pid reused by another
 * process.
 */
async function stopRecorded(record, graceMs = 2_000) {
    if (!(await isRunning(record)))
        return false;
    signal(record.pid, "SIGTERM");
    if (await endsWithin(record, graceMs))
        return true;
    if (await isRunning(record))
        signal(record.pid, "SIGKILL");
    await endsWithin(record, graceMs);
    return true;
}
/**
 * A writer the run started (pg_dump, pg_restore), recorded the moment it is spawned: its record is
 * saved under `key` before anything else runs, so post stops it after a killed main, and its stop
 * is on the teardown's first stage, which waits for its end. Returns what to call once it ended.
 */
function recordWriter(pid, o) {
    const record = recordProcess(pid);
    if (record)
        o.state.save(o.key, JSON.stringify(record));
    // Without /proc there is no record: only the live handle can stop it.
    const stop = o.teardown.defer("writers", `stop ${o.what}`, () => (record ? stopRecorded(record) : o.kill?.()));
    return () => {
        stop.release();
        if (record)
            o.state.save(o.key, "");
    };
}
/** A record as main saved it; undefined for "" (it ended) or anything that is not one. */
function savedProcess(saved) {
    try {
        const record = JSON.parse(saved || "null");
        return record && Number.isInteger(record.pid) && typeof record.startTicks === "string" && record.startTicks
            ? { pid: record.pid, startTicks: record.startTicks }
            : undefined;
    }
    catch {
        return undefined;
    }
}
async function endsWithin(record, ms) {
    for (let waited = 0; waited < ms; waited += 50) {
        if (!(await isRunning(record)))
            return true;
        await (0,external_node_timers_promises_.setTimeout)(50);
    }
    return !(await isRunning(record));
}
function signal(pid, name) {
    try {
        process.kill(pid, name);
    }
    catch {
        // Ended between the check and the signal.
    }
}

// EXTERNAL MODULE: ./src/restore/prepare.ts + 2 modules
var prepare = __webpack_require__(26346);
;// CONCATENATED MODULE: ./src/restore/obtain.ts

/** The dump on the runner, from wherever the inputs say, with its manifest: before anything is opened. */
async function obtainDump(config, folder, log, env) {
    const { source } = config;
    // Each remote source's client is loaded only for that source (a chunk of its own): the AWS SDK,
    // and @actions/artifact with its Azure SDK, are most of the bundle, and parsing them cost every
    // restore about half a second before its first step.
    if (source.kind === "s3") {
        const { obtainFromS3 } = await Promise.all(/* import() */[__webpack_require__.e(711), __webpack_require__.e(22)]).then(__webpack_require__.bind(__webpack_require__, 59022));
        return obtainFromS3(source.object, { folder, identity: config.decryptionIdentity }, log);
    }
    if (source.kind !== "path") {
        const { obtainArtifact } = await Promise.all(/* import() */[__webpack_require__.e(584), __webpack_require__.e(384)]).then(__webpack_require__.bind(__webpack_require__, 46384));
        return obtainArtifact(source, { folder, identity: config.decryptionIdentity, repository: config.repository }, { env, log });
    }
    const dump = await (0,prepare/* obtainLocal */.zK)(source.path, config.decryptionIdentity);
    log.info(`Restoring ${source.path}${dump.manifest ? " (with its manifest)" : ""}.`);
    return { ...dump, description: `\`${source.path}\`` };
}

;// CONCATENATED MODULE: ./src/restore/pg-restore.ts




/** The restore's own argv (no connection in it): what the tests and the log show. */
function restoreArgv(p) {
    if (p.format === "plain") {
        // A plain dump holds its own DROP statements (the backup's default --clean --if-exists).
        return {
            tool: "psql",
            args: ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password", ...(p.over ? ["--single-transaction"] : []), "-o", "/dev/null", "-f", p.source],
        };
    }
    // tar archives cannot be read by workers; one transaction cannot be split between them.
    const jobs = p.over || p.format === "tar" || p.jobs <= 1 ? [] : [`--jobs=${p.jobs}`];
    const over = p.over ? ["--clean", "--if-exists", "--single-transaction"] : [];
    // Only the database's name: host, role and password come in PG* variables.
    return { tool: "pg_restore", args: [...p.args, ...over, ...jobs, "--no-password", `--dbname=${p.database}`, p.source] };
}
async function runRestore(p) {
    const { tool, args } = restoreArgv(p);
    const env = { ...libpqEnv(p.connection), PGDATABASE: p.database, ...(tool === "psql" ? { PGOPTIONS: "-c client_min_messages=warning" } : {}) };
    const run = p.run ?? commands/* runCommand */.d1;
    const file = external_node_path_.join(p.binDir, tool);
    // Silent: a failed COPY or constraint quotes row values (DETAIL, CONTEXT), which stay off the log.
    p.log(`Running ${file} ${args.join(" ")}`);
    const stoppable = p.signal ? { signal: p.signal, ...(p.onSpawn ? { onSpawn: p.onSpawn } : {}) } : {};
    const result = await run(file, args, { env, silent: true, timeoutSeconds: commands/* LONG_TIMEOUT_SECONDS */.lc, ...stoppable });
    if (result.code !== 0)
        throw new errors/* ActionError */.lZ("restore", `${tool} exited with code ${result.code}:\n${withoutValues(result.stderr)}`);
}
/** Lines that may quote a row's values (DETAIL: Key (id)=(5), CONTEXT: COPY ... line 3: "...") stay on the runner. */
function withoutValues(stderr) {
    const lines = stderr
        .trim()
        .split("\n")
        .filter((line) => !/^\s*(DETAIL|CONTEXT|LINE \d+|HINT):|^\s*\^\s*$|^\s{4,}/.test(line.replace(/^(pg_restore|psql):\s*(error:\s*)?/, "")));
    const shown = lines.slice(0, 30);
    return `${shown.join("\n")}${lines.length > shown.length ? `\n... ${lines.length - shown.length} more line(s).` : ""}`;
}

;// CONCATENATED MODULE: ./src/restore/target.ts



async function withClient(conn, reachable, database, work) {
    const client = pgClient({ ...conn, database }, 15_000, reachable.allowPlain);
    client.on("error", () => undefined);
    try {
        await client.connect();
        return await work(client);
    }
    finally {
        await client.end().catch(() => undefined);
    }
}
/**
 * A fresh database, owned by the target's role. A role that may not create databases fails here,
 * clearly: the action never falls back to the URI's own database.
 */
async function createFreshDatabase(conn, reachable, name) {
    await withClient(conn, reachable, conn.database, async (c) => {
        const { rows } = await c.query("SELECT rolcreatedb OR rolsuper AS may FROM pg_roles WHERE rolname = current_user");
        if (!rows[0]?.may)
            throw cannotCreate(conn.user, "it has no CREATEDB");
        try {
            await c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`);
        }
        catch (error) {
            if (error.code === "42501")
                throw cannotCreate(conn.user, (0,errors/* errorMessage */.gJ)(error));
            throw new errors/* ActionError */.lZ("restore", `Could not create the database ${name}: ${(0,errors/* errorMessage */.gJ)(error)}`);
        }
    });
}
function cannotCreate(user, why) {
    return new errors/* ActionError */.lZ("restore", `The role ${user} may not create databases (${why}), so there is no fresh database to restore into. Name an existing database of the instance to restore over: \`target-database-name\` and \`confirm\` (its contents are replaced, in one transaction).`);
}
async function requireDatabase(conn, reachable, name) {
    await withClient(conn, reachable, conn.database, async (c) => {
        const { rows } = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
        if (!rows.length)
            throw new errors/* ActionError */.lZ("restore", `\`target-database-name\`: the database ${name} does not exist in this instance. Nothing was restored.`);
    });
}
/**
 * Every ordinary table of the database with its exact row count (count(*): the manifest's counts
 * are exact too), on up to `connections` connections at once (the restore's `jobs`: the budget
 * pg_restore used), each taking the next table: the rule stays open while they count. Largest
 * first: the largest table's count is most of the wait, and started last it would run alone at
 * the end while the other connections idle. The result is in the listing's order (by name).
 */
async function countRows(conn, reachable, database, connections = 1) {
    let listed;
    const counted = [];
    let next = 0;
    const count = async (c) => {
        // The first connection up lists the tables; every connection then counts the next one left.
        listed ??= listTables(c);
        const tables = await listed;
        for (let i = next++; i < tables.length; i = next++) {
            const { at, ...t } = tables[i];
            const result = await c.query(`SELECT count(*) AS n FROM ONLY ${c.escapeIdentifier(t.schema)}.${c.escapeIdentifier(t.name)}`);
            counted[at] = { ...t, rows: Number(result.rows[0]?.n) };
        }
    };
    await settleInOrder(...Array.from({ length: Math.max(1, connections) }, () => withClient(conn, reachable, database, count)));
    return counted;
}
/**
 * The tables largest first, each with its place in the name order. Largest by the rows the server
 * counted as inserted (its cumulative statistics: a restored table has no planner statistics yet,
 * and pg_relation_size would wait on a table another session locked).
 */
async function listTables(c) {
    const { rows } = await c.query(`SELECT n.nspname AS schema, c.relname AS name, (row_number() OVER (ORDER BY n.nspname, c.relname) - 1)::int AS at
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
     ORDER BY pg_stat_get_tuples_inserted(c.oid) DESC, 1, 2`);
    return rows;
}
/** For drills: the database this run created goes, with the rule still open. */
async function dropDatabase(conn, reachable, name) {
    await withClient(conn, reachable, conn.database, async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)}`);
    });
}
/**
 * The restored counts against the manifest's: every table the manifest counted must hold exactly
 * its rows. Only names and numbers are reported, never a row's values.
 */
function countProblems(expected, restored) {
    const byName = new Map(restored.map((t) => [`${t.schema}.${t.name}`, t.rows]));
    const problems = [];
    for (const t of expected) {
        const got = byName.get(`${t.schema}.${t.name}`);
        if (got === undefined)
            problems.push(`${t.schema}.${t.name}: ${t.rows} row(s) in the manifest, but the table is missing from the restored database.`);
        else if (got !== t.rows)
            problems.push(`${t.schema}.${t.name}: ${t.rows} row(s) in the manifest, ${got} restored.`);
    }
    return problems;
}

;// CONCATENATED MODULE: ./src/restore/restore.ts
















/** The main step after the inputs (docs/design.md, "The restore action"). */
async function restore(config, session, run, deps) {
    try {
        const dump = await beforeFirewall(config, session, run, deps);
        await throughFirewall(config, session, run, deps, dump);
    }
    finally {
        await session.teardown.run();
    }
}
/** Everything that can be checked without a connection: the dump, its manifest, the identity, the versions. */
async function beforeFirewall(config, session, run, deps) {
    const { log } = deps;
    const runner = deps.run ?? commands/* runCommand */.d1;
    const folder = await (0,prepare/* privateFolder */.qm)(config.tempDir);
    // Downloads and plaintext: removed by the teardown, or by the post step when main was killed.
    deps.state.save(constants/* State */.Uw.restoreFolder, folder);
    session.teardown.defer("plaintext", "remove the restore's private folder", () => (0,files/* removeQuietly */.S2)(folder));
    log.section?.("The dump");
    const obtained = await phase(run, "download", () => obtainDump(config, folder, log, deps.env ?? process.env));
    Object.assign(run, { dumpName: obtained.name, source: obtained.description });
    if (config.verifyRowCounts === "true" && !obtained.manifest?.tables)
        throw new errors/* ActionError */.lZ("inputs", "`verify-row-counts`: the backup's manifest holds no row counts (the backup ran without `verify: restore`, or wrote no manifest): set it to auto or false.");
    // The dump's checks (the sha256 of every byte, the decryption, the format) keep a core busy for
    // seconds on a large dump, while the reads of Scalingo, the runner's address and the local
    // clients mostly wait and open nothing: both at once. The firewall opens only once both have
    // ended, and a dump that fails its checks is the error reported, whatever the reads found.
    const [dump, target] = await phasesAtOnce(run, phase(run, "inputs", () => (0,prepare/* prepareDump */.WT)(obtained, { identity: config.decryptionIdentity, folder, run: runner, ahead: deps.ahead })), readTarget(config, session, run, deps));
    const { serverVersion, ip } = target;
    Object.assign(run, { format: dump.format, encrypted: dump.encrypted, sha256: dump.sha256, sha256Checked: Boolean(dump.manifest), dumpMajor: dump.major });
    log.info(describeDump(dump, obtained.name));
    const targetMajor = majorOf(serverVersion);
    if (dump.major && dump.major > targetMajor)
        throw new errors/* ActionError */.lZ("inputs", `The dump was written by pg_dump ${dump.major}; the target ${config.database} runs PostgreSQL ${serverVersion}. A dump restores into the same major or a newer one: upgrade the target first. Nothing was opened.`);
    const choice = await phase(run, "pg-dump-client", async () => {
        const chosen = choosePgDump({ serverMajor: dump.major ?? targetMajor, requested: "auto", installed: target.installed, platform: target.platform });
        if (chosen.kind === "fail")
            throw new errors/* ActionError */.lZ("pg-dump-client", chosen.message.replaceAll("pg_dump", "pg_restore").replaceAll("`pg-dump-version`", "the dump's major"));
        return chosen;
    });
    run.pgRestoreVersion = String(choice.major);
    log.info(`Database ${config.database}: PostgreSQL ${serverVersion}; runner IP ${ip}; pg_restore ${choice.major}${choice.kind === "install" ? " (installed while the rule propagates)" : ""}.`);
    return { dump, connection: target.connection, ip, choice, platform: target.platform, client: target.client };
}
/** What the run learns without opening anything: the database's version and connection, the runner's address, the local clients. */
async function readTarget(config, session, run, deps) {
    const runner = deps.run ?? commands/* runCommand */.d1;
    const [target, platform, installed] = await settleInOrder(discoverTarget(config, run, deps, session), detectPlatform(runner), findInstalled(runner));
    return { ...target, platform, installed };
}
function describeDump(dump, name) {
    const checked = dump.manifest ? "sha256 matches the manifest" : "no manifest beside it: sha256 and row counts not checked";
    return `${name}: ${dump.format} dump${dump.compression !== "none" ? ` (${dump.compression})` : ""}${dump.encrypted ? ", decrypted" : ""}, ${checked}${dump.major ? `, written by pg_dump ${dump.major}` : ""}.`;
}
/** The firewall session (scalingo/firewall-session.ts): open, the client and the wait, the restore and its checks, close. */
async function throughFirewall(config, session, run, deps, ready) {
    const firewall = await openFirewallStep(config, run, deps, { client: ready.client, ip: ready.ip, teardown: session.teardown });
    try {
        deps.log.section?.("pg_restore client and database wait");
        const { binDir, reachable } = await whileRulePropagates(config, session, run, deps, ready);
        await restoreAndCheck(config, session, run, deps, { ...ready, binDir, reachable });
    }
    finally {
        // As soon as the work that needs it ends, however it ends.
        await firewall.close();
    }
}
/** Into a fresh database (or over the confirmed target), then the row counts, then drop-after. */
async function restoreAndCheck(config, session, run, deps, ready) {
    const { log } = deps;
    const { reachable } = ready;
    const target = config.target ?? `restore_${(0,naming/* utcStamp */.sl)(deps.now ?? new Date()).toLowerCase()}`;
    run.target = target;
    log.section?.("Restore");
    await phase(run, "restore", async () => {
        if (config.target)
            await requireDatabase(ready.connection, reachable, target);
        else {
            await createFreshDatabase(ready.connection, reachable, target);
            run.created = true;
            log.info(`Created the database ${target}.`);
        }
        await restoreInto(config, session, run, deps, { ...ready, target });
        log.info(`Restored ${ready.dump.format} dump into ${target} in ${((run.restoreMs ?? 0) / 1000).toFixed(1)} s.`);
    });
    await phase(run, "verify", () => checkCounts(config, run, ready, reachable, target, log));
    if (config.dropAfter && run.created) {
        await dropDatabase(ready.connection, reachable, target);
        run.dropped = true;
        log.info(`Dropped ${target} (drop-after).`);
    }
}
/**
 * pg_restore (psql for a plain dump), recorded as the backup records pg_dump: saved the moment it
 * is spawned (the pid is coreutils `timeout`'s, which passes a TERM on to it and ends with it), so
 * the teardown stops it first and waits for its end, and post stops what a killed main left.
 */
async function restoreInto(config, session, run, deps, ready) {
    const started = Date.now();
    const over = Boolean(config.target);
    let ended;
    try {
        await runRestore({
            ...ready.dump,
            binDir: ready.binDir,
            connection: ready.connection,
            database: ready.target,
            over,
            jobs: config.jobs,
            args: config.pgRestoreArgs,
            signal: session.teardown.ending,
            onSpawn: (pid) => {
                ended = recordWriter(pid, { teardown: session.teardown, state: deps.state, key: constants/* State */.Uw.pgRestore, what: "pg_restore" });
            },
            run: deps.run,
            log: deps.log.info,
        });
    }
    catch (error) {
        throw restoreFailed(error, ready.target, over, config.database);
    }
    finally {
        ended?.();
        run.restoreMs = Date.now() - started;
    }
}
function restoreFailed(error, target, over, database) {
    const left = over
        ? `It ran in one transaction: ${target} is unchanged.`
        : `The database ${target} is left as the failure left it, for inspection. Drop it when done: \`DROP DATABASE "${target}";\` (\`scalingo --database ${database} pgsql-console\`).`;
    return new errors/* ActionError */.lZ("restore", `The restore into ${target} failed: ${error.message}\n${left}`);
}
async function checkCounts(config, run, ready, reachable, target, log) {
    const counted = await countRows(ready.connection, reachable, target, config.jobs);
    run.tables = counted.length;
    run.rows = counted.reduce((n, t) => n + t.rows, 0);
    const expected = ready.dump.manifest?.tables;
    if (config.verifyRowCounts === "false" || !expected) {
        log.info(`Restored ${run.tables} table(s), ${run.rows} row(s)${expected ? "" : " (no counts in the manifest to compare with)"}.`);
        return;
    }
    const problems = countProblems(expected, counted);
    if (problems.length)
        throw new errors/* ActionError */.lZ("verify", `The restored database does not hold the rows the backup counted (${problems.length} table(s)):\n${problems.slice(0, 20).join("\n")}`);
    run.compared = expected.length;
    log.info(`Row counts: each of the ${expected.length} table(s) in the manifest holds exactly its rows (${run.rows} row(s) in all).`);
}
/** The client install and the wait for the database, at once: the first failure stops the other. */
async function whileRulePropagates(config, session, run, deps, ready) {
    const together = firstFailureStops(session.teardown.ending);
    const runner = deps.run ?? commands/* runCommand */.d1;
    const install = { run: runner, log: deps.log.info, signal: together.signal, env: deps.env ?? process.env, tempDir: config.tempDir };
    const waitOptions = { timeoutMs: config.reachableTimeoutMs, log: deps.log.info, signal: together.signal };
    const [binDir, reachable] = await together.settle(together.track(phase(run, "pg-dump-client", () => clientBinDir(ready.choice, ready.platform, install))), together.track(phase(run, "reachability", () => waitUntilReachable(ready.connection, waitOptions))));
    deps.log.info(`Database reachable after ${(reachable.waitedMs / 1000).toFixed(1)} s (${reachable.attempts} attempt(s)).`);
    return { binDir, reachable };
}
async function clientBinDir(choice, platform, install) {
    if (choice.kind === "use")
        return external_node_path_.dirname(choice.path);
    return external_node_path_.dirname(await installPgDump(choice.major, platform, install));
}

;// CONCATENATED MODULE: ./src/restore/run-report.ts
function ruleOpenMs(r) {
    return r.ruleCreated && r.ruleAddedAt && r.ruleRemovedAt ? r.ruleRemovedAt.getTime() - r.ruleAddedAt.getTime() : undefined;
}
/** Outputs as restore/action.yml names them; only what is known. */
function restoreOutputs(r) {
    const open = ruleOpenMs(r);
    const all = {
        "restored-database": r.target && !r.failedPhase ? r.target : undefined,
        tables: r.tables,
        rows: r.rows,
        "restore-seconds": r.restoreMs === undefined ? undefined : (r.restoreMs / 1000).toFixed(1),
        "rule-open-seconds": open === undefined ? undefined : (open / 1000).toFixed(1),
    };
    return Object.fromEntries(Object.entries(all)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, String(v)]));
}

;// CONCATENATED MODULE: ./src/report/format.ts
// Figures as the log and the job summary show them, shared by the backup's and the restore check's sections.
/** Bytes in binary units, one decimal above bytes: `1.5 KiB`. */
function format_formatBytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = n;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit++;
    }
    return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}
/**
 * A count with thousands separators: `2,314,940`. By hand, not `toLocaleString("en-US")`: its
 * first call loads ICU's number formats, about 30 ms of the step's end for one figure.
 */
function formatCount(n) {
    const [whole = "", fraction] = String(n).split(".");
    const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

;// CONCATENATED MODULE: ./src/report/failure.ts


// A failed run is read in the job summary, often the next morning and without the log: what
// failed, in the action's own words (wrapped text), what a tool or server said (verbatim, in a
// code block), and what to do about this error, not about the phase in general.
/** What to look at when a phase fails and nothing more specific is known. */
const ADVICE = {
    inputs: "Fix the inputs named above in the workflow file; nothing was contacted.",
    scalingo: "Check the `api-token` secret, the `database` ID and the `region`.",
    "ip-lookup": "Set `runner-ip`, or `ip-lookup-urls` to services reachable from the runner.",
    firewall: "Check the database's firewall rules in the dashboard (at most 30); remove unused ones.",
    "pg-dump-client": "Install the pg_dump of the server's major before this step, or set `pg-dump-version`.",
    "restore-server": "`verify: restore` needs a PostgreSQL server of the dump's major on the runner: install it before this step, or use `verify: list`.",
    reachability: "Check the rule's IP is the runner's egress address and raise `reachable-timeout`.",
    dump: "Read pg_dump's message above; check free disk space and the database's status.",
    compress: "Check free disk space: each data file is compressed beside itself, then removed.",
    verify: "The dump could not be read back: it was not uploaded. Run again.",
    restore: "The dump did not restore, or not with every row. Read the error above; an object depending on something excluded by `pg-dump-args` fails the restore.",
    pack: "Check free disk space: the tar needs as much again as the dump directory.",
    encrypt: "Check `encryption-recipients` and free disk space.",
    upload: "Check the artifact name is unique in the run and the retention is allowed by the repository.",
    download: "Check `run-id` (or `workflow`), `artifact-name`, and that `github-token` may read the repository's actions (`permissions: actions: read`).",
    s3: "Read the S3 error above: credentials (AWS_* variables), `s3-url`, `s3-endpoint` and `s3-region`, the bucket's permissions. Before the firewall opened, nothing was contacted but S3; after, the artifact (if any) is kept.",
};
const DATABASE_ID_HELP = "The ID is the database's name in the Scalingo dashboard (also in its page's address); `SCALINGO_PREVIEW_FEATURES=true scalingo databases` lists them.";
/** Hints that depend on what the error says, first match wins; the phase's advice otherwise. */
const SPECIFIC = [
    { phase: "scalingo", match: /is stopped/, hint: "Start the database in the Scalingo dashboard, then run the workflow again." },
    {
        phase: "scalingo",
        status: [401],
        hint: "Scalingo refused the API token: create a new one (dashboard, User settings, API tokens) and store it in the secret passed as `api-token`.",
    },
    {
        phase: "scalingo",
        status: [403, 404],
        hint: `Check \`database\` and \`region\`, and that the token's user can access the database. ${DATABASE_ID_HELP}`,
    },
    { phase: "scalingo", match: /^Region .* not found/, hint: "Set `region` to one of the regions the error lists (osc-fr1, osc-secnum-fr1)." },
    {
        phase: "scalingo",
        match: /No addon found|Multiple addons/,
        hint: `\`database\` must be a Dedicated Resources database ID, not an application. ${DATABASE_ID_HELP}`,
    },
    { phase: "scalingo", status: [429], hint: "Scalingo limited the request rate: run again in a few minutes, and spread several backups over the hour." },
    {
        phase: "scalingo",
        status: [500, 502, 503, 504],
        hint: "Scalingo's API failed: check https://scalingostatus.com and run the workflow again.",
    },
    {
        phase: "scalingo",
        match: /got no answer/,
        hint: "Scalingo's API did not answer: check the runner's network and https://scalingostatus.com, then run again.",
    },
    {
        phase: "reachability",
        match: /refused the connection/,
        hint: "The database answered but the connection was refused: read the reason above; the connection settings come from the database's `SCALINGO_POSTGRESQL_URL`.",
    },
    {
        phase: "dump",
        match: /lock timeout|could not obtain lock/,
        hint: "A lock held by the application (a migration, VACUUM FULL) kept pg_dump waiting: run the backup at another hour, or allow a longer wait with `--lock-wait-timeout=<ms>` in `pg-dump-extra-args`.",
    },
    {
        phase: "dump",
        match: /No space left|could not write/i,
        hint: "The runner's disk is full: set `compress`, write to a larger disk with `path`, or use a bigger runner.",
    },
    {
        phase: "dump",
        match: /server closed the connection|terminating connection|connection to server .* (lost|failed)|SSL SYSCALL/i,
        hint: "The database closed pg_dump's connection (a restart, a failover or maintenance): check the database's events in the dashboard and run again.",
    },
    {
        phase: "dump",
        match: /permission denied/i,
        hint: "The database user cannot read an object: leave it out with `--exclude-table` or `--exclude-schema` in `pg-dump-extra-args`.",
    },
    {
        phase: "dump",
        match: /server version mismatch/,
        hint: "pg_dump is older than the server: set `pg-dump-version` to the server's major, or leave it `auto`.",
    },
];
/** The failure as the summary and the log's last line tell it. */
function failure_describeFailure(error, phase) {
    const own = error instanceof ActionError ? error : undefined;
    const message = errorMessage(error).replace(/\r\n?/g, "\n").trim();
    const base = splitMessage(message, own);
    const status = error instanceof ScalingoApiError ? error.status : undefined;
    const hint = own?.hint ??
        SPECIFIC.find((s) => (!s.phase || s.phase === phase) && (!s.status || (status !== undefined && s.status.includes(status))) && (!s.match || s.match.test(message)))?.hint ??
        ADVICE[phase];
    return { phase, ...base, hint };
}
/**
 * The action's own words and what a tool said: each invalid input is an item; an explicit detail
 * is the tool's; otherwise, what follows a first line ending with a colon is a tool's output
 * (pg_dump's stderr, a server's answer), and anything else is the action's own text.
 */
function splitMessage(message, own) {
    if (own instanceof InputError)
        return { text: own.problems.length > 1 ? "Invalid inputs:" : "Invalid input:", items: own.problems };
    if (own?.detail)
        return { text: own.sentence, detail: own.detail };
    const newline = message.indexOf("\n");
    if (newline > 0 && message.slice(0, newline).trimEnd().endsWith(":")) {
        return { text: message.slice(0, newline).trim(), detail: message.slice(newline + 1) };
    }
    return { text: message };
}
/** The log's last line on a failed run. */
function whatToDoLine(failure) {
    return `What to do: ${failure.hint}`;
}
/** Records the failure on the report: the phase it happened in, its message, and how to tell it. */
function recordFailure(report, error) {
    report.failedPhase ??= error instanceof ActionError ? error.phase : "dump";
    report.error = errorMessage(error);
    report.failure = failure_describeFailure(error, report.failedPhase);
    return report.failure;
}
/** A report for a run stopped by its inputs: only what can be shown of them, whatever they hold. */
function inputsReport(read) {
    const database = read("database").trim();
    const region = read("region").trim();
    return newReport(/^[\w-]{1,100}$/.test(database) ? database : "?", /^[a-z0-9-]{1,63}$/.test(region) ? region : "osc-fr1", /^\w{1,20}$/.test(read("format").trim()) ? read("format").trim() : "custom", false);
}

;// CONCATENATED MODULE: ./src/report/summary.ts



const PHASE_LABELS = (/* unused pure expression or super */ null && ([
    ["inputs", "Inputs"],
    ["scalingo", "Scalingo API"],
    ["ip-lookup", "IP lookup"],
    ["firewall", "Firewall rule"],
    ["pg-dump-client", "pg_dump client"],
    ["restore-server", "Restore server"],
    ["reachability", "Wait for database"],
    ["dump", "Dump"],
    ["compress", "Compress (rule removed)"],
    ["verify", "Verify"],
    ["restore", "Restore check"],
    ["pack", "Pack (tar)"],
    ["encrypt", "Encrypt"],
    ["upload", "Upload"],
    ["download", "Download"],
    ["s3", "S3"],
]));
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
function ruleLifetime(r) {
    if (!r.ruleCreated)
        return r.ruleId ? "an existing rule was reused and left in place" : "no rule was added";
    const added = r.ruleAddedAt?.toISOString() ?? "?";
    if (!r.ruleRemovedAt || !r.ruleAddedAt)
        return `added ${added}, **not removed by this step** (the post step removes it)`;
    const openMs = r.ruleRemovedAt.getTime() - r.ruleAddedAt.getTime();
    return `added ${added}, removed ${r.ruleRemovedAt.toISOString()}: open ${seconds(openMs)}${exposureParts(openMs, r)}`;
}
/**
 * What the rule's lifetime is made of: the wait for it to apply, pg_dump's own run, and the rest
 * (the exposure overhead: the action's own steps while the database is open to this address).
 */
function exposureParts(openMs, r) {
    const wait = r.durationsMs.reachability;
    const dump = r.durationsMs.dump;
    if (wait === undefined || dump === undefined)
        return "";
    // Every attempt counts: a retried dump kept the rule open for each one, and for each wait in between.
    const attempts = (r.dumpRetries?.length ?? 0) + 1;
    const over = attempts > 1 ? ` over ${attempts} attempts` : "";
    return ` (wait for the database ${seconds(wait)}, pg_dump ${seconds(dump)}${over}, exposure overhead ${seconds(Math.max(0, openMs - wait - dump))})`;
}
/** The job summary as Markdown. */
function summaryMarkdown(r) {
    const ok = !r.failedPhase;
    const rows = [
        ["Database", `\`${r.database}\` (${r.region})`],
        ["Server version", r.serverVersion],
        ["pg_dump version", r.pgDumpVersion],
        ["Format", r.format],
        ["Compression", r.compression],
        ["Size", r.dumpSize === undefined ? undefined : formatBytes(r.dumpSize)],
        ["sha256", r.sha256 && `\`${r.sha256}\``],
        ["Dump retries", r.dumpRetries?.length ? `${r.dumpRetries.length} (pg_dump lost its connection: ${r.dumpRetries.join("; ")})` : undefined],
        ["Verified", r.verified],
        ["Encrypted", r.encrypted ? "yes (age)" : "no"],
        ["Artifact", r.artifactName && (r.artifactUrl ? `[${r.artifactName}](${r.artifactUrl})` : `${r.artifactName} (id ${r.artifactId})`)],
        ["Manifest", r.manifestPath && `\`${r.manifestPath}\`${r.manifestArtifactName ? ` (artifact ${r.manifestArtifactName})` : ""}`],
        ["S3", r.s3Uri && `\`${r.s3Uri}\`${r.s3VersionId ? ` (version ${r.s3VersionId})` : ""}`],
        ["S3 rotation", r.s3Deleted && `${r.s3Deleted.length} object(s) deleted`],
        ["Runner IP", r.runnerIp],
        ["Firewall rule", ruleLifetime(r)],
    ];
    const lines = [`## ${ok ? "✅" : "❌"} Scalingo PostgreSQL backup ${ok ? "succeeded" : "failed"}`, ""];
    if (!ok && r.failedPhase)
        lines.push(...failureSection(r.failure ?? describeFailure(new Error(r.error ?? "unknown error"), r.failedPhase)));
    if (r.publicRepository && !r.encrypted && ok) {
        lines.push("> [!WARNING]", "> This repository is public: anyone signed in to GitHub can download this unencrypted dump. Set `encryption-recipients`.", "");
    }
    lines.push("| | |", "|---|---|", ...rows.filter(([, v]) => v).map(([k, v]) => `| ${k} | ${tableCell(v)} |`), "");
    lines.push(...restoreSection(r));
    const timed = PHASE_LABELS.filter(([p]) => r.durationsMs[p] !== undefined);
    if (timed.length) {
        lines.push("| Phase | Duration |", "|---|---|", ...timed.map(([p, label]) => `| ${label} | ${seconds(r.durationsMs[p])} |`), "");
    }
    return lines.join("\n");
}
/** The action's words as text, what a tool said in a code block, then what to do. */
function failureSection(f) {
    const label = PHASE_LABELS.find(([p]) => p === f.phase)?.[1] ?? f.phase;
    const lines = [`**Failed during: ${label}.** ${markdownText(f.text)}`, ""];
    if (f.items?.length)
        lines.push(...f.items.map((item) => `- ${markdownText(item)}`), "");
    if (f.detail)
        lines.push(...codeBlock(f.detail), "");
    if (!f.text.includes(f.hint))
        lines.push(`**What to do:** ${markdownText(f.hint)}`, "");
    return lines;
}
/**
 * The action's own sentences hold values from elsewhere (a server's message, a name): outside
 * their code spans, what Markdown reads as emphasis, links, HTML, math or entities is escaped, and
 * so is whatever would open a block at a line's start (heading, list, quote); the spans (input
 * names, commands) stay code. Lines end in hard breaks.
 */
function markdownText(text) {
    const inline = (part) => part.replace(/[\\`*_[\]<>&|~$]/g, "\\$&");
    const lineStart = (line) => line.replace(/^(\s*)([#+\-=>]|\d+[.)])/, (_m, space, mark) => `${space}${mark.replace(/[#+\-=>.)]/, "\\$&")}`);
    return text
        .replace(/\r\n?/g, "\n")
        .split("\n")
        .map((line) => lineStart(line
        .split(/(`[^`]+`)/g)
        .map((part, i) => (i % 2 ? part : inline(part)))
        .join("")))
        .join("\\\n");
}
/**
 * Error text comes from pg_dump, servers and APIs: in a fence longer than any run of backticks it
 * holds, none of it (```, |, #, <html>) is read as Markdown and the block cannot be closed early.
 */
function codeBlock(text) {
    const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
    const fence = "`".repeat(Math.max(3, longest + 1));
    return [fence, text.replace(/\r\n?/g, "\n"), fence];
}
/** A value from a server (a version, a name) must stay in its cell: no pipe, no line break. */
function tableCell(value) {
    return value.replace(/\|/g, "\\|").replace(/[\r\n]+/g, " ");
}

;// CONCATENATED MODULE: ./src/restore/summary.ts



const summary_seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
/** What to look at when a phase of the restore fails: the summary is often read without the log. */
const summary_ADVICE = {
    inputs: "Fix what the error names; the firewall was not opened.",
    download: "Check `run-id` (or `workflow`), `artifact-name`, and that `github-token` may read the repository's actions (`permissions: actions: read`). The firewall was not opened.",
    scalingo: "Check the `api-token` secret, the `database` ID and the `region`.",
    "ip-lookup": "Set `runner-ip`, or `ip-lookup-urls` to services reachable from the runner.",
    firewall: "Check the database's firewall rules in the dashboard (at most 30); remove unused ones.",
    "pg-dump-client": "Install the PostgreSQL client of the dump's major before this step.",
    reachability: "Check the rule's IP is the runner's egress address and raise `reachable-timeout`.",
    restore: "Read the error: a fresh database is left for inspection (drop it when done); a named target is unchanged.",
    verify: "The restored database does not hold the manifest's rows: do not switch over to it.",
};
function ruleLine(r) {
    if (!r.ruleCreated)
        return r.ruleId ? "an existing rule was reused and left in place" : "no rule was added";
    const open = ruleOpenMs(r);
    return open === undefined ? "added, **not removed by this step** (the post step removes it)" : `added and removed: open ${summary_seconds(open)}`;
}
function targetLine(r) {
    if (!r.target)
        return undefined;
    if (r.dropped)
        return `\`${r.target}\` (created, checked, dropped: drop-after)`;
    return `\`${r.target}\`${r.created ? " (created by this run)" : " (restored over, in one transaction)"}`;
}
/** The restore's job summary as Markdown: no row value ever, only names and numbers. */
function restoreSummaryMarkdown(r) {
    const ok = !r.failedPhase;
    const rows = [
        ["Database", `\`${r.database}\` (${r.region})`],
        ["Server version", r.serverVersion],
        ["Dump", r.dumpName && `${tableCell(r.dumpName)}${r.source ? ` from ${tableCell(r.source)}` : ""}`],
        ["Format", r.format && `${r.format}${r.encrypted ? ", encrypted (age)" : ""}`],
        ["sha256", r.sha256 && `\`${r.sha256}\` ${r.sha256Checked ? "(matches the manifest)" : "(no manifest: not checked)"}`],
        ["pg_restore version", r.pgRestoreVersion],
        ["Restored into", targetLine(r)],
        [
            "Tables, rows",
            r.tables === undefined
                ? undefined
                : `${formatCount(r.tables)} table(s), ${formatCount(r.rows ?? 0)} row(s)${r.compared !== undefined ? `: each of the ${formatCount(r.compared)} table(s) in the manifest holds exactly its rows` : ""}`,
        ],
        ["Restore time", r.restoreMs === undefined ? undefined : summary_seconds(r.restoreMs)],
        ["Runner IP", r.runnerIp],
        ["Firewall rule", ruleLine(r)],
    ];
    const lines = [`## ${ok ? "✅" : "❌"} Scalingo PostgreSQL restore ${ok ? "succeeded" : "failed"}`, ""];
    if (!ok && r.failedPhase) {
        lines.push(`**Failed during: ${r.failedPhase}.** ${summary_ADVICE[r.failedPhase] ?? ""}`, "");
        if (r.error)
            lines.push(...codeBlock(r.error), "");
    }
    lines.push("| | |", "|---|---|", ...rows.filter(([, v]) => v).map(([k, v]) => `| ${k} | ${tableCell(v)} |`), "");
    return lines.join("\n");
}

;// CONCATENATED MODULE: ./src/restore/main.ts












const log = actionLog();
/** The restore action's main step: inputs, the restore, then outputs and summary, with cancellation handled. */
async function runRestoreMain(deps = actionMainDeps(), ahead) {
    try {
        await restoreStep(deps, ahead);
    }
    finally {
        // A hash still running when the inputs were refused (or the run took another file) must not hold the step.
        await ahead?.stop();
    }
}
async function restoreStep(deps, ahead) {
    const input = inputsOf(deps);
    // Masked before anything else runs, whatever the other inputs hold.
    for (const secret of ["api-token", "decryption-identity", "github-token"]) {
        const value = input(secret).trim();
        if (value)
            core/* setSecret */.Pq(value);
    }
    // The S3 source's credentials: masked before the inputs are parsed, as the backup does with `s3-url`.
    if (input("s3-uri").trim())
        maskCredentials(deps.env, core/* setSecret */.Pq);
    let config;
    try {
        config = parseRestoreConfig(input, deps.env, (0,external_node_os_.availableParallelism)());
    }
    catch (error) {
        core/* setFailed */.C1((0,errors/* errorMessage */.gJ)(error));
        return;
    }
    const run = { database: config.database, region: config.region, durationsMs: {} };
    const session = { teardown: new Teardown((what, error) => core/* warning */.$e(`Could not ${what}: ${(0,errors/* errorMessage */.gJ)(error)}`)) };
    const stopOnSignal = onCancel(session, run, deps);
    try {
        await restore(config, session, run, { state: deps.state, log, setSecret: core/* setSecret */.Pq, env: deps.env, newClient: deps.newClient, run: deps.run, ahead });
        log.endSection();
        core/* info */.pq(`Restore done: ${run.target}${run.dropped ? " (dropped after the check)" : ""}.`);
    }
    catch (error) {
        log.endSection();
        run.error = (0,errors/* errorMessage */.gJ)(error);
        run.failedPhase ??= error instanceof errors/* ActionError */.lZ ? error.phase : "restore";
        core/* setFailed */.C1(run.error);
    }
    finally {
        stopOnSignal();
        log.endSection();
        for (const [name, value] of Object.entries(restoreOutputs(run)))
            core/* setOutput */.uH(name, value);
        await writeSummary(run, deps.env);
    }
}
function writeSummary(run, env) {
    return writeJobSummary(() => restoreSummaryMarkdown(run), env);
}
/** A cancelled job: the teardown first (runner/cancellation.ts: pg_restore, the private folder, the rule), then the summary and the exit. */
function onCancel(session, run, deps) {
    return onCancellation({
        teardown: session.teardown,
        signals: deps.signals,
        exit: deps.exit,
        onSignal: (signal) => {
            log.endSection();
            core/* warning */.$e(`Received ${signal}: stopping pg_restore, removing the private folder and the firewall rule.`);
        },
        afterTeardown: async (signal) => {
            run.failedPhase ??= "restore";
            run.error = `Cancelled by ${signal}.`;
            await writeSummary(run, deps.env);
            core/* setFailed */.C1(`The restore was cancelled (${signal}).`);
        },
    });
}

;// CONCATENATED MODULE: ./src/restore/entry.ts
// What the restore's entry loads once the dump's hash has started: one import(), so that the
// modules both need (runner/log.ts) are bundled in one chunk, not copied into two.




/***/ }),

/***/ 26346:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  zK: () => (/* binding */ obtainLocal),
  K1: () => (/* binding */ openManifestFile),
  WT: () => (/* binding */ prepareDump),
  qm: () => (/* binding */ privateFolder)
});

// EXTERNAL MODULE: external "node:fs/promises"
var promises_ = __webpack_require__(51455);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(76760);
// EXTERNAL MODULE: ./src/errors.ts
var errors = __webpack_require__(83916);
// EXTERNAL MODULE: ./src/manifest/manifest.ts
var manifest_manifest = __webpack_require__(51336);
// EXTERNAL MODULE: external "node:fs"
var external_node_fs_ = __webpack_require__(73024);
// EXTERNAL MODULE: external "node:stream"
var external_node_stream_ = __webpack_require__(57075);
// EXTERNAL MODULE: external "node:stream/promises"
var external_node_stream_promises_ = __webpack_require__(46466);
// EXTERNAL MODULE: external "node:zlib"
var external_node_zlib_ = __webpack_require__(38522);
// EXTERNAL MODULE: ./src/naming.ts
var naming = __webpack_require__(28499);
// EXTERNAL MODULE: ./src/runner/commands.ts
var commands = __webpack_require__(46342);
// EXTERNAL MODULE: ./src/runner/files.ts
var files = __webpack_require__(40869);
;// CONCATENATED MODULE: ./src/postgres/verify.ts









const COMPLETE = "-- PostgreSQL database dump complete";
const TAIL_BYTES = 4096;
/**
 * A dump is only worth uploading if it can be read back: archive formats must list their table of
 * contents, a plain dump must end with pg_dump's completion line. pg_dump compresses a plain dump
 * as one stream, so that line is read through the decompression, which also checks the stream.
 */
async function verifyDump(format, compress, dumpPath, pgDump, run) {
    if (format === "plain") {
        const method = compressionMethod(compress);
        const tail = await plainTail(dumpPath, method, run);
        if (!tail.includes(COMPLETE)) {
            throw new ActionError("verify", `The plain dump${method === "none" ? "" : ` (${method})`} does not end with pg_dump's completion line: it is incomplete.`);
        }
        return method === "none" ? "plain SQL dump complete" : `plain SQL dump complete (${method})`;
    }
    const pgRestore = path.join(path.dirname(pgDump), "pg_restore");
    const result = await run(pgRestore, ["--list", dumpPath], { silent: true });
    if (result.code !== 0)
        throw new ActionError("verify", `pg_restore --list could not read the dump: ${result.stderr.trim()}`);
    const entries = result.stdout.split("\n").filter((l) => l.trim() && !l.startsWith(";"));
    const data = entries.filter((l) => / (TABLE DATA|BLOBS|LARGE OBJECTS?) /.test(l)).length;
    return `${entries.length} archive entries, ${data} with data`;
}
/** The last bytes of the SQL text. gzip is in Node; lz4 and zstd through their own command-line tools. */
async function plainTail(file, method, run) {
    if (method === "none")
        return readTail(file, TAIL_BYTES);
    const tail = new Tail(TAIL_BYTES);
    if (method === "gzip") {
        try {
            await pipeline(createReadStream(file), createGunzip(), tail.writable());
        }
        catch (error) {
            throw new ActionError("verify", `The plain dump is not a complete gzip stream: ${errorMessage(error)}.`);
        }
        return tail.text();
    }
    // lz4 and zstd are packaged on every Debian/Ubuntu runner; Node has no lz4, and its zstd is experimental.
    const result = await run(method, ["-d", "-c", file], { silent: true, timeoutSeconds: LONG_TIMEOUT_SECONDS, onStdout: (c) => tail.push(c) });
    if (result.code === 127) {
        throw new ActionError("verify", `Checking a ${method}-compressed plain dump needs the \`${method}\` program: install it, or set \`verify: false\`.`);
    }
    if (result.code !== 0)
        throw new ActionError("verify", `The plain dump is not a complete ${method} stream: ${result.stderr.trim()}`);
    return tail.text();
}
/**
 * A compressed plain dump, decompressed to `out` for psql (which reads only SQL text): gzip in
 * Node, lz4 and zstd with their own tools. Returns `file` itself when it is not compressed.
 */
async function decompressedPlain(file, compress, out, run) {
    const method = (0,naming/* compressionMethod */.cv)(compress);
    if (method === "none")
        return file;
    // A broken stream leaves a partial plaintext copy: removed before the failure is reported.
    if (method === "gzip") {
        try {
            await (0,external_node_stream_promises_.pipeline)((0,external_node_fs_.createReadStream)(file), (0,external_node_zlib_.createGunzip)(), (0,external_node_fs_.createWriteStream)(out, { mode: 0o600 }));
        }
        catch (error) {
            await (0,files/* removeQuietly */.S2)(out);
            throw new errors/* ActionError */.lZ("restore", `Could not decompress the plain dump (gzip): ${(0,errors/* errorMessage */.gJ)(error)}.`);
        }
        return out;
    }
    const args = method === "zstd" ? ["-d", "-q", "-f", "-o", out, file] : ["-d", "-q", "-f", file, out];
    const result = await run(method, args, { silent: true, timeoutSeconds: commands/* LONG_TIMEOUT_SECONDS */.lc });
    if (result.code !== 0) {
        await (0,files/* removeQuietly */.S2)(out);
        throw new errors/* ActionError */.lZ("restore", `Could not decompress the plain dump with ${method} (exit ${result.code}): ${result.stderr.trim()}`);
    }
    return out;
}
/** Keeps the last `size` bytes of a stream in one fixed buffer. */
class Tail {
    size;
    buffer;
    length = 0;
    constructor(size) {
        this.size = size;
        this.buffer = Buffer.alloc(size);
    }
    push(chunk) {
        if (chunk.length >= this.size) {
            chunk.copy(this.buffer, 0, chunk.length - this.size);
            this.length = this.size;
            return;
        }
        const keep = Math.min(this.length, this.size - chunk.length);
        this.buffer.copy(this.buffer, 0, this.length - keep, this.length);
        chunk.copy(this.buffer, keep);
        this.length = keep + chunk.length;
    }
    text() {
        return this.buffer.subarray(0, this.length).toString("utf8");
    }
    writable() {
        return new Writable({
            write: (chunk, _encoding, done) => {
                this.push(chunk);
                done();
            },
        });
    }
}

// EXTERNAL MODULE: ./node_modules/age-encryption/dist/index.js + 48 modules
var dist = __webpack_require__(43389);
// EXTERNAL MODULE: ./src/restore/hash-ahead.ts
var hash_ahead = __webpack_require__(50156);
;// CONCATENATED MODULE: ./src/restore/dump-file.ts











const MAGIC = [
    [Buffer.from([0x1f, 0x8b]), "gzip"],
    [Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), "zstd"],
    [Buffer.from([0x04, 0x22, 0x4d, 0x18]), "lz4"],
];
/** custom starts with PGDMP; a tar has `ustar` at 257 (the directory format's tar holds `<dir>/toc.dat`). */
function sniff(head) {
    if (head.subarray(0, 5).toString("latin1") === "PGDMP")
        return { format: "custom", compression: "none" };
    if (head.subarray(257, 262).toString("latin1") === "ustar") {
        const first = head.subarray(0, 100).toString("latin1").replace(/\0.*$/s, "");
        return { format: first.includes("/") || !first.endsWith(".dat") ? "directory" : "tar", compression: "none" };
    }
    for (const [magic, compression] of MAGIC)
        if (head.subarray(0, magic.length).equals(magic))
            return { format: "plain", compression };
    const text = head.toString("utf8");
    if (/^(--|SET |CREATE |\\connect|BEGIN)/m.test(text))
        return { format: "plain", compression: "none" };
    return undefined;
}
async function readHead(file, bytes = 512) {
    const handle = await (0,promises_.open)(file, "r");
    try {
        const buffer = Buffer.alloc(bytes);
        const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
        return buffer.subarray(0, bytesRead);
    }
    finally {
        await handle.close();
    }
}
/** sha256 of the file against the manifest's: a dump that is not the one the backup wrote is never restored. */
async function checkSha256(file, manifest, alreadyChecked, ahead) {
    // The download hashed the bytes as they came: a second read of a large dump would cost a core for nothing.
    if (manifest && alreadyChecked)
        return manifest.dump.sha256;
    const sha256 = await (0,hash_ahead/* sha256Of */.Bj)(file, ahead);
    if (manifest && sha256 !== manifest.dump.sha256)
        throw new errors/* ActionError */.lZ("inputs", `The dump's sha256 is ${sha256}, the manifest's ${manifest.dump.sha256}: the file is not the one the backup wrote (corrupted or replaced). Nothing was opened; restore another backup.`);
    return sha256;
}
/** Decrypts an age file into `out` (created here, 0600), as a stream: the dump is never held in memory. */
async function decryptFile(file, out, identity) {
    if (!identity)
        throw new errors/* ActionError */.lZ("inputs", "`decryption-identity`: the dump is encrypted (age): set it to the secret holding the age identity of one of the backup's recipients.");
    const decrypter = new dist/* Decrypter */.Hz();
    decrypter.addIdentity(identity);
    try {
        const encrypted = external_node_stream_.Readable.toWeb((0,external_node_fs_.createReadStream)(file, { highWaterMark: 64 * 1024 }));
        const plain = await decrypter.decrypt(encrypted);
        await (0,external_node_stream_promises_.pipeline)(external_node_stream_.Readable.fromWeb(plain), (0,external_node_fs_.createWriteStream)(out, { flags: "wx", mode: 0o600 }));
    }
    catch (error) {
        await (0,files/* removeQuietly */.S2)(out);
        const message = (0,errors/* errorMessage */.gJ)(error);
        const wrongKey = /no identity matched|identity|stanza|header/i.test(message);
        throw new errors/* ActionError */.lZ("inputs", wrongKey
            ? "`decryption-identity` does not decrypt the dump: it is not the identity of any of the backup's recipients. Nothing was opened."
            : `The encrypted dump does not decrypt (${message}): it is damaged. Nothing was opened.`);
    }
}
/** Whether the stored file is age-encrypted, from its first bytes. */
async function isEncryptedFile(file) {
    return (0,manifest_manifest/* isAgeEncrypted */.OI)(await readHead(file, 64));
}
/** The directory format's tar, unpacked into `dir` (private); returns the dump's folder. */
async function unpackDirectory(file, dir, run = commands/* runCommand */.d1) {
    const list = await run("tar", ["-tf", file], { silent: true, timeoutSeconds: commands/* LONG_TIMEOUT_SECONDS */.lc });
    const top = [
        ...new Set(list.stdout
            .split("\n")
            .filter(Boolean)
            .map((entry) => entry.split("/")[0])),
    ];
    if (list.code !== 0 || top.length !== 1 || !top[0] || top[0] === ".." || top[0].startsWith("/"))
        throw new errors/* ActionError */.lZ("inputs", "The directory dump's tar does not hold exactly one folder: it is not a backup this action wrote.");
    const result = await run("tar", ["-xf", file, "-C", dir, "--no-same-owner", "--no-same-permissions"], { timeoutSeconds: commands/* LONG_TIMEOUT_SECONDS */.lc });
    if (result.code !== 0)
        throw new errors/* ActionError */.lZ("inputs", `Unpacking the directory dump's tar failed (exit ${result.code}): ${result.stderr.trim()}`);
    return external_node_path_.join(dir, top[0]);
}

;// CONCATENATED MODULE: ./src/restore/prepare.ts







/** A private folder for downloads and plaintext (0700), in RUNNER_TEMP; the caller removes it on every path. */
async function privateFolder(tempDir) {
    return (0,promises_.mkdtemp)(external_node_path_.join(tempDir, "scalingo-pg-dump-restore-"));
}
/** `path`: the file, and its manifest beside it (`<file>.manifest.json[.age]`) when there is one. */
async function obtainLocal(file, identity) {
    if (!(await (0,files/* exists */.t2)(file)))
        throw new errors/* ActionError */.lZ("inputs", `\`path\`: ${file} does not exist.`);
    // Beside it under any of its names (a manifest downloaded by hand keeps its artifact's `-retry` name).
    for (const name of (0,manifest_manifest/* manifestNames */.qI)(external_node_path_.basename(file))) {
        const candidate = external_node_path_.join(external_node_path_.dirname(file), name);
        if (await (0,files/* exists */.t2)(candidate))
            return { file, name: external_node_path_.basename(file), manifest: await openManifestFile(candidate, identity), sha256Checked: false };
    }
    return { file, name: external_node_path_.basename(file), sha256Checked: false };
}
async function openManifestFile(file, identity) {
    try {
        return await (0,manifest_manifest/* readManifestFile */.oe)(file, identity);
    }
    catch (error) {
        if (error instanceof manifest_manifest/* ManifestError */.Sh)
            throw new errors/* ActionError */.lZ("inputs", `${external_node_path_.basename(file)}: ${error.message} Nothing was opened.`);
        throw error;
    }
}
/** sha256, decryption, format, unpacking: everything that can fail without a connection. */
async function prepareDump(dump, o) {
    const { manifest } = dump;
    const sha256 = await checkSha256(dump.file, manifest, dump.sha256Checked, o.ahead);
    const encrypted = await isEncryptedFile(dump.file);
    let file = dump.file;
    if (encrypted) {
        file = external_node_path_.join(o.folder, "dump.decrypted");
        await decryptFile(dump.file, file, o.identity);
    }
    const sniffed = sniff(await readHead(file));
    if (!sniffed)
        throw new errors/* ActionError */.lZ("inputs", `${dump.name} is not a PostgreSQL dump (custom, directory tar, tar or plain SQL) this action can restore.`);
    if (manifest && manifest.dump.format !== sniffed.format && !(manifest.dump.format === "tar" && sniffed.format === "directory"))
        throw new errors/* ActionError */.lZ("inputs", `${dump.name} reads as a ${sniffed.format} dump, but its manifest says ${manifest.dump.format}: it is not the file the backup wrote.`);
    const format = manifest?.dump.format ?? sniffed.format;
    let source = file;
    if (format === "directory")
        source = await unpackDirectory(file, o.folder, o.run);
    if (format === "plain" && sniffed.compression !== "none")
        source = await decompressedPlain(file, sniffed.compression, external_node_path_.join(o.folder, "dump.sql"), o.run);
    const major = manifest ? (0,manifest_manifest/* dumpMajor */.sV)(manifest) : undefined;
    return { source, format, compression: sniffed.compression, encrypted, sha256, ...(major ? { major } : {}), ...(manifest ? { manifest } : {}) };
}


/***/ }),

/***/ 46342:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   d1: () => (/* binding */ runCommand),
/* harmony export */   lc: () => (/* binding */ LONG_TIMEOUT_SECONDS)
/* harmony export */ });
/* unused harmony exports DEFAULT_TIMEOUT_SECONDS, KILL_AFTER_SECONDS, spawnCommand, childEnv */
/* harmony import */ var node_child_process__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(31421);
/* harmony import */ var node_child_process__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_child_process__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_string_decoder__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(46193);
/* harmony import */ var node_string_decoder__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__webpack_require__.n(node_string_decoder__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var _actions_exec__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(81260);



/** Probes and local commands answer in seconds; the slow ones (apt) say how long they may take. */
const DEFAULT_TIMEOUT_SECONDS = 120;
/**
 * For work whose length grows with the database (tar, restore): GitHub's limit for a whole job.
 * The firewall is closed by then; this only ends a hang.
 */
const LONG_TIMEOUT_SECONDS = 6 * 3600;
const KILL_AFTER_SECONDS = 10;
/** What coreutils `timeout` exits with when the time ran out (124), or when TERM was not enough (137). */
const TIMED_OUT = [124, 137];
/**
 * Through @actions/exec, like every action: the command line is logged and output streamed as it
 * comes. A program that cannot be started answers 127, as a shell would, instead of throwing.
 * @actions/exec has no timeout and no handle on the child, so on Linux the command runs under
 * coreutils `timeout`; a command that must stop on `signal` needs the handle: see spawnCommand.
 */
const runCommand = async (file, args, options = {}) => {
    const seconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    if (options.signal)
        return spawnCommand(file, args, options);
    const [bin, argv] = bounded(file, args, seconds);
    const out = new node_string_decoder__WEBPACK_IMPORTED_MODULE_1__.StringDecoder("utf8");
    const err = new node_string_decoder__WEBPACK_IMPORTED_MODULE_1__.StringDecoder("utf8");
    let stdout = "";
    let stderr = "";
    try {
        const code = await (0,_actions_exec__WEBPACK_IMPORTED_MODULE_2__/* .exec */ .m)(bin, argv, {
            env: childEnv(options.env ?? {}),
            ignoreReturnCode: true,
            silent: options.silent ?? false,
            listeners: {
                stdout: (data) => {
                    if (options.onStdout)
                        options.onStdout(data);
                    else
                        stdout += out.write(data);
                },
                stderr: (data) => {
                    stderr += err.write(data);
                },
            },
        });
        return withTimeoutNote({ code, stdout: stdout + out.end(), stderr: stderr + err.end() }, bin !== file, seconds);
    }
    catch (error) {
        return { code: 127, stdout: "", stderr: error instanceof Error ? error.message : String(error) };
    }
};
/**
 * The same, in a plain spawn: @actions/exec gives no handle to stop a child, and a stalled apt or
 * curl must stop as soon as the run fails elsewhere, not when its timeout ends. The child leads its
 * own process group so the stop reaches what it started (apt's download methods, dpkg).
 */
function spawnCommand(file, args, options = {}) {
    const seconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    const [bin, argv] = bounded(file, args, seconds);
    const log = !options.silent;
    if (log)
        process.stdout.write(`[command]${[file, ...args].join(" ")}\n`);
    return new Promise((resolve) => {
        if (options.signal?.aborted)
            return resolve({ code: 130, stdout: "", stderr: "not started: the run was stopped" });
        const child = (0,node_child_process__WEBPACK_IMPORTED_MODULE_0__.spawn)(bin, argv, { env: childEnv(options.env ?? {}), stdio: ["ignore", "pipe", "pipe"], detached: true });
        options.onSpawn?.(child.pid);
        let stdout = "";
        let stderr = "";
        let stopped = false;
        child.stdout.on("data", (data) => {
            if (options.onStdout)
                options.onStdout(data);
            else
                stdout += data.toString();
            if (log)
                process.stdout.write(data);
        });
        child.stderr.on("data", (data) => {
            stderr += data.toString();
            if (log)
                process.stderr.write(data);
        });
        const signalGroup = (signal) => {
            try {
                if (child.pid)
                    process.kill(-child.pid, signal);
            }
            catch {
                child.kill(signal);
            }
        };
        let killer;
        const stop = () => {
            stopped = true;
            signalGroup("SIGTERM");
            killer = setTimeout(() => signalGroup("SIGKILL"), KILL_AFTER_SECONDS * 1000);
        };
        options.signal?.addEventListener("abort", stop, { once: true });
        const finish = (result) => {
            options.signal?.removeEventListener("abort", stop);
            clearTimeout(killer);
            resolve(result);
        };
        child.on("error", (error) => finish({ code: 127, stdout, stderr: error.message }));
        child.on("close", (code, signal) => {
            if (stopped)
                return finish({ code: code ?? 143, stdout, stderr: `${stderr}\nstopped: the run failed elsewhere` });
            finish(withTimeoutNote({ code: code ?? (signal === "SIGKILL" ? 137 : 143), stdout, stderr }, bin !== file, seconds));
        });
    });
}
/**
 * Linux runners all have `timeout` (coreutils, or BusyBox's in small containers, hence the short
 * options). Under sudo it goes inside, so it runs as root too: the runner's user may not be allowed
 * to signal the root processes it must stop. Elsewhere nothing slow runs (no install), so as is.
 */
function bounded(file, args, seconds) {
    if (process.platform !== "linux")
        return [file, args];
    const limit = ["-k", String(KILL_AFTER_SECONDS), String(seconds)];
    if (file === "sudo" && args[0] === "-n")
        return ["sudo", ["-n", ...preserveProxy(), "timeout", ...limit, ...args.slice(1)]];
    return ["timeout", [...limit, file, ...args]];
}
function withTimeoutNote(result, wasBounded, seconds) {
    if (!wasBounded || !TIMED_OUT.includes(result.code))
        return result;
    return { ...result, stderr: `${result.stderr}\ntimed out after ${seconds} s` };
}
/**
 * The environment every child process gets: what programs need to run, plus `extra`, and nothing
 * else. The runner's environment holds INPUT_API-TOKEN, ACTIONS_RUNTIME_TOKEN and sometimes the
 * OIDC request token; no child (pg_dump, sudo, apt and its maintainer scripts) needs them.
 */
function childEnv(extra) {
    // No PG* variable: pg_dump gets the connection's, decided once (postgres/tls.ts honours the
    // runner's PGSSLMODE, PGSSLROOTCERT, PGCHANNELBINDING and PGREQUIREAUTH there). APT_CONFIG:
    // apt's own configuration file, set by hosts that configure apt through it (proxies, mirrors, roots).
    // RUNNER_TRACKING_ID: the runner reaps the processes that carry it when the job ends ("Cleaning
    // up orphan processes"); a pg_dump, postgres or apt a killed step left behind must carry it too.
    const keep = ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "APT_CONFIG", "RUNNER_TRACKING_ID", ...PROXY_VARIABLES];
    const env = {};
    for (const key of keep) {
        const value = process.env[key];
        if (value !== undefined)
            env[key] = value;
    }
    return { ...env, ...extra };
}
/**
 * A runner behind a proxy reaches apt.postgresql.org only through it: curl and apt read these
 * (apt when no Acquire::*::Proxy is configured), so the install's children keep them.
 */
const PROXY_VARIABLES = ["https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"];
/**
 * sudo resets the environment; naming the proxy variables keeps them for root's curl and apt. By
 * name, not as `env https_proxy=...` words: a proxy URL may hold a password, and argv is public.
 */
function preserveProxy() {
    const present = PROXY_VARIABLES.filter((name) => process.env[name] !== undefined);
    return present.length ? [`--preserve-env=${present.join(",")}`] : [];
}


/***/ })

};
