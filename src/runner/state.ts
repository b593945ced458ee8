import * as core from "@actions/core";
import type { StateStore } from "../types.js";

/**
 * The runner's saved state: written by main with saveState, read back by post as STATE_<key>.
 * `core.getState` only sees what an earlier step saved, so what this process saved is remembered
 * here too: main's own guards ("already removed?") must see main's own writes.
 */
export function runnerState(): StateStore {
  const saved = new Map<string, string>();
  return {
    save: (key, value) => {
      saved.set(key, value);
      core.saveState(key, value);
    },
    get: (key) => saved.get(key) ?? core.getState(key),
  };
}

export const actionState: StateStore = runnerState();
