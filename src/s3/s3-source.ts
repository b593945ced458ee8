import type { Env, Inputs } from "../inputs.js";
import { BUCKET, credentialsFrom, endpointInputs, type S3Location } from "./s3-config.js";

/** One stored backup, as the restore action's `s3-uri` names it: the dump's object, its manifest beside it. */
export interface S3Object extends S3Location {
  key: string;
}

/**
 * `s3-uri` (the backup's `s3-uri` output: `s3://bucket/key`) with `s3-endpoint` and `s3-region`.
 * Credentials, as for the backup, only from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN.
 */
export function s3ObjectInputs({ text, fail }: Inputs, env: Env): S3Object | undefined {
  const uri = text("s3-uri");
  if (!uri) {
    for (const name of ["s3-endpoint", "s3-region"].filter((n) => text(n)))
      fail(name, "needs `s3-uri` (the backup it reads), e.g. `s3://my-backups/scalingo/my-db-20261205T031700Z.dump`.");
    return undefined;
  }
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  const bucket = match?.[1] ?? "";
  const key = match?.[2] ?? "";
  if (!match || !BUCKET.test(bucket) || key.endsWith("/") || /[\r\n\\]/.test(key))
    fail(
      "s3-uri",
      `"${uri}" is not s3://<bucket>/<key> of one backup: use the backup's \`s3-uri\` output, e.g. s3://my-backups/scalingo/my-db-20261205T031700Z.dump.`,
    );
  else if (key.includes(".manifest.json")) fail("s3-uri", `"${uri}" is a manifest: name the dump itself (the manifest beside it is read too).`);
  const { endpoint, region } = endpointInputs(text, fail, env);
  return { bucket, key, ...(endpoint ? { endpoint } : {}), region, credentials: credentialsFrom(env, fail, "s3-uri") };
}
