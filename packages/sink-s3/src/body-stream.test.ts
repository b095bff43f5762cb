import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { errRemoteFailed, isShmsnapError } from '@shmsnap/core';
import { bodyStream } from './body-stream.js';

const where = 's3://bkt/key';
const mapError = (error: unknown) => errRemoteFailed('s3 read', where, true, error);
const body = (...parts: string[]) => Readable.from(parts.map((p) => Buffer.from(p)));

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('bodyStream', () => {
  it('passes the body through, checking its length', async () => {
    assert.equal(await text(bodyStream(body('abc', 'def'), { expectedBytes: 6, where, mapError })), 'abcdef');
    assert.equal(await text(bodyStream(undefined, { expectedBytes: 0, where, mapError })), '');
  });

  it('trims an answer larger than the range asked for, across chunk boundaries', async () => {
    // A store that ignored Range: the whole object, of which bytes 4..8 were asked for.
    assert.equal(await text(bodyStream(body('abc', 'defgh', 'ijk'), { expectedBytes: 11, skip: 4, limit: 4, where, mapError })), 'efgh');
    // s3rver's answer to bytes=0-0: everything from 0.
    assert.equal(await text(bodyStream(body('abcdef'), { expectedBytes: 6, limit: 1, where, mapError })), 'a');
  });

  it('reports a body that ends short as a retryable failure', async () => {
    await assert.rejects(text(bodyStream(body('abc'), { expectedBytes: 10, where, mapError })), (error) => isShmsnapError(error, 'REMOTE_FAILED') && error.retryable && /after 3 of 10 bytes/.test(error.message));
  });

  it('maps a failing body', async () => {
    const failing = new Readable({
      read() {
        this.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
      },
    });
    await assert.rejects(text(bodyStream(failing, { expectedBytes: 10, where, mapError })), (error) => isShmsnapError(error, 'REMOTE_FAILED'));
  });
});
