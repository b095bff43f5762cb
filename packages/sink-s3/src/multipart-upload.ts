/**
 * One multipart upload: one upload id, its parts, and how it ends (completed
 * through `publish.ts`, or aborted).
 *
 * - It is created with the first part, never before: an object that fits in
 *   one part is a single PutObject and needs none.
 * - Creating is never cancelled mid-request, only between attempts: an
 *   upload the store created but whose id we never heard of could not be
 *   aborted.
 * - Each request is retried through core's `retryOperation`: a part is held
 *   in memory, so it can be sent again. Completing is retried by
 *   `publish.ts` instead, since an attempt whose answer was lost may have
 *   completed the upload, and a retry must first look.
 * - Aborting is best effort: some stores refuse (s3rver answers 405), and
 *   their parts then wait for a lifecycle rule. Either way the object is not
 *   visible, so the outcome is an `upload-aborted` event, not an error.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { errInternal, errRemoteFailed, retryOperation } from '@shmsnap/core/plugin-kit';
import { callS3, type S3ObjectAddress } from './s3-client.js';
import { mapS3Error } from './s3-errors.js';
import { objectSettings, uploadChecksum, type ResolvedS3SinkOptions } from './s3-options.js';
import type { PublishRequest } from './publish.js';

export class MultipartUpload {
  #id: Promise<string> | undefined;
  readonly #parts: CompletedPart[] = [];
  #completed = false;

  constructor(
    private readonly address: S3ObjectAddress,
    private readonly options: ResolvedS3SinkOptions,
  ) {}

  get #where(): string {
    return `s3://${this.address.bucket}/${this.address.key}`;
  }

  /** `send` retried under the sink's policy: `waits` cancels the waits between attempts, `requests` the requests. */
  #retried<T>(step: string, cancel: { waits: AbortSignal | undefined; requests: AbortSignal | undefined }, send: (abortSignal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    const { bucket, key } = this.address;
    return retryOperation(() => callS3({ step, bucket, key, signal: cancel.requests }, send), this.options.retry, { what: `s3 ${step} of ${key}`, signal: cancel.waits });
  }

  async uploadPart(partNumber: number, body: Buffer, signal: AbortSignal): Promise<void> {
    const uploadId = await this.#create(signal);
    const { client, bucket, key } = this.address;
    const step = `upload part ${partNumber}`;
    const checksum = uploadChecksum(this.options);
    const answer = await this.#retried(step, { waits: signal, requests: signal }, (abortSignal) =>
      client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length, ...checksum }), { abortSignal }),
    );
    if (!answer.ETag) throw errRemoteFailed(`s3 ${step}`, this.#where, false, new Error('the answer carried no ETag'));
    this.#parts.push({ PartNumber: partNumber, ETag: answer.ETag, ...(checksum.ChecksumAlgorithm && answer.ChecksumCRC32 ? { ChecksumCRC32: answer.ChecksumCRC32 } : {}) });
  }

  #create(signal: AbortSignal): Promise<string> {
    const { client, bucket, key } = this.address;
    const step = 'create multipart upload';
    this.#id ??= this.#retried(step, { waits: signal, requests: undefined }, (abortSignal) =>
      client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...objectSettings(this.options), ...uploadChecksum(this.options) }), { abortSignal }),
    ).then((answer) => {
      if (!answer.UploadId) throw errRemoteFailed(`s3 ${step}`, this.#where, false, new Error('the answer carried no UploadId'));
      return answer.UploadId;
    });
    return this.#id;
  }

  /** The CompleteMultipartUpload request, for `publish.ts` to send (and retry); fails unless all `partsStarted` parts were uploaded. */
  async completion(partsStarted: number): Promise<PublishRequest> {
    if (this.#id === undefined) throw errInternal(`completing the multipart upload of ${this.#where}, which was never created`);
    const uploadId = await this.#id;
    const parts = [...this.#parts].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    if (parts.length !== partsStarted) {
      throw errRemoteFailed('s3 complete multipart upload', this.#where, false, new Error(`${parts.length} of ${partsStarted} parts were uploaded`));
    }
    const { client, bucket, key } = this.address;
    return async (ifNoneMatch, abortSignal) => {
      const answer = await client.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts }, ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}) }),
        { abortSignal },
      );
      this.#completed = true;
      return answer;
    };
  }

  /** Aborts the upload, if one was created and not completed; reported as an event, never thrown. */
  async abort(): Promise<void> {
    if (!this.#id || this.#completed) return;
    let uploadId: string;
    try {
      uploadId = await this.#id;
    } catch {
      return; // never created: nothing to abort
    }
    const { client, bucket, key } = this.address;
    const step = 'abort multipart upload';
    try {
      // Not cancellable: the writer's cancel has already fired, and this is the clean-up after it.
      await this.#retried(step, { waits: undefined, requests: undefined }, (abortSignal) => client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), { abortSignal }));
      this.options.onEvent({ type: 'upload-aborted', key, uploadId });
    } catch (error) {
      this.options.onEvent({ type: 'upload-aborted', key, uploadId, error: mapS3Error(error, { step, bucket, key }) });
    }
  }
}
