import type { S3Location } from "./s3-config.js";

/** Which action asks: the inputs and permissions the advice names differ. */
export type S3Use = "backup" | "restore";

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

/**
 * One line a user can act on, from what the SDK threw: the service's error code and status, what
 * it usually means, and the request id for the provider's support. HeadBucket answers have no
 * body, so a 403 or 404 is explained by its status alone. Never the credentials.
 */
export function s3Problem(error: unknown, s3: Pick<S3Location, "bucket" | "endpoint" | "region">, use: S3Use = "backup"): string {
  const e = (error ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const id = e.$metadata?.requestId ? `, request id ${e.$metadata.requestId}` : "";
  const name = e.name && e.name !== "Error" ? e.name : (e.code ?? "");
  const what = `${name}${status ? ` (HTTP ${status}${id})` : ""}`.trim() || e.message || String(error);
  return `${what}. ${adviceFor(name, status, s3, use)}`.trim();
}

function adviceFor(name: string, status: number | undefined, s3: Pick<S3Location, "bucket" | "endpoint" | "region">, use: S3Use): string {
  const input = use === "backup" ? "s3-url" : "s3-uri";
  if (name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch" || name === "InvalidToken" || name === "ExpiredToken")
    return "Check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN: they are not valid for this endpoint.";
  if (name === "NoSuchKey") return "No object has that key: copy the backup's `s3-uri` output (or the object's key) into `s3-uri`.";
  if (name === "NoSuchBucket" || status === 404)
    return `Check the bucket name in \`${input}\` (${s3.bucket}), \`s3-endpoint\` and \`s3-region\` (${s3.region}).`;
  // A HEAD request's 403 has no body: wrong credentials and missing permissions look the same.
  if ((status === 403 || name === "AccessDenied") && use === "restore")
    return "Check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, and that they are allowed s3:GetObject on the backup and its manifest.";
  if (status === 403 || name === "AccessDenied")
    return "Check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, and that they are allowed s3:ListBucket (HeadBucket), s3:PutObject, s3:AbortMultipartUpload, and for rotation s3:DeleteObject (s3:GetObjectRetention with Object Lock).";
  if (status === 301 || name === "PermanentRedirect" || name === "AuthorizationHeaderMalformed")
    return `The bucket is in another region than \`s3-region\` (${s3.region}).`;
  if (["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "TimeoutError"].includes(name))
    return `Check \`s3-endpoint\` (${s3.endpoint ?? "AWS"}) and the runner's proxy settings.`;
  return "";
}
