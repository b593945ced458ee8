// The one place that knows how to undo what a run acquired, and in which order. Each step that
// acquires something registers its undo here as it acquires it; the catch, the cancellation
// handler and the `finally` all call run(). Node 24's AsyncDisposableStack would hold the undos,
// but not the order by kind the run needs, and Node 20 (which runs the tests here) lacks it.

/**
 * The order of a teardown. Writers stop first, so no file grows again after it is removed; local
 * plaintext goes next, before anything that may wait on the network (a rate-limited DELETE can
 * take a minute, past the runner's SIGKILL); then the firewall rule; servers last.
 */
export const TEARDOWN_ORDER = ["writers", "plaintext", "rule", "servers"] as const;
export type TeardownStage = (typeof TEARDOWN_ORDER)[number];

export type Undo = () => unknown;

/** One registered undo. */
export interface Deferred {
  /** Runs the undo now (once), and drops it: the thing is released before the run ends (the rule after pg_dump). */
  now(): Promise<void>;
  /** Drops it without running it: the thing is finished and kept (the final dump), or already gone. */
  release(): void;
}

interface Entry {
  stage: TeardownStage;
  what: string;
  undo: Undo;
}

export class Teardown {
  private readonly entries: Entry[] = [];
  private running: Promise<void> | undefined;
  private readonly stopping = new AbortController();

  /** `onError` says what could not be undone; one failed undo never stops the next. */
  constructor(private readonly onError: (what: string, error: unknown) => void) {}

  /** `what` names the undo for the error message: "stop pg_dump", "remove the dump's files". */
  defer(stage: TeardownStage, what: string, undo: Undo): Deferred {
    const entry: Entry = { stage, what, undo };
    this.entries.push(entry);
    let done: Promise<void> | undefined;
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
  run(): Promise<void> {
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
  get ending(): AbortSignal {
    return this.stopping.signal;
  }

  /** Whether anything is left to undo. */
  get pending(): number {
    return this.entries.length;
  }

  private async drain(): Promise<void> {
    while (this.entries.length) {
      for (const stage of TEARDOWN_ORDER) {
        const due = this.entries.filter((e) => e.stage === stage).reverse();
        // The undos of one stage are independent (several files, two servers): at once.
        await Promise.all(due.map((entry) => (this.take(entry) ? this.runOne(entry) : undefined)));
      }
    }
  }

  private take(entry: Entry): boolean {
    const at = this.entries.indexOf(entry);
    if (at < 0) return false;
    this.entries.splice(at, 1);
    return true;
  }

  private async runOne(entry: Entry): Promise<void> {
    try {
      await entry.undo();
    } catch (error) {
      this.onError(entry.what, error);
    }
  }
}
