/**
 * A streaming multipart upload that commits or vanishes.
 *
 * Bytes are copied into a part buffer; a full part is uploaded while the next
 * one fills. The write callback waits while `uploadConcurrency` parts are in
 * flight, so a writer holds at most (uploadConcurrency + 1) parts, whatever
 * the object's size, and never touches the disk. An object that fits in its
 * first part is sent with one PutObject at commit.
 *
 * Nothing is visible before `commit()`: it checks the byte count, checks
 * that no object of that name appeared, and only then completes the upload
 * (or puts the object), with `If-None-Match: *` where the store supports it.
 * Any failure, `abort()`, a destroyed stream or an aborted signal cancels
 * the requests in flight and aborts the multipart upload (best effort: some
 * stores refuse, and their parts then wait for a lifecycle rule).
 *
 * Each request is retried through core's `retryOperation`: a buffered part
 * can be sent again. Publishing is retried with care: an attempt whose answer
 * was lost may have stored the object, so a retry first looks for it.
 */
import { Writable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  errAborted,
  errConfigInvalid,
  errObjectExists,
  errPluginFailed,
  errRemoteFailed,
  errSizeMismatch,
  isShmsnapError,
  retryOperation,
  type ObjectInfo,
  type ShmsnapError,
  type SinkWriter,
  type WriterOptions,
} from '@shmsnap/core';
import { PartBuffer } from './part-buffer.js';
import { partBytesAt, type PartPlan } from './part-plan.js';
import { isNotImplemented, mapS3Error } from './s3-errors.js';
import { S3_MAX_OBJECT_BYTES, type ResolvedS3SinkOptions } from './s3-options.js';

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
}

type WriterState = 'open' | 'committing' | 'committed' | 'failed' | 'aborted';

/** What the Writable queues before `write()` says wait; chunks are only referenced there. */
const WRITABLE_HIGH_WATER_MARK = 1024 * 1024;
/** First allocation of a part whose final size is not known: grows by doubling. */
const FIRST_CAPACITY = 256 * 1024;

export class S3Writer implements SinkWriter {
  readonly stream: Writable;
  #state: WriterState = 'open';
  #bytes = 0;
  #current: PartBuffer | undefined;
  #partsStarted = 0;
  readonly #inFlight = new Set<Promise<void>>();
  #inFlightBytes = 0;
  /** Memory of uploaded parts, reused for the next ones instead of left to the GC. */
  readonly #spare: Buffer[] = [];
  #peakBufferedBytes = 0;
  readonly #parts: CompletedPart[] = [];
  #upload: Promise<string> | undefined;
  #completed = false;
  #failure: ShmsnapError | undefined;
  /** Cancels every request of this writer: the first failure or an abort ends them all. */
  readonly #cancel = new AbortController();
  /** The write or final step in progress; the stream is not closed before it settles. */
  #pending: Promise<void> = Promise.resolve();
  /** A publishing request failed in a way that may still have stored the object. */
  #maybePublished = false;
  #abortRequested = false;
  #committing: Promise<ObjectInfo> | undefined;
  #cleanup: Promise<void> | undefined;
  readonly #removeSignalListener: () => void;

