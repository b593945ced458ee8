import { EventEmitter } from "node:events";
import { expect } from "vitest";
import type { MainDeps, PostDeps } from "../../src/runner/surroundings.js";
import { ScalingoClient } from "../../src/scalingo/client.js";
import type { ScalingoEmulator } from "../emulators/scalingo.js";

// A main step run in-process (either action's run() with its surroundings injected: inputs,
// environment, state, signals, exit), cancelled as the runner cancels a job; the scenarios both
// actions share.

/** The saved state, with a hook that sees every save as it happens (the test's clock for "now"). */
export class ObservedState {
  readonly saved = new Map<string, string>();
  private readonly listeners: ((key: string, value: string) => void)[] = [];
  save = (key: string, value: string): void => {
    this.saved.set(key, value);
    for (const listener of this.listeners) listener(key, value);
  };
  get = (key: string): string => this.saved.get(key) ?? "";
  onSave(listener: (key: string, value: string) => void): void {
    this.listeners.push(listener);
  }
}

export interface InProcessMain {
  state: ObservedState;
  /** SIGINT as the runner sends it, asynchronously (never inside the code that triggered it). */
  cancel(): void;
  /** Resolves with the code main exits with after a cancellation. */
  exited: Promise<number>;
  /** run() itself: in-process it goes on after exit(), which the real process would not. */
  running: Promise<void>;
}

/** Starts `main` with the test's surroundings; `inputs` as the runner passes them (trimmed by the reader, as core.getInput does). */
export function startInProcess(main: (deps: MainDeps) => Promise<void>, o: { env: NodeJS.ProcessEnv; inputs: Record<string, string> }): InProcessMain {
  const state = new ObservedState();
  const signals = new EventEmitter();
  let exit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => {
    exit = resolve;
  });
  const input = (name: string) => (o.inputs[name] ?? "").trim();
  const running = main({ env: o.env, state, exit, signals, input });
  running.catch(() => undefined);
  return { state, cancel: () => setImmediate(() => signals.emit("SIGINT", "SIGINT")), exited, running };
}

/** Runs a post step in-process on what main saved; says whether it built a Scalingo client (it does only when a rule is left). */
export async function postInProcess(
  post: (deps: PostDeps) => Promise<void>,
  o: { env: NodeJS.ProcessEnv; state: ObservedState; inputs: Record<string, string> },
): Promise<{ connected: boolean }> {
  let connected = false;
  await post({
    env: o.env,
    state: o.state,
    input: (name) => (o.inputs[name] ?? "").trim(),
    newClient: (options) => {
      connected = true;
      return new ScalingoClient(options);
    },
  });
  return { connected };
}

/** A main step in-process with what the cancellation scenarios look at. */
export interface CancellableStep extends InProcessMain {
  scalingo: ScalingoEmulator;
  /** What the step left where it writes (the dump folder, RUNNER_TEMP). */
  leftovers(): Promise<string[]>;
  post(): Promise<{ connected: boolean }>;
}

/**
 * Both actions, cancelled between the rule's request and its (delayed) answer: main stops there,
 * leaves nothing, and the rule created after its teardown looked for it is removed as soon as the
 * answer comes (should main still be there); post finds no rule either.
 */
export async function cancelBeforeTheRule(step: CancellableStep): Promise<void> {
  step.scalingo.addFault({ method: "POST", path: /firewall_rules/, delayMs: 1_500 });
  step.state.onSave((key) => {
    if (key === "rule-label") step.cancel();
  });
  expect(await step.exited).toBe(1);
  expect(await step.leftovers()).toEqual([]);
  await step.running;
  expect(step.scalingo.rules).toEqual([]);
  await step.post();
  expect(step.scalingo.rules).toEqual([]);
}

/** Both actions, cancelled during the wait for the database (a rule never applied): the rule is removed and nothing left before main exits; post has nothing to do. */
export async function cancelDuringTheWait(step: CancellableStep): Promise<void> {
  step.state.onSave((key, value) => {
    if (key === "rule-id" && value) step.cancel();
  });
  expect(await step.exited).toBe(1);
  expect(step.scalingo.rules).toEqual([]);
  expect(step.state.get("rule-removed")).toBe("true");
  expect(await step.leftovers()).toEqual([]);
  await step.running;
  expect(await step.post()).toEqual({ connected: false });
}
