/**
 * A GetObject body as the sink hands it out: streamed with backpressure
 * (never buffered whole), its failures turned into coded errors, and a body
 * that ends short of its Content-Length reported as the retryable failure it
 * is, so that `withRetry` resumes it rather than a restore taking a
 * truncated object for a whole one.
 *
 * It also trims an answer that holds more than was asked: s3rver answers
 * `Range: bytes=0-0` with the whole object, and a store that ignores Range
 * answers 200 with everything. The caller must get exactly its range.
 */
import { Readable } from 'node:stream';
import { errRemoteFailed, type ShmsnapError } from '@shmsnap/core/plugin-kit';

export interface BodyStreamOptions {
  /** Content-Length of the answer, when it said. */
  readonly expectedBytes: number | undefined;
  /** Bytes at the start of the answer that precede what was asked for. @default 0 */
  readonly skip?: number;
  /** Most bytes to pass on. @default all */
  readonly limit?: number;
  /** `s3://bucket/key`, for messages. */
  readonly where: string;
  readonly mapError: (error: unknown) => ShmsnapError;
}

export function bodyStream(body: Readable | undefined, options: BodyStreamOptions): Readable {
  const { limit } = options;
  async function* relay(): AsyncGenerator<Buffer> {
    let received = 0;
    let passed = 0;
    let skip = options.skip ?? 0;
    if (body) {
      try {
        for await (const chunk of body) {
          let piece = chunk as Buffer;
          received += piece.length;
          if (skip > 0) {
            const skipped = Math.min(skip, piece.length);
            piece = piece.subarray(skipped);
            skip -= skipped;
          }
          if (limit !== undefined) piece = piece.subarray(0, limit - passed);
          if (piece.length > 0) {
            passed += piece.length;
            yield piece;
          }
          // Leaving the loop destroys the body: the rest was not asked for.
          if (limit !== undefined && passed >= limit) return;
        }
      } catch (error) {
        throw options.mapError(error);
      }
    }
    const expected = options.expectedBytes;
    if (expected !== undefined && received !== expected) {
      throw errRemoteFailed('s3 read', options.where, true, new Error(`the connection ended after ${received} of ${expected} bytes`));
    }
  }
  return Readable.from(relay(), { objectMode: false });
}
