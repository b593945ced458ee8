import type { S3Client } from "@aws-sdk/client-s3";
import { createS3Client } from "../../src/s3/client.js";
import type { S3Emulator } from "../emulators/s3.js";

/** A client of the action's own kind, to read and plant objects behind the action's back in tests. */
export function emulatorClient(s3: S3Emulator, region = "eu-west-2"): S3Client {
  return createS3Client({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}