  constructor(
    private readonly ctx: S3WriterContext,
    private readonly writerOptions: WriterOptions,
  ) {
    this.stream = new Writable({
      highWaterMark: WRITABLE_HIGH_WATER_MARK,
      write: (chunk: Buffer, _encoding, callback) => this.#track(this.#accept(chunk), callback),
      writev: (chunks, callback) =>
        this.#track(
          (async () => {
            for (const { chunk } of chunks) await this.#accept(chunk as Buffer);
          })(),
          callback,
        ),
      final: (callback) => this.#track(this.#finish(), callback),
      destroy: (error, callback) => {
        // Destroyed before it finished, by whoever: the upload is doomed.
        if (!this.stream.writableFinished) {
          this.#fail(isShmsnapError(error) ? error : errAborted(`write of ${this.#where}`, error ?? undefined));
        }
        // 'close' must mean no write still reads a caller's chunk. The upload
        // is cleaned up even if the caller never calls abort().
        void this.#pending.then(() => {
          callback(error);
          if (this.#state === 'open' && !this.stream.writableFinished) void this.#cleanupOnce();
        });
      },
    });
    // The stream's error is reported again by commit(); a caller writing
    // without pipeline() must not crash on it.
    this.stream.on('error', () => undefined);
    const signal = writerOptions.signal;
    const onAbort = (): void => {
      const reason = errAborted(`write of ${this.#where}`, signal?.reason);
      this.#fail(reason);
      this.stream.destroy(reason);
      void this.abort(reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#removeSignalListener = () => signal?.removeEventListener('abort', onAbort);
    if (signal?.aborted) onAbort();
  }

  get #where(): string {
    return `s3://${this.ctx.bucket}/${this.ctx.key}`;
  }

  // ---- the write side --------------------------------------------------

  #track(work: Promise<void>, callback: (error?: Error | null) => void): void {
    this.#pending = work.then(
      () => callback(),
      (error: unknown) => callback(this.#fail(error)),
    );
  }

  async #accept(chunk: Buffer): Promise<void> {
    if (this.#failure) throw this.#failure;
    const total = this.#bytes + chunk.length;
    const expected = this.writerOptions.expectedBytes;
    if (expected !== undefined && total > expected) throw errSizeMismatch(this.#where, expected, total, 'bytes (or more)');
    if (total > S3_MAX_OBJECT_BYTES) {
      throw errSizeMismatch(this.#where, S3_MAX_OBJECT_BYTES, total, 'bytes (or more; an S3 object holds at most 5 TiB)');
    }
    let offset = 0;
    while (offset < chunk.length) {
      // A full part is sent only once more bytes arrive: an object of exactly one part stays a PutObject.
      if (this.#current?.full) await this.#startPart(false);
      this.#current ??= this.#newPart();
      const taken = this.#current.append(chunk, offset);
      offset += taken;
      this.#bytes += taken;
      this.#peakBufferedBytes = Math.max(this.#peakBufferedBytes, this.#inFlightBytes + this.#current.capacity);
    }
  }

  #newPart(): PartBuffer {
    const limit = partBytesAt(this.ctx.plan, this.#partsStarted + 1);
    const { expectedBytes, sizeHint } = this.writerOptions;
    // Growing a part by doubling costs a copy and garbage per step: only the
    // first part of an object that may be small starts small.
    let initial: number;
    if (this.#partsStarted > 0) initial = limit;
    else if (expectedBytes !== undefined) initial = expectedBytes - this.#bytes;
    else initial = Math.max(FIRST_CAPACITY, sizeHint ?? 0);
    return new PartBuffer(limit, initial, this.#spare.pop());
  }

  async #finish(): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.#partsStarted === 0) return; // one PutObject, at commit
    if (this.#current && this.#current.length > 0) await this.#startPart(true);
    await this.#drain();
    if (this.#failure) throw this.#failure;
  }

  /** Waits until fewer than `uploadConcurrency` parts are in flight. */
  async #slot(): Promise<void> {
    while (this.#inFlight.size >= this.ctx.options.uploadConcurrency) {
      if (this.#failure) throw this.#failure;
      await Promise.race(this.#inFlight);
    }
    if (this.#failure) throw this.#failure;
  }

  async #drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  async #startPart(last: boolean): Promise<void> {
    await this.#slot();
    const { maxParts } = this.ctx.plan;
    if (!last && this.#partsStarted + 1 >= maxParts) {
      throw errConfigInvalid('maxParts', `${this.#where} needs more than ${maxParts} parts: raise maxParts or partSizeBytes, or give a sizeHint`);
    }
    const part = this.#current!;
    this.#current = undefined;
    const partNumber = ++this.#partsStarted;
    const body = part.view();
    this.#inFlightBytes += part.capacity;
    this.ctx.options.onEvent({
      type: 'part-started',
      key: this.ctx.key,
      partNumber,
      bytes: body.length,
      inFlight: this.#inFlight.size + 1,
      bufferedBytes: this.#inFlightBytes,
    });
    const task: Promise<void> = this.#uploadPart(partNumber, body)
      .then(
        // Only after success: a failed request may still hold the body.
        () => {
          if (this.#spare.length < this.ctx.options.uploadConcurrency) this.#spare.push(part.memory);
        },
        (error: unknown) => {
          this.#fail(error);
        },
      )
      .finally(() => {
        this.#inFlight.delete(task);
        this.#inFlightBytes -= part.capacity;
      });
    this.#inFlight.add(task);
  }

  async #uploadPart(partNumber: number, body: Buffer): Promise<void> {
    const uploadId = await this.#ensureUpload();
    const step = `upload part ${partNumber}`;
    const checksum = this.ctx.options.checksumMode === 'when-supported';
    const answer = await this.#retry(step, () =>
      this.#call(step, this.#cancel.signal, (abortSignal) =>
        this.ctx.client.send(
          new UploadPartCommand({
            Bucket: this.ctx.bucket,
            Key: this.ctx.key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body,
            ContentLength: body.length,
            ...(checksum ? { ChecksumAlgorithm: 'CRC32' as const } : {}),
          }),
          { abortSignal },
        ),
      ),
    );
    if (!answer.ETag) throw errRemoteFailed(`s3 ${step}`, this.#where, false, new Error('the answer carried no ETag'));
    this.#parts.push({
      PartNumber: partNumber,
      ETag: answer.ETag,
      ...(checksum && answer.ChecksumCRC32 ? { ChecksumCRC32: answer.ChecksumCRC32 } : {}),
    });
  }

  #ensureUpload(): Promise<string> {
    const step = 'create multipart upload';
    // Not cancelled mid-request: an upload the store created but we never heard of could not be aborted.
    this.#upload ??= this.#retry(step, () =>
      this.#call(step, undefined, (abortSignal) =>
        this.ctx.client.send(
          new CreateMultipartUploadCommand({
            Bucket: this.ctx.bucket,
            Key: this.ctx.key,
            ...this.#objectSettings(),
            ...(this.ctx.options.checksumMode === 'when-supported' ? { ChecksumAlgorithm: 'CRC32' as const } : {}),
          }),
          { abortSignal },
        ),
      ),
    ).then((answer) => {
      if (!answer.UploadId) throw errRemoteFailed(`s3 ${step}`, this.#where, false, new Error('the answer carried no UploadId'));
      return answer.UploadId;
    });
    return this.#upload;
  }

  #objectSettings(): { StorageClass?: ResolvedS3SinkOptions['storageClass']; ServerSideEncryption?: 'AES256' | 'aws:kms'; SSEKMSKeyId?: string } {
    const { storageClass, serverSideEncryption, sseKmsKeyId } = this.ctx.options;
    return {
      ...(storageClass === undefined ? {} : { StorageClass: storageClass }),
      ...(serverSideEncryption === undefined ? {} : { ServerSideEncryption: serverSideEncryption }),
      ...(sseKmsKeyId === undefined ? {} : { SSEKMSKeyId: sseKmsKeyId }),
    };
  }

  // ---- requests ----------------------------------------------------------

  async #call<T>(step: string, signal: AbortSignal | undefined, send: (abortSignal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    try {
      return await send(signal);
    } catch (error) {
      throw mapS3Error(error, { step, bucket: this.ctx.bucket, key: this.ctx.key, ...(signal ? { signal } : {}) });
    }
  }

  /** Retries `operation`; cancelled with the writer unless `signal` is null (the clean-up after a cancel). */
  #retry<T>(step: string, operation: (attempt: number) => Promise<T>, signal: AbortSignal | null = this.#cancel.signal): Promise<T> {
    return retryOperation(operation, this.ctx.options.retry, { what: `s3 ${step} of ${this.ctx.key}`, ...(signal ? { signal } : {}) });
  }

  /** The size of the object now stored under the key, or undefined. */
  async #storedSize(signal: AbortSignal | undefined): Promise<number | undefined> {
    try {
      const answer = await this.#call('check for an existing object', signal, (abortSignal) =>
        this.ctx.client.send(new HeadObjectCommand({ Bucket: this.ctx.bucket, Key: this.ctx.key }), { abortSignal }),
      );
      return answer.ContentLength ?? 0;
    } catch (error) {
      if (isShmsnapError(error, 'OBJECT_NOT_FOUND')) return undefined;
      throw error;
    }
  }

  /** After a lost answer: whether our earlier attempt stored the object (it did not exist before we published). */
  async #landed(): Promise<boolean> {
    const size = await this.#storedSize(this.#cancel.signal);
    if (size === undefined) return false;
    if (size === this.#bytes) return true;
    throw errObjectExists(this.ctx.name, this.ctx.location);
  }

  /** Sends with `If-None-Match: *` unless the store said it does not support it; the HEAD check already ran. */
  async #conditional(step: string, send: (ifNoneMatch: boolean, abortSignal: AbortSignal | undefined) => Promise<unknown>): Promise<void> {
    const { conditionalWrites } = this.ctx;
    if (conditionalWrites.supported) {
      try {
        await this.#call(step, this.#cancel.signal, (abortSignal) => send(true, abortSignal));
        return;
      } catch (error) {
        if (!isNotImplemented(error)) throw error;
        conditionalWrites.supported = false;
      }
    }
    await this.#call(step, this.#cancel.signal, (abortSignal) => send(false, abortSignal));
  }

  async #publish(step: string, send: (ifNoneMatch: boolean, abortSignal: AbortSignal | undefined) => Promise<unknown>): Promise<void> {
    await this.#retry(step, async (attempt) => {
      if (attempt > 1 && (await this.#landed())) return;
      try {
        await this.#conditional(step, send);
      } catch (error) {
        // A dropped connection or a 5xx may come after the store acted.
        if (isShmsnapError(error) && (error.retryable || error.code === 'ABORTED')) this.#maybePublished = true;
        throw error;
      }
    });
  }

  async #putObject(): Promise<void> {
    const body = this.#current?.view() ?? Buffer.alloc(0);
    const checksum = this.ctx.options.checksumMode === 'when-supported';
    await this.#publish('put', (ifNoneMatch, abortSignal) =>
      this.ctx.client.send(
        new PutObjectCommand({
          Bucket: this.ctx.bucket,
          Key: this.ctx.key,
          Body: body,
          ContentLength: body.length,
          ...this.#objectSettings(),
          ...(checksum ? { ChecksumAlgorithm: 'CRC32' as const } : {}),
          ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
        }),
        { abortSignal },
      ),
    );
  }

  async #completeUpload(): Promise<void> {
    const uploadId = await this.#ensureUpload();
    const parts = [...this.#parts].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    if (parts.length !== this.#partsStarted) {
      throw errRemoteFailed('s3 complete multipart upload', this.#where, false, new Error(`${parts.length} of ${this.#partsStarted} parts were uploaded`));
    }
    await this.#publish('complete multipart upload', (ifNoneMatch, abortSignal) =>
      this.ctx.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.ctx.bucket,
          Key: this.ctx.key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
        }),
        { abortSignal },
      ),
    );
    this.#completed = true;
  }

  // ---- commit and abort --------------------------------------------------

  /** Records the first failure and cancels every request; returns that first failure. */
  #fail(error: unknown): ShmsnapError {
    if (!this.#failure) {
      this.#failure = isShmsnapError(error) ? error : errPluginFailed('s3', `write of ${this.ctx.key}`, error);
      this.#cancel.abort(this.#failure);
    }
    return this.#failure;
  }

  commit(): Promise<ObjectInfo> {
    const committing = this.#commit();
    if (this.#state === 'committing') this.#committing = committing;
    return committing;
  }

  async #commit(): Promise<ObjectInfo> {
    const where = this.#where;
    const signal = this.writerOptions.signal;
    if (this.#state === 'aborted' || signal?.aborted) throw errAborted(`write of ${where}`, signal?.reason);
    if (this.#state !== 'open') throw errPluginFailed('s3', `commit of ${this.ctx.key}`, new Error(`the writer is ${this.#state}`));
    this.#state = 'committing';
    try {
      if (this.#failure) throw this.#failure;
      const streamError = this.stream.errored;
      if (streamError) throw isShmsnapError(streamError) ? streamError : errAborted(`write of ${where}`, streamError);
      if (!this.stream.writableFinished) {
        throw errPluginFailed('s3', `commit of ${this.ctx.key}`, new Error('the stream was not finished: end() it and wait for finish first'));
      }
      const expected = this.writerOptions.expectedBytes;
      if (expected !== undefined && this.#bytes !== expected) throw errSizeMismatch(where, expected, this.#bytes);
      // S3 would let a complete overwrite: look first, then publish conditionally where supported.
      const existing = await this.#retry('check for an existing object', () => this.#storedSize(this.#cancel.signal));
      if (existing !== undefined) throw errObjectExists(this.ctx.name, this.ctx.location);
      if (this.#partsStarted === 0) await this.#putObject();
      else await this.#completeUpload();
      if (this.#abortRequested) {
        this.#maybePublished = true;
        throw errAborted(`write of ${where}`);
      }
      this.#state = 'committed';
      this.#removeSignalListener();
      this.ctx.options.onEvent({
        type: 'upload-completed',
        key: this.ctx.key,
        bytes: this.#bytes,
        parts: this.#partsStarted,
        peakBufferedBytes: this.#peakBufferedBytes,
      });
      return { name: this.ctx.name, size: this.#bytes };
    } catch (error) {
      this.#state = 'failed';
      const failure = isShmsnapError(error) ? error : mapS3Error(error, { step: 'commit', bucket: this.ctx.bucket, key: this.ctx.key });
      this.#fail(failure);
      await this.#cleanupOnce();
      throw failure;
    }
  }

  abort(reason?: unknown): Promise<void> {
    if (this.#state === 'committed') return Promise.resolve();
    if (this.#state === 'open') this.#state = 'aborted';
    this.#abortRequested = true;
    this.#fail(isShmsnapError(reason) ? reason : errAborted(`write of ${this.#where}`, reason));
    return (async () => {
      // A commit in progress is cancelled; if it still published, it sees the abort and removes the object.
      await this.#committing?.catch(() => undefined);
      if (this.#state === 'committed') return;
      await this.#cleanupOnce();
    })();
  }

  #cleanupOnce(): Promise<void> {
    this.#cleanup ??= (async () => {
      this.#fail(errAborted(`write of ${this.#where}`));
      if (!this.stream.closed) {
        await new Promise<void>((resolve) => {
          this.stream.once('close', resolve);
          if (!this.stream.destroyed) this.stream.destroy();
        });
      }
      await this.#drain();
      await this.#abortUpload();
      if (this.#maybePublished) await this.#removeIfOurs();
      this.#removeSignalListener();
    })();
    return this.#cleanup;
  }

  async #abortUpload(): Promise<void> {
    if (!this.#upload || this.#completed) return;
    let uploadId: string;
    try {
      uploadId = await this.#upload;
    } catch {
      return; // never created: nothing to abort
    }
    const step = 'abort multipart upload';
    try {
      await this.#retry(
        step,
        () =>
          this.#call(step, undefined, (abortSignal) =>
            this.ctx.client.send(new AbortMultipartUploadCommand({ Bucket: this.ctx.bucket, Key: this.ctx.key, UploadId: uploadId }), { abortSignal }),
          ),
        null,
      );
      this.ctx.options.onEvent({ type: 'upload-aborted', key: this.ctx.key, uploadId });
    } catch (error) {
      this.ctx.options.onEvent({ type: 'upload-aborted', key: this.ctx.key, uploadId, error: mapS3Error(error, { step, bucket: this.ctx.bucket, key: this.ctx.key }) });
    }
  }

  /** A publish that failed ambiguously may have stored the object after all: commit or vanish. */
  async #removeIfOurs(): Promise<void> {
    try {
      const size = await this.#retry('check after a failed commit', () => this.#storedSize(undefined), null);
      if (size !== this.#bytes) return;
      await this.#retry(
        'remove after a failed commit',
        () =>
          this.#call('remove after a failed commit', undefined, (abortSignal) =>
            this.ctx.client.send(new DeleteObjectCommand({ Bucket: this.ctx.bucket, Key: this.ctx.key }), { abortSignal }),
          ),
        null,
      );
    } catch {
      // Best effort: the commit already failed with its own error.
    }
  }
}
