/**
 * Publishing an S3 object without overwriting one, when answers can be lost.
 *
 * S3 lets a PutObject or a CompleteMultipartUpload overwrite, and a lost
 * answer leaves unknown whether the store acted. So a `Publication`:
 * - looks first (HEAD): an object of that name fails it with OBJECT_EXISTS;
 * - sends with `If-None-Match: *`, unless the store once answered 501 to it
 *   (remembered for the whole sink in `conditionalWrites`); the HEAD check is
 *   then the only guard, as it is on stores that ignore the header (Ceph's
 *   CompleteMultipartUpload does);
 * - before a retry, looks whether the lost attempt landed: an object of our
 *   size is ours (done), any other is someone else's (OBJECT_EXISTS);
 * - remembers when an attempt may have stored the object, so that
 *   `removeIfOurs` can make a failed or aborted commit vanish all the same.
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { errObjectExists, isShmsnapError, retryOperation, type RetryPolicy } from '@shmsnap/core/plugin-kit';
import { callS3, headObject, type S3ObjectAddress } from './s3-client.js';
import { isNotImplemented } from './s3-errors.js';

/** One attempt to publish; `ifNoneMatch` asks the store to refuse a key that exists. */
export type PublishRequest = (ifNoneMatch: boolean, abortSignal: AbortSignal | undefined) => Promise<unknown>;

export interface PublishTarget extends S3ObjectAddress {
  /** The object's name below the location, and the printable location: for OBJECT_EXISTS. */
  readonly name: string;
  readonly location: string;
  readonly retry: RetryPolicy;
  /** Shared by a sink's writers: turns false once the store answers 501 to If-None-Match. */
  readonly conditionalWrites: { supported: boolean };
}

export class Publication {
  /** An attempt may have stored the object: undoing must look for it. */
  #maybeStored = false;

  constructor(
    private readonly target: PublishTarget,
    /** The object's size: how a stored object is recognised as ours. */
    private readonly bytes: number,
  ) {}

  #retried<T>(step: string, signal: AbortSignal | undefined, operation: (attempt: number) => Promise<T>): Promise<T> {
    return retryOperation(operation, this.target.retry, { what: `s3 ${step} of ${this.target.key}`, signal });
  }

  /** The size of the object now stored under the key, or undefined. */
  async #storedSize(step: string, signal: AbortSignal | undefined): Promise<number | undefined> {
    const answer = await headObject(this.target, step, signal);
    return answer === undefined ? undefined : (answer.ContentLength ?? 0);
  }

  /** After a lost answer: whether our earlier attempt stored the object (it did not exist before we published). */
  async #landed(signal: AbortSignal): Promise<boolean> {
    const size = await this.#storedSize('check whether the object landed', signal);
    if (size === undefined) return false;
    if (size === this.bytes) return true;
    throw errObjectExists(this.target.name, this.target.location);
  }

  async #conditional(step: string, send: PublishRequest, signal: AbortSignal): Promise<void> {
    const { bucket, key, conditionalWrites } = this.target;
    if (conditionalWrites.supported) {
      try {
        await callS3({ step, bucket, key, signal }, (abortSignal) => send(true, abortSignal));
        return;
      } catch (error) {
        if (!isNotImplemented(error)) throw error;
        conditionalWrites.supported = false;
      }
    }
    await callS3({ step, bucket, key, signal }, (abortSignal) => send(false, abortSignal));
  }

  /** Publishes through `send`, retried; fails with OBJECT_EXISTS rather than overwrite. `signal` cancels it. */
  async publish(step: string, send: PublishRequest, signal: AbortSignal): Promise<void> {
    const check = 'check for an existing object';
    const existing = await this.#retried(check, signal, () => this.#storedSize(check, signal));
    if (existing !== undefined) throw errObjectExists(this.target.name, this.target.location);
    await this.#retried(step, signal, async (attempt) => {
      if (attempt > 1 && (await this.#landed(signal))) return;
      try {
        await this.#conditional(step, send, signal);
      } catch (error) {
        // A dropped connection, a 5xx or a cancel may come after the store acted.
        if (isShmsnapError(error) && (error.retryable || error.code === 'ABORTED')) this.#maybeStored = true;
        throw error;
      }
    });
    // Stored. Should an abort still win over the commit, removeIfOurs takes it back.
    this.#maybeStored = true;
  }

  /**
   * After a failed or aborted commit: removes the object if an attempt may
   * have stored it and it is ours (our size). Not cancellable: it is the
   * clean-up after a cancel. Its own failure is thrown, since the object may
   * then be visible.
   */
  async removeIfOurs(): Promise<void> {
    if (!this.#maybeStored) return;
    const check = 'check after a failed commit';
    const size = await this.#retried(check, undefined, () => this.#storedSize(check, undefined));
    if (size !== this.bytes) return;
    const { client, bucket, key } = this.target;
    const step = 'remove after a failed commit';
    await this.#retried(step, undefined, () =>
      callS3({ step, bucket, key }, (abortSignal) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal })),
    );
  }
}
