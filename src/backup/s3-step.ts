import * as path from "node:path";
import type { Config } from "../config.js";
import { extensionOf } from "../naming.js";
import { phase, type Report } from "../report/report.js";
import { planS3, type S3Plan, storeInS3 } from "../s3/destination.js";
import type { Log } from "../types.js";
import type { Session } from "./session.js";

/** With `s3-url`: the bucket is checked before the firewall opens (docs/design.md, "S3 destination"). */
export async function preflightS3(config: Config, report: Report, log: Log): Promise<S3Plan | undefined> {
  if (!config.s3) return undefined;
  if (config.upload && config.region === "osc-secnum-fr1")
    log.warning(
      "region osc-secnum-fr1: with `s3-url` set, the dump is still uploaded as a GitHub artifact too, outside SecNumCloud storage. Set `upload: false` to keep it in your bucket only.",
    );
  log.section?.("S3 preflight");
  const s3 = config.s3;
  return phase(report, "s3", () => planS3(s3, log));
}

/** The last step: the dump and its manifest to the bucket, then rotation unless `rotate` is false. */
export async function uploadToS3(
  config: Config,
  session: Session,
  report: Report,
  plan: S3Plan,
  o: { final: string; log: Log; rotate: boolean },
): Promise<void> {
  o.log.section?.("S3 upload");
  const storing = phase(report, "s3", () =>
    storeInS3(plan, {
      file: o.final,
      size: report.dumpSize ?? 0,
      extension: objectExtension(config, plan, o.final),
      manifestFile: report.manifestPath,
      database: config.database,
      rotate: o.rotate,
      now: () => new Date(),
      log: o.log,
      // The teardown's start aborts the multipart upload, so no invisible parts stay billed.
      signal: session.teardown.ending,
    }),
  );
  // The teardown waits (up to 5 s, last: it is the network) for that abort to reach the service.
  const aborted = session.teardown.defer("servers", "abort the S3 upload", () =>
    Promise.race([storing.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5000).unref())]),
  );
  try {
    const stored = await storing;
    Object.assign(report, { s3Uri: stored.uri, s3VersionId: stored.versionId, s3Deleted: stored.rotation?.deleted });
  } finally {
    aborted.release();
    plan.client.destroy();
  }
}

/** The object is named after the backup's UTC time whatever `path` said; the file's own extension is kept. */
function objectExtension(config: Config, plan: S3Plan, final: string): string {
  const name = path.basename(final);
  const base = plan.s3.baseName;
  return name.startsWith(`${base}.`)
    ? name.slice(base.length)
    : extensionOf(config.format, config.compress) + name.slice(path.basename(config.dumpPath).length);
}
