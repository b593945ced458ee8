// What the second job of .github/workflows/e2e-runners.yml runs on the downloaded artifact, and
// test/e2e/runner-world.test.ts on the emulated one: restore the dump into a fresh PostgreSQL next
// to a freshly seeded fixture, and compare the two table by table.
//
//   node --import tsx test/support/restore-check.ts <dump file, or the folder holding it>
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { restoreInto, startSeededDatabase } from "../e2e/world.js";
import { compareDatabases } from "./fixture.js";

/** The one file under `path` (actions/download-artifact writes the artifact into a folder). */
async function dumpFile(path: string): Promise<string> {
  if ((await stat(path)).isFile()) return path;
  const files = (await readdir(path, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  if (files.length !== 1) throw new Error(`expected one dump file under ${path}, found ${files.length}`);
  const [file] = files as [(typeof files)[number]];
  return join(file.parentPath, file.name);
}

const target = process.argv[2];
if (!target) throw new Error("usage: restore-check.ts <dump file or folder>");
const file = await dumpFile(target);
const db = await startSeededDatabase();
try {
  console.log(`Restoring ${file} (${(await stat(file)).size} bytes) into PostgreSQL ${db.pg.version}...`);
  await restoreInto(db.pg, file, "restored");
  const { keys, differing } = await compareDatabases(db.pg, db.dbName, "restored");
  for (const { key, same } of keys) console.log(`${same ? "same" : "DIFFERENT"}  ${key}`);
  if (differing.length) throw new Error(`the restored dump differs from the fixture in ${differing.length} place(s): ${differing.join(", ")}`);
  console.log(`The restored dump matches the fixture (${keys.length} tables, sequences, large objects and views compared).`);
} finally {
  await db.pg.stop();
}
