// Builds the benchmark database once per run: pgbench's tables (many narrow, very compressible
// rows), wide text rows (hex, about 2:1 for gzip, like text that is not prose) and bytea rows
// (random bytes, incompressible, and doubled to hex by COPY). Each third of the size is split
// over tables of similar size, so `--jobs 2` has work to share instead of one huge table.
import path from "node:path";
import { type PgServer, quoteIdent, quoteLiteral } from "../support/postgres.js";
import { run } from "../support/postgres-exec.js";

export interface Dataset {
  /** pg_database_size once built and vacuumed */
  bytes: number;
  tables: { name: string; bytes: number }[];
  seconds: number;
}

// Measured on PostgreSQL 15 (a 200 MB build): on-disk bytes per unit.
const PGBENCH_BYTES_PER_SCALE = 15.7 * 2 ** 20; // pgbench_accounts heap + primary key, per scale factor
const TEXT_ROW_BYTES = 5_640; // 4 KiB of hex in TOAST: pglz cannot shrink hex by 25 %, so 3 chunks stored as is
const BYTEA_ROW_BYTES = 8_680; // 8 KiB of random bytes in TOAST, 5 chunks
const PARTS = 2; // tables per kind

/**
 * Fills `database` (owned by `owner`, the role the dump connects as) to about `targetBytes`.
 * Everything is created as `owner`, so the action's role can dump it, as on Scalingo.
 */
export async function buildDataset(pg: PgServer, database: string, owner: string, targetBytes: number, log: (m: string) => void): Promise<Dataset> {
  const started = Date.now();
  const third = targetBytes / 3;
  const scale = Math.max(1, Math.round(third / PGBENCH_BYTES_PER_SCALE));
  const textRows = Math.max(100, Math.round(third / PARTS / TEXT_ROW_BYTES));
  const byteaRows = Math.max(100, Math.round(third / PARTS / BYTEA_ROW_BYTES));
  log(`building ~${mib(targetBytes)}: pgbench scale ${scale}, ${PARTS}x${textRows} text rows, ${PARTS}x${byteaRows} bytea rows`);

  // gen_random_bytes comes from pgcrypto (trusted: the database owner may create it). It is
  // dropped afterwards so the dump holds nothing but the tables.
  await pg.psql("CREATE EXTENSION IF NOT EXISTS pgcrypto", database);
  const asOwner = (sql: string) => pg.psql(`SET ROLE ${quoteIdent(owner)};\n${sql}`, database);
  // gen_random_bytes returns at most 1024 bytes per call: concatenate calls for wider values.
  const random = (kib: number) => Array.from({ length: kib }, () => "gen_random_bytes(1024)").join(" || ");
  // A second size in the same run replaces the first's tables (pgbench -i drops its own).
  const textTable = (n: number) => `
    DROP TABLE IF EXISTS bench_documents_${n};
    CREATE TABLE bench_documents_${n} (id bigint PRIMARY KEY, title text NOT NULL, body text NOT NULL, created_at timestamptz NOT NULL);
    INSERT INTO bench_documents_${n}
    SELECT i, 'document ' || i, encode(${random(2)}, 'hex'), timestamptz '2025-01-01' + i * interval '1 minute'
    FROM generate_series(1, ${textRows}) AS i;`;
  const byteaTable = (n: number) => `
    DROP TABLE IF EXISTS bench_files_${n};
    CREATE TABLE bench_files_${n} (id bigint PRIMARY KEY, name text NOT NULL, data bytea NOT NULL);
    INSERT INTO bench_files_${n} SELECT i, 'file-' || i || '.bin', ${random(8)} FROM generate_series(1, ${byteaRows}) AS i;`;

  // Two cores: pgbench's client generates its rows while the server fills the other tables.
  const pgbench = run(path.join(pg.binDir, "pgbench"), ["-i", "-q", "-s", String(scale), "-h", pg.socketDir, "-p", String(pg.port), "-U", owner, database]);
  const sql = (async () => {
    for (let n = 1; n <= PARTS; n++) await asOwner(textTable(n) + byteaTable(n));
  })();
  await Promise.all([pgbench, sql]);
  await pg.psql("DROP EXTENSION pgcrypto", database);
  // Sets hint bits and the visibility map now, so the first timed dump does not pay for it.
  await pg.psql("VACUUM (FREEZE, ANALYZE)", database);

  return measureDataset(pg, database, ["bench\\_%", "pgbench\\_%"], started);
}

/** A dataset once built: its tables (by LIKE pattern) and their sizes, the database's size, the time it took. */
export async function measureDataset(pg: PgServer, database: string, patterns: string[], started: number): Promise<Dataset> {
  const rows = await pg.psql(
    `SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND (${patterns.map((p) => `c.relname LIKE '${p}'`).join(" OR ")})
     ORDER BY 2 DESC`,
    database,
  );
  const tables = rows
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [name, bytes] = line.split("|");
      return { name: name as string, bytes: Number(bytes) };
    });
  const bytes = Number(await pg.psql(`SELECT pg_database_size(${quoteLiteral(database)})`));
  return { bytes, tables, seconds: (Date.now() - started) / 1000 };
}

export function mib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/** "1GB", "200MB", "1.5 GiB", "500M", or bytes; binary units, as pg_size_pretty prints them. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!match) throw new Error(`not a size: "${text}" (e.g. 1GB, 200MB)`);
  const power = { "": 0, K: 1, M: 2, G: 3, T: 4 }[(match[2] as string).toUpperCase() as "" | "K" | "M" | "G" | "T"];
  return Math.round(Number(match[1]) * 1024 ** power);
}
