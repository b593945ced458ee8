// Work started at once where the first failure stops the rest: the client install and the wait for
// the database while the rule propagates (the rule must not stay open for a run already lost).
// The run's teardown stops them too. Every task settles before the failure is thrown, so nothing
// starts after the clean-up.

export interface FirstFailureStops {
  /** Given to every task: aborted by the first failure or by the run's end. */
  readonly signal: AbortSignal;
  /** Tracks a task: its failure stops the others. */
  track<T>(work: Promise<T>): Promise<T>;
  /** Waits until every task settled; then the failure that stopped the others (not their "stopped"), or their results. */
  settle<T extends unknown[]>(...tasks: { [K in keyof T]: Promise<T[K]> }): Promise<T>;
}

export function firstFailureStops(ending: AbortSignal): FirstFailureStops {
  const stop = new AbortController();
  return {
    signal: AbortSignal.any([stop.signal, ending]),
    track: (work) =>
      work.catch((error) => {
        stop.abort(error);
        throw error;
      }),
    settle: async <T extends unknown[]>(...tasks: { [K in keyof T]: Promise<T[K]> }) => {
      await Promise.allSettled(tasks);
      if (stop.signal.aborted) throw stop.signal.reason;
      return (await Promise.all(tasks)) as T;
    },
  };
}

/**
 * Work started at once where each task runs to its end: every task settles before anything is
 * thrown (none acquires after the clean-up), then the failure of the first task in the list that
 * failed, whichever failed first in time: the caller decides which failure the user reads first.
 */
export async function settleInOrder<T extends unknown[]>(...tasks: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(tasks);
  for (const result of settled) if (result.status === "rejected") throw result.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as T;
}
