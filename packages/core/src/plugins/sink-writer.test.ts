import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { errAborted, errIoFailed, errPermissionDenied, isShmsnapError, type ErrorCode } from '../errors.js';
import type { ObjectInfo } from '../contracts/sink.js';
import { createSinkWriter, type SinkWriterOptions } from './sink-writer.js';

/**
 * A sink's parts, recorded: a Writable that counts bytes and can hold back
 * its 'close' (as a sink's stream does while I/O is in flight), and
 * publish/discard hooks that log what they saw.
 */
function fakeSink(script: { publish?: (signal: AbortSignal) => Promise<void>; discard?: () => Promise<void>; closeDelayMs?: number } = {}) {
  const log: string[] = [];
  let bytes = 0;
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback();
    },
    destroy(error, callback) {
      setTimeout(() => {
        log.push('closed');
        callback(error);
      }, script.closeDelayMs ?? 0);
    },
  });
  const hooks = {
    plugin: 'fake',
    object: 'mem://x.dat',
    stream,
    bytesWritten: () => bytes,
    async publish(signal: AbortSignal): Promise<ObjectInfo> {
      log.push(`publish (closed: ${stream.closed})`);
      await script.publish?.(signal);
      log.push('published');
      return { name: 'x.dat', size: bytes };
    },
    async discard(): Promise<void> {
      log.push(`discard (closed: ${stream.closed})`);
      await script.discard?.();
    },
  } satisfies SinkWriterOptions;
  return { log, stream, hooks };
}

/** What `promise` rejected with; fails the test if it resolved. */
const rejection = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => assert.fail('expected a rejection'),
    (error: unknown) => error,
  );

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<unknown> {
  const error = await rejection(promise);
  assert.ok(isShmsnapError(error, code), `expected ${code}, got ${String(error)}`);
  return error;
}

/** 'close', whether or not 'error' came first (events.once would reject on it). */
const closeOf = (stream: Writable): Promise<void> => new Promise((resolve) => stream.once('close', resolve));

async function endWith(stream: Writable, data: Buffer): Promise<void> {
  const done = once(stream, 'finish');
  stream.end(data);
  await done;
}

/** A writer over a fake sink whose stream was given `data` and has finished. */
async function finishedWriter(script: Parameters<typeof fakeSink>[0] = {}, options: Partial<SinkWriterOptions> = {}, data = 'abc') {
  const sink = fakeSink(script);
  const writer = createSinkWriter({ ...sink.hooks, ...options });
  await endWith(sink.stream, Buffer.from(data));
  return { ...sink, writer };
}

