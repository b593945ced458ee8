// One upload, timed in-process, for `npm run bench:s3`: `action` is the action's own S3 upload
// (src/s3/upload.ts: full-object CRC-32 over the stream, its part size, its client), `sdk`
// is lib-storage's Upload of the same file with the same client settings, part size and queue,
// and the SDK's default checksums. Prints one JSON line: {variant, ms, cpuMs} (wall and this process's CPU).
import { createReadStream, statSync } from "node:fs";
import { Upload } from "@aws-sdk/lib-storage";
import { createS3Client } from "../../src/s3/client.js";
import { partSizeFor, uploadFile } from "../../src/s3/upload.js";

const [variant, file, endpoint, bucket, key, accessKeyId, secretAccessKey] = process.argv.slice(2) as string[];
const size = statSync(file as string).size;
const client = createS3Client({
  bucket: bucket as string,
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: accessKeyId as string, secretAccessKey: secretAccessKey as string },
});
const started = performance.now();
const cpu = process.cpuUsage();
if (variant === "action") await uploadFile(client, { bucket: bucket as string, key: key as string, file: file as string, size });
else {
  const params = { Bucket: bucket, Key: key, Body: createReadStream(file as string), ContentLength: size };
  await new Upload({ client, params, partSize: partSizeFor(size), queueSize: 4 }).done();
}
const used = process.cpuUsage(cpu);
console.log(JSON.stringify({ variant, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 }));
client.destroy();
