import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { errAborted, errObjectNotFound, errPermissionDenied, errRemoteFailed, isShmsnapError } from '../errors.js';
import type { ObjectInfo, ReaderOptions, Sink } from '../contracts/sink.js';
import { retryDelayMs, retryOperation, withRetry, type RetryEvent } from './with-retry.js';

const fast = { baseDelayMs: 1, maxDelayMs: 2 };
const flaky = (n: number) => errRemoteFailed('test get', `object ${n}`, true);

/**
 * A sink over one in-memory object whose calls fail as scripted: `failCalls`
 * throws before answering, `breakStreams` lists, per opened stream, after how
 * many bytes it fails with a retryable error.
 */
function flakySink(data: Buffer, script: { failCalls?: number; failWith?: () => Error; breakStreams?: number[]; rangedReads?: boolean }) {
  const calls = { stat: 0, list: 0, remove: 0, openReader: 0, freeBytes: 0, openWriter: 0 };
  const ranges: ({ start: number; end: number } | undefined)[] = [];
  let failuresLeft = script.failCalls ?? 0;
  const breaks = [...(script.breakStreams ?? [])];
  const maybeFail = (): void => {
    if (failuresLeft > 0) {
      failuresLeft -= 1;
      throw (script.failWith ?? (() => flaky(failuresLeft)))();
    }
  };
  const info: ObjectInfo = { name: 'obj.dat', size: data.length };
  const sink: Sink = {
    name: 'flaky',
    location: 'memory://flaky',
    capabilities: { rangedReads: script.rangedReads ?? true, maxConcurrency: 1, maxObjectSize: 1e9, posixAttributes: false },
    async openWriter() {
      calls.openWriter += 1;
      throw flaky(0);
    },
    async openReader(name: string, options: ReaderOptions = {}) {
      calls.openReader += 1;
      ranges.push(options.range);
      maybeFail();
      if (name !== info.name) throw errObjectNotFound(name, 'memory');
      const start = options.range?.start ?? 0;
      const end = options.range?.end ?? data.length;
      const breakAfter = breaks.shift();
      async function* chunks(): AsyncGenerator<Buffer> {
        let offset = start;
        while (offset < end) {
          const next = Math.min(end, offset + 1000);
          if (breakAfter !== undefined && next - start > breakAfter) {
            if (start + breakAfter > offset) yield data.subarray(offset, start + breakAfter);
            throw errRemoteFailed('test read', 'stream', true, new Error('connection reset'));
          }
          yield data.subarray(offset, next);
          offset = next;
        }
      }
      return Readable.from(chunks(), { objectMode: false });
    },
    async stat() {
      calls.stat += 1;
      maybeFail();
      return info;
    },
    async list() {
      calls.list += 1;
      maybeFail();
      return [info];
    },
    async remove() {
      calls.remove += 1;
      maybeFail();
    },
    async freeBytes() {
      calls.freeBytes += 1;
      maybeFail();
      return 42;
    },
  };
  return { sink, calls, ranges };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('retryOperation', () => {
  it('retries retryable failures, then returns the result', async () => {
    let attempts = 0;
    const events: RetryEvent[] = [];
    const result = await retryOperation(
      async (attempt) => {
        attempts += 1;
        assert.equal(attempt, attempts);
        if (attempts < 3) throw flaky(attempts);
        return 'done';
      },
      { ...fast, onRetry: (event) => events.push(event) },
      { what: 'upload part 1' },
    );
    assert.equal(result, 'done');
    assert.equal(attempts, 3);
    assert.deepEqual(events.map((e) => [e.what, e.attempt]), [['upload part 1', 1], ['upload part 1', 2]]);
  });

  it('fails at once on an error that is not retryable', async () => {
    let attempts = 0;
    const denied = errPermissionDenied('reading', 'bucket/key');
    await assert.rejects(
      retryOperation(async () => {
        attempts += 1;
        throw denied;
      }, fast),
      (error) => error === denied,
    );
    assert.equal(attempts, 1);
    let plain = 0;
    await assert.rejects(retryOperation(async () => {
      plain += 1;
      throw new Error('foreign errors are not known to be retryable');
    }, fast));
    assert.equal(plain, 1);
  });

  it('gives up after maxAttempts with the last error', async () => {
    let attempts = 0;
    const thrown: Error[] = [];
    await assert.rejects(
      retryOperation(async () => {
        attempts += 1;
        const error = flaky(attempts);
        thrown.push(error);
        throw error;
      }, { ...fast, maxAttempts: 4 }),
      (error) => error === thrown[3],
    );
    assert.equal(attempts, 4);
  });

  it('honours a custom isRetryable', async () => {
    let attempts = 0;
    await retryOperation(async () => {
      attempts += 1;
      if (attempts === 1) throw new Error('ECONNRESET');
    }, { ...fast, isRetryable: (error) => error instanceof Error && error.message === 'ECONNRESET' });
    assert.equal(attempts, 2);
  });

  it('ends a backoff sleep at once when the signal aborts, with the abort reason', async () => {
    const controller = new AbortController();
    let attempts = 0;
    const started = Date.now();
    const reason = errAborted('backup');
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(
      retryOperation(async () => {
        attempts += 1;
        throw flaky(attempts);
      }, { baseDelayMs: 60_000, maxDelayMs: 60_000, isRetryable: () => true }, { signal: controller.signal }),
      (error) => error === reason,
    );
    assert.equal(attempts, 1);
    assert.ok(Date.now() - started < 5_000, 'the sleep must end when the signal aborts');

    const plain = new AbortController();
    plain.abort();
    await assert.rejects(retryOperation(async () => 1, fast, { signal: plain.signal, what: 'list' }), (error) => isShmsnapError(error, 'ABORTED'));
  });

  it('uses full jitter under an exponential bound', () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1000 };
    assert.equal(retryDelayMs(1, policy, () => 0.999), 99);
    assert.equal(retryDelayMs(3, policy, () => 0.999), 399);
    assert.equal(retryDelayMs(10, policy, () => 0.999), 999);
    assert.equal(retryDelayMs(3, policy, () => 0), 0);
    assert.throws(() => retryDelayMs(1, { maxAttempts: 0 }), (error) => isShmsnapError(error, 'CONFIG_INVALID'));
  });
});

