// The hand-written workflow's second step, as a user would script it after `pg_dump -Fc`: upload
// the dump file with @actions/artifact, as is (skipArchive), under its own name. Run by the bench
// on Node 24 with the runner's artifact environment pointed at the emulator.
import path from "node:path";
import { DefaultArtifactClient } from "@actions/artifact";

const file = process.argv[2];
if (!file) throw new Error("usage: node upload-file.mjs <file>");
const result = await new DefaultArtifactClient().uploadArtifact(path.basename(file), [file], path.dirname(file), { skipArchive: true });
console.log(JSON.stringify(result));