describe('createSinkWriter', () => {
  it('open → committing → committed: publishes once, after the stream closed', async () => {
    const { log, stream, hooks } = fakeSink({ closeDelayMs: 20 });
    const writer = createSinkWriter({ ...hooks, expectedBytes: 5 });
    assert.equal(writer.stream, stream);
    await endWith(stream, Buffer.from('hello'));
    assert.deepEqual(await writer.commit(), { name: 'x.dat', size: 5 });
    assert.deepEqual(log, ['closed', 'publish (closed: true)', 'published']);
    // committed is final: abort does nothing, and the object stays.
    await writer.abort(new Error('too late'));
    assert.deepEqual(log, ['closed', 'publish (closed: true)', 'published']);
  });

  it('commit() twice, together or after, returns the same promise and publishes once', async () => {
    const { log, writer } = await finishedWriter();
    const first = writer.commit();
    const second = writer.commit();
    assert.equal(first, second);
    await first;
    assert.equal(writer.commit(), first);
    assert.equal(log.filter((line) => line.startsWith('publish (')).length, 1);
  });

  it('a failed commit is final: commit() again rejects the same way without publishing again', async () => {
    const { log, writer } = await finishedWriter({}, { expectedBytes: 4 });
    const first = await rejectsWith(writer.commit(), 'SIZE_MISMATCH');
    assert.equal(await rejection(writer.commit()), first);
    assert.deepEqual(log, ['closed', 'discard (closed: true)']);
  });

  it('waits for a stream that was ended but has not finished', async () => {
    const { log, stream, hooks } = fakeSink();
    const writer = createSinkWriter(hooks);
    stream.end(Buffer.from('abc'));
    assert.equal(stream.writableFinished, false);
    assert.equal((await writer.commit()).size, 3);
    assert.deepEqual(log, ['closed', 'publish (closed: true)', 'published']);
  });

  it('commit() before end() is a caller bug: INTERNAL, and the writer is discarded', async () => {
    const { log, stream, hooks } = fakeSink();
    const writer = createSinkWriter(hooks);
    stream.write(Buffer.from('abc'));
    await rejectsWith(writer.commit(), 'INTERNAL');
    assert.deepEqual(log, ['closed', 'discard (closed: true)']);
    await writer.abort();
  });

  it('open → aborted: abort destroys the stream with ABORTED, discards once, and is idempotent', async () => {
    const { log, stream, hooks } = fakeSink({ closeDelayMs: 10 });
    const writer = createSinkWriter(hooks);
    const endless = Readable.from(
      (async function* () {
        for (;;) {
          await new Promise((resolve) => setImmediate(resolve));
          yield Buffer.alloc(1000);
        }
      })(),
    );
    const writing = pipeline(endless, stream);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await Promise.all([writer.abort(new Error('changed my mind')), writer.abort()]);
    await writer.abort();
    await rejectsWith(writing, 'ABORTED');
    assert.deepEqual(log, ['closed', 'discard (closed: true)']);
  });

  it('commit after abort fails with ABORTED and publishes nothing', async () => {
    const { log, writer } = await finishedWriter();
    await writer.abort(new Error('no'));
    const error = await rejectsWith(writer.commit(), 'ABORTED');
    assert.match(String((error as Error).cause), /no/);
    assert.ok(!log.some((line) => line.startsWith('publish')));
  });

  it('size mismatch: fewer bytes than expected fail with SIZE_MISMATCH before publishing, and discard', async () => {
    const { log, writer } = await finishedWriter({}, { expectedBytes: 10 }, '12345');
    const error = await rejectsWith(writer.commit(), 'SIZE_MISMATCH');
    assert.deepEqual(isShmsnapError(error) && [error.details['expected'], error.details['actual']], [10, 5]);
    assert.deepEqual(log, ['closed', 'discard (closed: true)']);
    await writer.abort();
    assert.equal(log.filter((line) => line.startsWith('discard')).length, 1);
  });

  it('signal aborting while open aborts the writer, keeping a coded reason', async () => {
    const { log, stream, hooks } = fakeSink();
    const controller = new AbortController();
    const writer = createSinkWriter({ ...hooks, signal: controller.signal });
    stream.write(Buffer.from('abc'));
    const interrupt = errAborted('backup');
    controller.abort(interrupt);
    await closeOf(stream);
    assert.equal(await rejection(writer.commit()), interrupt);
    await writer.abort();
    assert.deepEqual(log, ['closed', 'discard (closed: true)']);
  });

  it('a signal that already aborted aborts the writer at once', async () => {
    const { log, hooks } = fakeSink();
    const writer = createSinkWriter({ ...hooks, signal: AbortSignal.abort(new Error('gone')) });
    await rejectsWith(writer.commit(), 'ABORTED');
    await writer.abort();
    assert.deepEqual(log, ['closed', 'discard (closed: true)']);
  });

  it('committing → aborted: abort() during commit cancels publish, rejects the commit with ABORTED and removes what was published', async () => {
    let publishSignal: AbortSignal | undefined;
    const { log, writer } = await finishedWriter({
      publish: async (signal) => {
        publishSignal = signal;
        // A publish that ignores its signal and lands anyway: the discard must remove it.
        await new Promise((resolve) => setTimeout(resolve, 10));
      },
    });
    const committing = writer.commit();
    await new Promise((resolve) => setTimeout(resolve, 2));
    await writer.abort();
    await rejectsWith(committing, 'ABORTED');
    assert.equal(publishSignal?.aborted, true);
    assert.deepEqual(log, ['closed', 'publish (closed: true)', 'published', 'discard (closed: true)']);
  });

  it('abort() in the same turn as commit() wins before publish starts', async () => {
    const { log, writer } = await finishedWriter();
    const committing = writer.commit();
    const aborting = writer.abort();
    await rejectsWith(committing, 'ABORTED');
    await aborting;
    assert.deepEqual(log, ['closed', 'discard (closed: true)']);
  });

  it('signal aborting during commit is an abort during commit', async () => {
    const controller = new AbortController();
    const publish = async (signal: AbortSignal): Promise<void> => {
      controller.abort();
      assert.equal(signal.aborted, true);
    };
    const { log, writer } = await finishedWriter({ publish }, { signal: controller.signal });
    await rejectsWith(writer.commit(), 'ABORTED');
    await writer.abort();
    assert.deepEqual(log, ['closed', 'publish (closed: true)', 'published', 'discard (closed: true)']);
  });

  it('the signal is let go of once committed', async () => {
    const controller = new AbortController();
    const { log, writer } = await finishedWriter({}, { signal: controller.signal });
    await writer.commit();
    controller.abort();
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(!log.some((line) => line.startsWith('discard')));
  });

  it('committing → failed: a failed publish discards; a coded error is kept, a foreign one is wrapped with the plugin', async () => {
    for (const [thrown, code] of [
      [errPermissionDenied('link', '/x'), 'PERMISSION_DENIED'],
      [new Error('boom'), 'PLUGIN_FAILED'],
    ] as const) {
      const { log, writer } = await finishedWriter({ publish: () => Promise.reject(thrown) });
      const error = await rejectsWith(writer.commit(), code);
      if (code === 'PLUGIN_FAILED') assert.deepEqual(isShmsnapError(error) && error.details, { plugin: 'fake', step: 'the commit of mem://x.dat', stage: 'commit', object: 'mem://x.dat' });
      assert.deepEqual(log, ['closed', 'publish (closed: true)', 'discard (closed: true)']);
      await writer.abort();
    }
  });

  it('a failed discard is reported: abort() rejects with it, the failed commit carries it', async () => {
    const { writer } = await finishedWriter({ publish: () => Promise.reject(errIoFailed('link', '/x')), discard: () => Promise.reject(new Error('unlink refused')) });
    const error = await rejectsWith(writer.commit(), 'IO_FAILED');
    const discardError = isShmsnapError(error) ? error.details['discardError'] : undefined;
    assert.ok(isShmsnapError(discardError, 'PLUGIN_FAILED') && /unlink refused/.test(discardError.message), String(discardError));
    assert.equal(await rejection(writer.abort()), discardError);
    assert.equal(await rejection(writer.abort()), discardError);

    const aborted = fakeSink({ discard: () => Promise.reject(errPermissionDenied('remove', '/x')) });
    const second = createSinkWriter(aborted.hooks);
    await rejectsWith(second.abort(), 'PERMISSION_DENIED');
  });

  it('open → failed: a stream that breaks is discarded at once, and commit() reports its error', async () => {
    const failing = fakeSink();
    const writer = createSinkWriter(failing.hooks);
    const full = errIoFailed('write', '/x');
    failing.stream.destroy(full);
    await closeOf(failing.stream);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(failing.log, ['closed', 'discard (closed: true)']);
    assert.equal(await rejection(writer.commit()), full);
    await writer.abort();
    assert.equal(failing.log.filter((line) => line.startsWith('discard')).length, 1);

    // Destroyed with a foreign error (a pipeline whose source failed): the write was interrupted.
    const broken = fakeSink();
    const other = createSinkWriter(broken.hooks);
    await assert.rejects(pipeline(Readable.from((async function* () { yield Buffer.from('a'); throw new Error('source failed'); })()), broken.stream), /source failed/);
    await rejectsWith(other.commit(), 'ABORTED');
  });

  it('the stream failing never crashes a caller that does not listen for errors', async () => {
    const { stream, hooks } = fakeSink();
    const writer = createSinkWriter(hooks);
    stream.destroy(new Error('nobody listens'));
    await rejectsWith(writer.commit(), 'ABORTED');
  });
});
