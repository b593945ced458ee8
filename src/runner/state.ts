import * as core from "@actions/core";
import type { StateStore } from "../types.js";

/** The runner's saved state: written by main with saveState, read back by post as STATE_<key>. */
export const actionState: StateStore = { save: (key, value) => core.saveState(key, value), get: (key) => core.getState(key) };
