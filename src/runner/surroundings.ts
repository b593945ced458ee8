import * as core from "@actions/core";
import type { ScalingoClient, ScalingoOptions } from "../scalingo/client.js";
import type { StateStore } from "../types.js";
import type { SignalSource } from "./cancellation.js";
import type { CommandRunner } from "./commands.js";
import { actionState } from "./state.js";

// What a step takes from its surroundings, for both actions: the action passes the real ones
// (process.env, core's state and inputs, the process's signals and exit), in-process tests their
// own, so the same run() is what the tests exercise.

/** A main step's surroundings. */
export interface MainDeps {
  env: NodeJS.ProcessEnv;
  state: StateStore;
  /** Ends the process after a cancellation (the runner's SIGKILL follows otherwise). */
  exit: (code: number) => void;
  signals: SignalSource;
  /** The step's inputs (core.getInput: INPUT_* in the process environment). */
  input?: (name: string) => string;
  /** Builds the Scalingo client: tests count the clients built, or point them elsewhere. */
  newClient?: (options: ScalingoOptions) => ScalingoClient;
  run?: CommandRunner;
}

/** A post step's surroundings. */
export type PostDeps = Pick<MainDeps, "env" | "state" | "input" | "newClient">;

export const actionMainDeps = (): MainDeps => ({ env: process.env, state: actionState, exit: (code) => process.exit(code), signals: process });

export const actionPostDeps = (): PostDeps => ({ env: process.env, state: actionState });

/** The step's inputs: the injected reader, or the runner's INPUT_* variables. */
export function inputsOf(deps: Pick<MainDeps, "input">): (name: string) => string {
  return deps.input ?? ((name) => core.getInput(name));
}
