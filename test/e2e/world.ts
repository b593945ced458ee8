import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import * as path from "node:path";
import { type ArtifactEmulator, startArtifactEmulator } from "../emulators/artifact.js";
import { type IpEmulator, startIpEmulator } from "../emulators/public-ip.js";
import { type ScalingoEmulator, type ScalingoEmulatorOptions, startScalingoEmulator } from "../emulators/scalingo.js";
import { seedFixture } from "../support/fixture.js";
import { type PgServer, startPostgres } from "../support/postgres.js";
import { createRunnerContext, type RunnerContext, type StepResult } from "../support/runner.js";

/**
 * What the end-to-end scenarios of one test file share: a real PostgreSQL holding the fixture,
 * the IP lookup and the artifact service. Each scenario gets its own Scalingo emulator (its own
 * knobs and firewall) and its own simulated runner job, so state never leaks between them.
 */
export interface World {
  pg: PgServer;
  ip: IpEmulator;
  artifacts: ArtifactEmulator;
  apiToken: string;
  dbPassword: string;
  database: string;
  dbName: string;
  /** What every scenario's Scalingo emulator starts from (for tests that run several at once). */
  emulatorBase: ScalingoEmulatorOptions;
  scenario(o?: Partial<ScalingoEmulatorOptions>, runner?: { repositoryPrivate?: boolean | null; actionDir?: string }): Promise<Scenario>;
  close(): Promise<void>;
}

export interface Scenario {
  scalingo: ScalingoEmulator;
  ctx: RunnerContext;
  /** The inputs a minimal workflow would pass, pointed at the emulators. */
  inputs: Record<string, string>;
  /** Every secret a step must never print or write: API token, password, each bearer seen. */
  secrets(): string[];
  /** Dump files left in the runner's temp folder. */
  leftovers(): Promise<string[]>;
}

/** A real PostgreSQL holding the fixture, and what a Scalingo emulator in front of it needs. */
export interface SeededDatabase {
  pg: PgServer;
  apiToken: string;
  dbPassword: string;
  database: string;
  dbName: string;
  /** The options every Scalingo emulator of this database starts from. */
  scalingo: ScalingoEmulatorOptions;
}

export async function startSeededDatabase(): Promise<SeededDatabase> {
  const pg = await startPostgres();
  const apiToken = `tk-us-${randomBytes(18).toString("hex")}`;
  const dbPassword = `pw-${randomBytes(12).toString("base64url")}`;
  const dbName = "shop_production";
  const database = "shop-db-123";
  const scalingo = { apiToken, databaseId: database, pg, dbName, dbUser: "shop_user", dbPassword };
  // The first emulator creates the role and database the fixture goes into.
  await (await startScalingoEmulator(scalingo)).close();
  await seedFixture(pg, dbName, "shop_user");
  return { pg, apiToken, dbPassword, database, dbName, scalingo };
}

/** The inputs a minimal workflow passes, pointed at the emulators. */
export function emulatorInputs(db: SeededDatabase, scalingo: ScalingoEmulator, ip: IpEmulator): Record<string, string> {
  return { "api-token": db.apiToken, database: db.database, "auth-url": scalingo.authUrl, "ip-lookup-urls": ip.url, "reachable-timeout": "60" };
}

export async function startWorld(): Promise<World> {
  const db = await startSeededDatabase();
  const { pg, apiToken, dbPassword, database, dbName, scalingo: base } = db;
  const [ip, artifacts] = await Promise.all([startIpEmulator(), startArtifactEmulator()]);
  const opened: { close(): Promise<unknown> }[] = [];

  const scenario = async (
    o: Partial<ScalingoEmulatorOptions> = {},
    runner: { repositoryPrivate?: boolean | null; actionDir?: string } = {},
  ): Promise<Scenario> => {
    // Scenarios run one after another: the previous one's emulator goes first, so none of its
    // delayed firewall changes can land on the shared server in the middle of this one.
    await Promise.allSettled(opened.splice(0).map((x) => x.close()));
    const scalingo = await startScalingoEmulator({ ...base, ...o });
    const ctx = await createRunnerContext({
      artifact: artifacts.newRun(),
      repositoryPrivate: runner.repositoryPrivate === undefined ? true : runner.repositoryPrivate,
      ...(runner.actionDir ? { actionDir: runner.actionDir } : {}),
    });
    opened.push(scalingo, { close: () => ctx.cleanup() });
    const inputs = emulatorInputs(db, scalingo, ip);
    return {
      scalingo,
      ctx,
      inputs,
      secrets: () => [
        apiToken,
        dbPassword,
        ...new Set(scalingo.requests.map((r) => r.authorization?.replace(/^(Bearer|Basic) /, "")).filter((t): t is string => Boolean(t))),
      ],
      leftovers: async () => {
        const dir = path.join(ctx.env.RUNNER_TEMP, "scalingo-pg-dump");
        return (await readdir(dir).catch(() => [])).filter((f) => !f.startsWith("."));
      },
    };
  };

  return {
    pg,
    ip,
    artifacts,
    apiToken,
    dbPassword,
    database,
    dbName,
    emulatorBase: base,
    scenario,
    close: async () => {
      await Promise.allSettled([...opened.map((o) => o.close()), ip.close(), artifacts.close()]);
      await pg.stop();
    },
  };
}

/** Asserts nothing a step printed or wrote holds a secret; returns the offending secrets. */
export function leakedSecrets(text: string, secrets: string[]): string[] {
  return secrets.filter((s) => s.length >= 6 && text.includes(s));
}

export function describeStep(r: StepResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ""}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** pg_restore of the downloaded artifact into a new database, as the README tells users to do. */
export async function restoreInto(pg: PgServer, file: string, database: string, extraArgs: string[] = []): Promise<void> {
  const { execFile } = await import("node:child_process");
  await pg.createDatabase(database);
  const args = ["--no-owner", "--no-privileges", "--exit-on-error", "-d", database, ...extraArgs, file];
  await new Promise<void>((resolve, reject) =>
    execFile(
      path.join(pg.binDir, "pg_restore"),
      args,
      { env: { PATH: process.env.PATH ?? "", PGHOST: pg.socketDir, PGPORT: String(pg.port), PGUSER: "postgres" } },
      (error, _out, stderr) => (error ? reject(new Error(`pg_restore failed: ${stderr}`)) : resolve()),
    ),
  );
}
