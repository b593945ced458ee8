import type { Teardown } from "./teardown.js";

// A cancelled job, as the runner cancels it: SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after
// that. Both actions' main steps handle it the same way: the run's teardown (writers, local
// plaintext, the rule, servers, in that order), then the step's own report, then the exit; the
// post step still runs if this was too late.

/** Where SIGINT and SIGTERM arrive: the process in the action, an emitter in in-process tests. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface CancellationOptions {
  teardown: Teardown;
  signals: SignalSource;
  /** Said as the signal arrives, before anything is undone. */
  onSignal(signal: NodeJS.Signals): void;
  /** After the teardown: the step's report (summary, failure) of the cancellation. */
  afterTeardown(signal: NodeJS.Signals): Promise<void>;
  /** Ends the step (process.exit in the action): what the run was doing must not go on. */
  exit(code: number): void;
}

/** Handles the first SIGINT or SIGTERM (a second one finds the teardown under way); returns the function that stops listening. */
export function onCancellation(o: CancellationOptions): () => void {
  let stopping = false;
  const handler = async (signal: NodeJS.Signals) => {
    if (stopping) return;
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
