// What the restore's entry loads once the dump's hash has started: one import(), so that the
// modules both need (runner/log.ts) are bundled in one chunk, not copied into two.
export { failUnexpected } from "../runner/log.js";
export { runRestoreMain } from "./main.js";
