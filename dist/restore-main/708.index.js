export const id = 708;
export const ids = [708];
export const modules = {

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

/***/ 47708:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   actionLog: () => (/* binding */ actionLog),
/* harmony export */   failUnexpected: () => (/* binding */ failUnexpected),
/* harmony export */   writeJobSummary: () => (/* binding */ writeJobSummary)
/* harmony export */ });
/* harmony import */ var _actions_core__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(33838);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(83916);


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
            _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .endGroup */ .N4();
        open = false;
    };
    return {
        info: _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .info */ .pq,
        warning: _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .warning */ .$e,
        debug: _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .debug */ .Yz,
        section(title) {
            endSection();
            _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .startGroup */ .Oh(title);
            open = true;
        },
        endSection,
    };
}
/** The job summary, when the runner gives one (GITHUB_STEP_SUMMARY); a failure to write it is a warning, never the step's failure. */
async function writeJobSummary(markdown, env) {
    if (!env.GITHUB_STEP_SUMMARY)
        return;
    await _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .summary */ .z
        .addRaw(markdown(), true)
        .write()
        .catch((error) => _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .warning */ .$e(`Could not write the job summary: ${(0,_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .errorMessage */ .gJ)(error)}`));
}
/**
 * For the entry points: whatever escapes a step (a bug, or the runner's files gone) fails it with
 * one message a user can act on; the stack goes to the debug log, not to their eyes.
 */
function failUnexpected(step, error) {
    if (error instanceof Error && error.stack)
        _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .debug */ .Yz(error.stack);
    const next = step === "main"
        ? "If a firewall rule was added, the post step removes it."
        : "Check the database's firewall rules in the Scalingo dashboard and remove this run's rule if it is still there.";
    _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .setFailed */ .C1(`Unexpected error in the ${step} step: ${(0,_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .errorMessage */ .gJ)(error)}. Please report it (with the debug log) at https://github.com/org/scalingo-pg-dump/issues. ${next}`);
}


/***/ })

};
