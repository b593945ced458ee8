// Issue 17, item 1: the restore check runs code the production database chose (CHECK functions,
// index expressions, materialized views). It must run it without SUPERUSER, so a function that
// tries `COPY ... TO PROGRAM` on the runner fails instead of getting a shell. Real production
// server, real pg_dump, real throwaway server and pg_restore.
import { execFile } from "node:child_process";
import { chmod, mkdtemp, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActionError } from "../src/errors.js";
import { restoreCheck } from "../src/restore-check/check.js";
import { startThrowawayServer, type ThrowawayServer } from "../src/restore-check/throwaway-server.js";
import { unprivilegedUser } from "./support/os-user.js";
import { type PgServer, startPostgres } from "./support/postgres.js";
import { tempBase } from "./support/postgres-exec.js";

const execFileP = promisify(execFile);
const ROLE = "shop_user";
const PASSWORD = "pw-restore-trust";
const root = process.getuid?.() === 0;

describe("the restore check trusts nothing the dump runs (real binaries)", () => {
  let source: PgServer;
  let dir: string;
  let markers: string;
  const servers: ThrowawayServer[] = [];

  async function server(): Promise<ThrowawayServer> {
    // `superuser` is what the check took before issue 17 (kept so this file runs against it too).
    const options = { binDir: source.binDir, tempDir: dir, role: ROLE, superuser: ROLE, root, serverUser: unprivilegedUser().name };
    const s = await startThrowawayServer(options);
    servers.push(s);
    return s;
  }

  /** A production database owned by the role, seeded by `sql` run as the role (and `asSuperuser` first). */
  async function production(name: string, sql: string, asSuperuser = ""): Promise<string> {
    await source.createDatabase(name, ROLE);
    if (asSuperuser) await source.psql(asSuperuser, name);
    await source.psql(`SET ROLE ${ROLE};\n${sql}`, name);
    return name;
  }

  async function dump(database: string, format: "custom" | "plain" = "custom"): Promise<string> {
    const file = path.join(dir, `${database}.${format === "plain" ? "sql" : "dump"}`);
    const env = { PATH: process.env.PATH ?? "", PGHOST: "127.0.0.1", PGPORT: String(source.port), PGUSER: ROLE, PGPASSWORD: PASSWORD, PGDATABASE: database };
    const args = [`--file=${file}`, `--format=${format}`, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--no-comments"];
    await execFileP(path.join(source.binDir, "pg_dump"), args, { env });
    return file;
  }

  const check = async (format: "custom" | "plain", file: string) => {
    const s = await server();
    return { s, result: await restoreCheck({ format, source: file, clientDir: source.binDir, server: s, jobs: 2 }).catch((e: unknown) => e) };
  };

  /**
   * A function that runs `COPY ... TO PROGRAM` (touching a marker) wherever it is not in production.
   * Declared IMMUTABLE (an index expression needs it), it calls a VOLATILE one: a non-volatile
   * function may not run COPY itself.
   */
  const planted = (database: string, marker: string, when = `current_database() <> '${database}'`) => `
    CREATE FUNCTION public.audit_log(v integer) RETURNS void LANGUAGE plpgsql VOLATILE AS $f$
    BEGIN
      IF ${when} THEN
        EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'touch ${path.join(markers, marker)}');
      END IF;
    END $f$;
    CREATE FUNCTION public.audit(v integer) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $f$
    BEGIN
      PERFORM public.audit_log(v);
      RETURN true;
    END $f$;`;

  beforeAll(async () => {
    source = await startPostgres();
    await source.createRole(ROLE, PASSWORD);
    await source.allowCidr("127.0.0.1/32");
    dir = await mkdtemp(path.join(await tempBase(root), "restore-trust-"));
    // The server's OS user (whoever it is) may write here: a marker is proof, not a permission problem.
    markers = await mkdtemp(path.join("/tmp", "restore-trust-markers-"));
    await Promise.all([chmod(markers, 0o1777), root ? execFileP("chmod", ["0755", dir]) : undefined]);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
    await rm(markers, { recursive: true, force: true });
    await source?.stop();
  });

  it("a CHECK function that runs COPY TO PROGRAM only when it finds itself superuser: it never is, no marker", async () => {
    const db = await production(
      "trust_super",
      `${planted("trust_super", "check-super", "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")}
       CREATE TABLE public.accounts (id integer CHECK (public.audit(id)));
       INSERT INTO public.accounts SELECT generate_series(1, 50);`,
    );
    const { result } = await check("custom", await dump(db));
    expect(await readdir(markers)).not.toContain("check-super");
    expect(result).not.toBeInstanceOf(Error);
    expect((result as { rows: number }).rows).toBe(50);
  });

  it.each([
    ["custom", "TABLE DATA public.accounts"],
    ["plain", "TABLE DATA public.accounts, script line"],
  ] as const)("a CHECK function evaluated per row (%s): COPY TO PROGRAM is refused, no marker, the check names the object", async (format, object) => {
    const db = await production(
      `trust_check_${format}`,
      `${planted(`trust_check_${format}`, `check-${format}`)}
       CREATE TABLE public.accounts (id integer CHECK (public.audit(id)));
       INSERT INTO public.accounts SELECT generate_series(1, 50);`,
    );
    const { result } = await check(format, await dump(db, format));
    expect(await readdir(markers)).not.toContain(`check-${format}`);
    expect(result).toBeInstanceOf(ActionError);
    expect((result as Error).message).toContain(object);
    expect((result as Error).message).toMatch(/SQLSTATE 42501/);
  });

  it("an index expression: refused while the index is built, no marker", async () => {
    const db = await production(
      "trust_index",
      `${planted("trust_index", "index")}
       CREATE TABLE public.accounts (id integer);
       INSERT INTO public.accounts SELECT generate_series(1, 50);
       CREATE INDEX accounts_audit ON public.accounts ((public.audit(id)));`,
    );
    const { result } = await check("custom", await dump(db));
    expect(await readdir(markers)).not.toContain("index");
    expect((result as Error).message).toMatch(/INDEX public\.accounts_audit: SQLSTATE 42501/);
  });

  it("a materialized view: refused while it is refreshed, no marker", async () => {
    const db = await production(
      "trust_matview",
      `${planted("trust_matview", "matview")}
       CREATE TABLE public.accounts (id integer);
       INSERT INTO public.accounts SELECT generate_series(1, 50);
       CREATE MATERIALIZED VIEW public.audited AS SELECT id, public.audit(id) AS ok FROM public.accounts;`,
    );
    const { result } = await check("custom", await dump(db));
    expect(await readdir(markers)).not.toContain("matview");
    expect((result as Error).message).toMatch(/MATERIALIZED VIEW DATA public\.audited: SQLSTATE 42501/);
  });

  it("the runner's PG* variables (PGSSLMODE=require, PGOPTIONS...) do not reach the check's own clients (item 4)", async () => {
    const db = await production("trust_env", "CREATE TABLE public.t (id integer); INSERT INTO public.t SELECT generate_series(1, 7);");
    const file = await dump(db);
    // Meant for production, or for nothing: the socket has no TLS, a read-only session could not create the role.
    const runner = {
      PGSSLMODE: "require",
      PGOPTIONS: "-c default_transaction_read_only=on",
      PGAPPNAME: "runner-app",
      PGCLIENTENCODING: "SQL_ASCII",
      PGPASSWORD: "not-for-the-check",
      PGUSER: "someone_else",
      PGDATABASE: "elsewhere",
      PGHOST: "/nonexistent",
      PGPORT: "1",
    };
    const saved = Object.fromEntries(Object.keys(runner).map((k) => [k, process.env[k]]));
    Object.assign(process.env, runner);
    try {
      const { result } = await check("custom", file);
      expect(result, String(result)).not.toBeInstanceOf(Error);
      expect((result as { rows: number }).rows).toBe(7);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it("an extension in a schema the dump creates: schemas by the role, the untrusted extension by the superuser, the rest by the role; superuser-only objects are left out and listed", async () => {
    const db = await production(
      "trust_extension",
      `CREATE TABLE ext.tags (id integer PRIMARY KEY, t ext.hstore);
       INSERT INTO ext.tags VALUES (1, 'a=>1'), (2, 'b=>2');
       CREATE VIEW public.buffers AS SELECT count(*) AS n FROM ext.pg_buffercache;
       CREATE PUBLICATION tags_pub FOR TABLE ext.tags;`,
      `CREATE SCHEMA ext AUTHORIZATION ${ROLE};
       CREATE EXTENSION hstore SCHEMA ext;
       CREATE EXTENSION pg_buffercache SCHEMA ext;
       CREATE FUNCTION public.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $f$ BEGIN END $f$;
       CREATE EVENT TRIGGER on_ddl ON ddl_command_start EXECUTE FUNCTION public.on_ddl();`,
    );
    const { s, result } = await check("custom", await dump(db));
    expect(result, String(result)).not.toBeInstanceOf(Error);
    const report = result as { rows: number; notChecked: { type: string; schema: string; name: string }[] };
    expect(report.rows).toBe(2);
    expect(report.notChecked).toEqual([
      { type: "PUBLICATION", schema: "-", name: "tags_pub" },
      { type: "PUBLICATION TABLE", schema: "ext", name: "tags_pub tags" },
      { type: "EVENT TRIGGER", schema: "-", name: "on_ddl" },
    ]);
    // Restored as the production role's name, which is no superuser; the untrusted extension is the superuser's.
    const restored = await query(
      s,
      `SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = '${ROLE}') AS role_super,
              (SELECT tableowner FROM pg_tables WHERE tablename = 'tags') AS table_owner,
              (SELECT r.rolsuper FROM pg_extension e JOIN pg_roles r ON r.oid = e.extowner WHERE e.extname = 'pg_buffercache') AS buffercache_by_super,
              (SELECT r.rolname FROM pg_extension e JOIN pg_roles r ON r.oid = e.extowner WHERE e.extname = 'hstore') AS hstore_owner,
              (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_buffercache') AS schema`,
    );
    expect(restored).toEqual({ role_super: false, table_owner: ROLE, buffercache_by_super: true, hstore_owner: ROLE, schema: "ext" });
  });
});

/** As the throwaway server's bootstrap superuser, in the restored database. */
async function query(s: ThrowawayServer, sql: string): Promise<Record<string, unknown>> {
  const legacy = s as unknown as { env?: Record<string, string> };
  const superuser = legacy.env?.PGUSER === ROLE ? ROLE : s.superuser;
  const client = new pg.Client({ host: s.socketDir ?? legacy.env?.PGHOST, port: s.port ?? 5432, user: superuser, database: "restore_check", ssl: false });
  await client.connect();
  try {
    return (await client.query(sql)).rows[0];
  } finally {
    await client.end();
  }
}
