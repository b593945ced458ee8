// Small interfaces shared across domains: the action passes the real ones (core.info, core.saveState)
// and tests pass their own, so modules never reach for a global.

/** Where main leaves what post needs: `core.saveState`/`core.getState` in the action. */
export interface StateStore {
  save(key: string, value: string): void;
  get(key: string): string;
}

export interface Log {
  info(message: string): void;
  warning(message: string): void;
  /** Diagnostics (request ids, retries, timings): `core.debug` in the action. */
  debug?(message: string): void;
  /** Starts the next sequential section of the log (a collapsible group in the action). */
  section?(title: string): void;
}