describe('withRetry', () => {
  it('retries stat, list, remove and freeBytes, and keeps name, location and capabilities', async () => {
    const { sink, calls } = flakySink(Buffer.alloc(10), { failCalls: 2 });
    const retried = withRetry(sink, fast);
    assert.equal(retried.name, 'flaky');
    assert.equal(retried.location, 'memory://flaky');
    assert.equal(retried.capabilities, sink.capabilities);
    assert.equal((await retried.stat('obj.dat'))?.size, 10);
    assert.equal(calls.stat, 3);
    const again = flakySink(Buffer.alloc(10), { failCalls: 1 });
    const wrapped = withRetry(again.sink, fast);
    assert.equal((await wrapped.list('')).length, 1);
    assert.equal(again.calls.list, 2);
    const third = flakySink(Buffer.alloc(10), { failCalls: 1 });
    await withRetry(third.sink, fast).remove('obj.dat');
    assert.equal(third.calls.remove, 2);
    const fourth = flakySink(Buffer.alloc(10), { failCalls: 1 });
    assert.equal(await withRetry(fourth.sink, fast).freeBytes?.(), 42);
    assert.equal(fourth.calls.freeBytes, 2);
  });

  it('does not retry a non-retryable failure, nor openWriter', async () => {
    const { sink, calls } = flakySink(Buffer.alloc(10), { failCalls: 3, failWith: () => errPermissionDenied('stat', 'obj.dat') });
    const retried = withRetry(sink, fast);
    await assert.rejects(retried.stat('obj.dat'), (error) => isShmsnapError(error, 'PERMISSION_DENIED'));
    assert.equal(calls.stat, 1);
    await assert.rejects(retried.openWriter('obj.dat'), (error) => isShmsnapError(error, 'REMOTE_FAILED'));
    assert.equal(calls.openWriter, 1);
  });

  it('retries opening a reader, and fails at once for a missing object', async () => {
    const data = randomBytes(5000);
    const { sink, calls } = flakySink(data, { failCalls: 2 });
    const retried = withRetry(sink, fast);
    assert.ok((await readAll(await retried.openReader('obj.dat'))).equals(data));
    assert.equal(calls.openReader, 3);
    await assert.rejects(retried.openReader('other.dat'), (error) => isShmsnapError(error, 'OBJECT_NOT_FOUND'));
    assert.equal(calls.openReader, 4);
  });

  it('resumes a reader that fails mid-way from the byte it reached, byte-identical', async () => {
    const data = randomBytes(10_000);
    const { sink, ranges } = flakySink(data, { breakStreams: [2500, 1234, 0] });
    const retried = withRetry(sink, fast);
    const back = await readAll(await retried.openReader('obj.dat'));
    assert.ok(back.equals(data), 'resumed bytes differ');
    assert.deepEqual(ranges, [undefined, { start: 2500, end: 10_000 }, { start: 3734, end: 10_000 }, { start: 3734, end: 10_000 }]);
  });

  it('resumes a ranged reader within its range', async () => {
    const data = randomBytes(10_000);
    const { sink, ranges } = flakySink(data, { breakStreams: [700] });
    const back = await readAll(await withRetry(sink, fast).openReader('obj.dat', { range: { start: 1000, end: 4000 } }));
    assert.ok(back.equals(data.subarray(1000, 4000)));
    assert.deepEqual(ranges, [{ start: 1000, end: 4000 }, { start: 1700, end: 4000 }]);
  });

  it('gives up on a stream that keeps failing without progress', async () => {
    const data = randomBytes(10_000);
    const { sink, calls } = flakySink(data, { breakStreams: [100, 0, 0, 0, 0, 0, 0] });
    const stream = await withRetry(sink, { ...fast, maxAttempts: 3 }).openReader('obj.dat');
    await assert.rejects(readAll(stream), (error) => isShmsnapError(error, 'REMOTE_FAILED'));
    assert.equal(calls.openReader, 3);
  });

  it('does not resume when the sink has no ranged reads', async () => {
    const data = randomBytes(10_000);
    const { sink, calls } = flakySink(data, { breakStreams: [100], rangedReads: false });
    const stream = await withRetry(sink, fast).openReader('obj.dat');
    await assert.rejects(readAll(stream), (error) => isShmsnapError(error, 'REMOTE_FAILED'));
    assert.equal(calls.openReader, 1);
  });
});
