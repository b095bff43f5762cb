/**
 * A streaming S3 upload that commits or vanishes, composed of:
 * - `part-stream.ts`, the Writable: bounded parts and backpressure, so the
 *   sink holds at most uploadConcurrency parts in flight, all writers
 *   together, plus two per writer (one filling, one kept for reuse),
 *   whatever the objects' sizes, and never touches the disk;
 * - `multipart-upload.ts`: the upload id and its requests, each retried;
 * - `publish.ts`: the conditional put or complete that survives a lost
 *   answer, and takes the object back when the commit fails after all;
 * - core's `createSinkWriter`: the lifecycle (states, abort, the signal, the
 *   size check, "a failed commit discards").
 *
 * An object that fits in its first part is one PutObject at commit; a larger
 * one is a multipart upload whose parts go out while the next fill, completed
 * at commit. Nothing is visible before then. A discard aborts the upload
 * (best effort: see `multipart-upload.ts`) and removes an object a publish
 * may have stored.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createSinkWriter, type SinkWriter, type WriterOptions } from '@shmsnap/core/plugin-kit';
import { MultipartUpload } from './multipart-upload.js';
import { PartStream } from './part-stream.js';
import type { UploadSlots } from './upload-slots.js';
import type { PartPlan } from './part-plan.js';
import { Publication, type PublishRequest } from './publish.js';
import { objectSettings, uploadChecksum, type ResolvedS3SinkOptions } from './s3-options.js';

export interface S3WriterContext {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** The object's name below the location. */
  readonly name: string;
  /** The sink's printable location. */
  readonly location: string;
  readonly options: ResolvedS3SinkOptions;
  readonly plan: PartPlan;
  /** Shared by a sink's writers: turns false once the store answers 501 to If-None-Match. */
  readonly conditionalWrites: { supported: boolean };
  /** The sink's parts in flight, shared by its writers (`upload-slots.ts`). */
  readonly uploadSlots?: UploadSlots;
}

function putRequest(ctx: S3WriterContext, body: Buffer): PublishRequest {
  const { client, bucket, key, options } = ctx;
  return (ifNoneMatch, abortSignal) =>
    client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentLength: body.length,
        ...objectSettings(options),
        ...uploadChecksum(options),
        ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
      }),
      { abortSignal },
    );
}

export function createS3Writer(ctx: S3WriterContext, writerOptions: WriterOptions): SinkWriter {
  const { key, options } = ctx;
  const { expectedBytes, sizeHint, signal } = writerOptions;
  const object = `s3://${ctx.bucket}/${key}`;
  const upload = new MultipartUpload(ctx, options);
  const stream = new PartStream({
    plan: ctx.plan,
    concurrency: options.uploadConcurrency,
    slots: ctx.uploadSlots,
    expectedBytes,
    sizeHint,
    object,
    sendPart: (partNumber, body, partSignal) => upload.uploadPart(partNumber, body, partSignal),
    onPartStarted: ({ partNumber, bytes, inFlight, heldBytes }) =>
      options.onEvent({ type: 'part-started', key, partNumber, bytes, inFlight, bufferedBytes: heldBytes }),
  });
  let publication: Publication | undefined;

  return createSinkWriter({
    plugin: 's3',
    object,
    stream,
    bytesWritten: () => stream.bytes,
    expectedBytes,
    signal,
    async publish(publishSignal) {
      const bytes = stream.bytes;
      publication = new Publication({ ...ctx, retry: options.retry }, bytes);
      const single = stream.singlePart();
      if (single) await publication.publish('put', putRequest(ctx, single), publishSignal);
      else await publication.publish('complete multipart upload', await upload.completion(stream.partsStarted), publishSignal);
      options.onEvent({ type: 'upload-completed', key, bytes, parts: stream.partsStarted, peakBufferedBytes: stream.peakHeldBytes });
      return { name: ctx.name, size: bytes };
    },
    async discard() {
      await upload.abort();
      await publication?.removeIfOurs();
    },
  });
}
