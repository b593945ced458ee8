import { AnonymousCredential, BlockBlobClient, newPipeline } from "@azure/storage-blob";
import { ActionError, errorMessage } from "../errors.js";
import { type BlockStore, BlockUpload } from "./block-upload.js";
import { mimeTypeOf, type ResultsService } from "./results-service.js";

export interface Uploaded {
  id: number;
  name: string;
  size: number;
  digest: string;
  /** Blocks staged after the file was final: all of them unless the upload followed the dump. */
  stagedAtFinish: number;
  blocks: number;
}

/**
 * The blocks go to the signed URL through the Azure SDK, as @actions/artifact's uploadStream
 * sends them, with its retry policy; a try that hangs is abandoned after two minutes.
 */
export function azureBlockStore(signedUrl: string, contentType: string): BlockStore {
  const pipeline = newPipeline(new AnonymousCredential(), { retryOptions: { maxTries: 5, tryTimeoutInMs: 120_000 } });
  const client = new BlockBlobClient(signedUrl, pipeline);
  return {
    stage: async (id, body) => {
      await client.stageBlock(id, body, body.length);
    },
    commit: async (ids) => {
      await client.commitBlockList(ids, { blobHTTPHeaders: { blobContentType: contentType } });
    },
  };
}

/** The SAS signature is a credential to the blob until it expires: never print it. */
function maskSignature(signedUrl: string, setSecret: (s: string) => void): void {
  const sig = new URL(signedUrl).searchParams.get("sig");
  if (sig) {
    setSecret(sig);
    setSecret(encodeURIComponent(sig));
  }
}

/**
 * One artifact holding one file as is: no zip around an already-compressed dump, so it downloads
 * as the dump itself. start() reserves the name; the file may still be growing (follow());
 * complete() uploads what is left, commits and finalizes.
 */
export class ArtifactUpload {
  private constructor(
    private readonly service: ResultsService,
    readonly name: string,
    private readonly blocks: BlockUpload,
  ) {}

  static async start(o: { service: ResultsService; name: string; file: string; expiresAt?: Date; setSecret(s: string): void }): Promise<ArtifactUpload> {
    const mimeType = mimeTypeOf(o.name);
    const url = await o.service.create(o.name, mimeType, o.expiresAt);
    maskSignature(url, o.setSecret);
    return new ArtifactUpload(o.service, o.name, new BlockUpload(o.file, azureBlockStore(url, mimeType)));
  }

  follow(writerDone: Promise<unknown>): void {
    this.blocks.follow(writerDone);
  }

  async complete(): Promise<Uploaded> {
    const done = await this.blocks.finish();
    const id = await this.service.finalize(this.name, done.size, done.sha256);
    return { id, name: this.name, size: done.size, digest: done.sha256, stagedAtFinish: done.stagedAtFinish, blocks: done.blocks };
  }
}

export function uploadError(error: unknown, file: string): ActionError {
  return new ActionError(
    "upload",
    `Uploading the artifact failed: ${errorMessage(error)}. The dump is still at ${file} for a later step; check the job has the artifact permissions and the name is unique in the run (re-runs need a unique \`artifact-name\`).`,
  );
}
