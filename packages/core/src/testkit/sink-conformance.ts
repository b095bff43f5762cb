/**
 * The sink conformance suite. Every sink, ours and third-party ones, runs
 * it against itself:
 *
 *   import { describeSinkConformance } from '@shmsnap/core/testkit';
 *   describeSinkConformance({ name: 'my-sink', setup: async () => ({ sink, cleanup }) });
 *
 * Each case checks one guarantee of the contract in `sink.ts`; the hostile
 * ones (a source that fails mid-write, a wrong byte count, abort mid-write,
 * an abort signal, an abort racing a commit, a commit before the stream
 * ended, a name that tries to escape) must each fail with a coded error and
 * leave no visible object. A case can only be skipped with a reason, which
 * is printed. Sinks built on core's `createSinkWriter` get the writer cases
 * right by construction; the kit checks them all the same.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { crc32 } from '../pipeline/checksum.js';
import { isShmsnapError, type ErrorCode } from '../errors.js';
import type { Sink, SinkWriter } from '../contracts/sink.js';

export const CONFORMANCE_CASES = [
  'round-trip',
  'zero-length',
  'large-object',
  'ranged-read',
  'invisible-until-commit',
  'abort-mid-write',
  'source-fails-mid-write',
  'fewer-bytes-than-expected',
  'more-bytes-than-expected',
  'abort-signal',
  'no-overwrite',
  'invalid-names',
  'remove',
  'list-prefix',
  'missing-object',
  'abort-is-idempotent',
  'concurrent-writers',
  'commit-twice',
  'abort-during-commit',
  'abort-after-commit',
  'commit-before-end',
  'sweep',
] as const;

export type ConformanceCase = (typeof CONFORMANCE_CASES)[number];

export interface SinkUnderTest {
  readonly sink: Sink;
  /** Removes everything the test created (the location itself included). */
  cleanup(): Promise<void>;
}

export interface SinkConformanceOptions {
  /** Shown in the test names. */
  readonly name: string;
  /** A fresh, empty location for one test case. */
  setup(): Promise<SinkUnderTest>;
  /** Cases that cannot run against this sink, each with the reason (printed). */
  readonly skip?: Partial<Record<ConformanceCase, string>>;
  /** Size of the large-object case; pick one that spans several parts for multipart sinks. @default 9 MiB + 7 */
  readonly largeObjectBytes?: number;
  /** Chunk size used to stream the large object. @default 256 KiB */
  readonly chunkBytes?: number;
  /** Bytes the sweep case writes and leaves uncommitted: enough for the sink to store something (S3: more than one part). @default 64 KiB */
  readonly sweepWriteBytes?: number;
}

async function readAll(sink: Sink, name: string, range?: { start: number; end: number }): Promise<Buffer> {
  const stream = await sink.openReader(name, range ? { range } : {});
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function writeAll(writer: SinkWriter, data: Buffer, chunkBytes: number): Promise<void> {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += chunkBytes) chunks.push(data.subarray(offset, offset + chunkBytes));
  await pipeline(Readable.from(chunks, { objectMode: false }), writer.stream);
}

async function put(sink: Sink, name: string, data: Buffer): Promise<void> {
  const writer = await sink.openWriter(name, { expectedBytes: data.length });
  await writeAll(writer, data, 64 * 1024);
  await writer.commit();
}

async function assertRejectsWithCode(promise: Promise<unknown>, codes: readonly ErrorCode[], what: string): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught !== undefined, `${what}: expected a failure, but it succeeded`);
  assert.ok(
    isShmsnapError(caught) && codes.includes(caught.code),
    `${what}: expected a coded error (${codes.join(' or ')}), got ${isShmsnapError(caught) ? caught.code : String(caught)}`,
  );
}

async function assertInvisible(sink: Sink, name: string): Promise<void> {
  const listed = await sink.list('');
  assert.deepEqual(
    listed.map((o) => o.name),
    [],
    `nothing may be listed, found ${listed.map((o) => o.name).join(', ')}`,
  );
  assert.equal(await sink.stat(name), undefined, `${name} must not be visible to stat`);
  await assertRejectsWithCode(readAll(sink, name), ['OBJECT_NOT_FOUND'], `reading ${name}`);
}

/** Writes part of `data`, then leaves the writer open for the caller to break. */
async function startWriting(writer: SinkWriter, data: Buffer): Promise<void> {
  const accepted = writer.stream.write(data);
  if (!accepted) await once(writer.stream, 'drain');
}

export function describeSinkConformance(options: SinkConformanceOptions): void {
  const largeBytes = options.largeObjectBytes ?? 9 * 1024 * 1024 + 7;
  const chunkBytes = options.chunkBytes ?? 256 * 1024;

  const check = (name: ConformanceCase, body: (sink: Sink, skip: (reason: string) => void) => Promise<void>): void => {
    const reason = options.skip?.[name];
    if (reason !== undefined) {
      it(name, { skip: `${options.name}: ${reason}` }, () => undefined);
      return;
    }
    it(name, async (t) => {
      const { sink, cleanup } = await options.setup();
      try {
        await body(sink, (why) => t.skip(`${options.name}: ${why}`));
      } finally {
        await cleanup();
      }
    });
  };

  describe(`sink conformance: ${options.name}`, () => {
    check('round-trip', async (sink) => {
      const data = randomBytes(100_003);
      await put(sink, 'ae001100.dat', data);
      const info = await sink.stat('ae001100.dat');
      assert.equal(info?.size, data.length);
      assert.deepEqual((await sink.list('')).map((o) => [o.name, o.size]), [['ae001100.dat', data.length]]);
      assert.ok((await readAll(sink, 'ae001100.dat')).equals(data), 'bytes read back differ from bytes written');
    });

    check('zero-length', async (sink) => {
      await put(sink, 'empty.dat', Buffer.alloc(0));
      assert.equal((await sink.stat('empty.dat'))?.size, 0);
      assert.equal((await readAll(sink, 'empty.dat')).length, 0);
      assert.deepEqual((await sink.list('')).map((o) => o.name), ['empty.dat']);
    });

    check('large-object', async (sink) => {
      const data = randomBytes(largeBytes);
      const writer = await sink.openWriter('large.dat', { expectedBytes: data.length });
      await writeAll(writer, data, chunkBytes);
      const info = await writer.commit();
      assert.equal(info.size, data.length);
      const back = await readAll(sink, 'large.dat');
      assert.equal(back.length, data.length);
      assert.equal(crc32(back), crc32(data), 'CRC-32 of the object read back differs');
    });

    check('ranged-read', async (sink) => {
      const data = randomBytes(300_000);
      await put(sink, 'ranged.dat', data);
      assert.ok((await readAll(sink, 'ranged.dat', { start: 1000, end: 1024 })).equals(data.subarray(1000, 1024)));
      assert.ok((await readAll(sink, 'ranged.dat', { start: 0, end: 1 })).equals(data.subarray(0, 1)));
      assert.ok((await readAll(sink, 'ranged.dat', { start: 299_990, end: 300_000 })).equals(data.subarray(299_990)));
    });

    check('invisible-until-commit', async (sink) => {
      const data = randomBytes(200_000);
      const writer = await sink.openWriter('pending.dat', { expectedBytes: data.length });
      await startWriting(writer, data.subarray(0, 100_000));
      assert.deepEqual((await sink.list('')).map((o) => o.name), [], 'list during a write must not show the object');
      assert.equal(await sink.stat('pending.dat'), undefined, 'stat during a write must not see the object');
      writer.stream.end(data.subarray(100_000));
      await once(writer.stream, 'finish');
      assert.equal(await sink.stat('pending.dat'), undefined, 'a finished but uncommitted object must not be visible');
      await writer.commit();
      assert.equal((await sink.stat('pending.dat'))?.size, data.length);
    });

    check('abort-mid-write', async (sink) => {
      const writer = await sink.openWriter('aborted.dat', { expectedBytes: 1_000_000 });
      await startWriting(writer, randomBytes(300_000));
      await writer.abort(new Error('test abort'));
      await assertInvisible(sink, 'aborted.dat');
      await assertRejectsWithCode(writer.commit(), ['ABORTED'], 'commit after abort');
      await assertInvisible(sink, 'aborted.dat');
    });

    check('source-fails-mid-write', async (sink) => {
      const writer = await sink.openWriter('broken.dat', { expectedBytes: 1_000_000 });
      let sent = 0;
      const failing = new Readable({
        read() {
          if (sent >= 400_000) {
            this.destroy(new Error('source failed mid-write'));
            return;
          }
          sent += 100_000;
          this.push(randomBytes(100_000));
        },
      });
      await assert.rejects(pipeline(failing, writer.stream), /source failed mid-write/);
      await assertRejectsWithCode(writer.commit(), ['ABORTED', 'IO_FAILED', 'PLUGIN_FAILED', 'SIZE_MISMATCH'], 'commit after a failed source');
      await writer.abort();
      await assertInvisible(sink, 'broken.dat');
    });

    check('fewer-bytes-than-expected', async (sink) => {
      const writer = await sink.openWriter('short.dat', { expectedBytes: 1000 });
      await writeAll(writer, randomBytes(999), 100);
      await assertRejectsWithCode(writer.commit(), ['SIZE_MISMATCH'], 'commit of 999 of 1000 bytes');
      await writer.abort();
      await assertInvisible(sink, 'short.dat');
    });

    check('more-bytes-than-expected', async (sink) => {
      const writer = await sink.openWriter('long.dat', { expectedBytes: 1000 });
      const written = writeAll(writer, randomBytes(1001), 100).then(
        () => writer.commit(),
        (error: unknown) => Promise.reject(error),
      );
      await assertRejectsWithCode(written, ['SIZE_MISMATCH'], 'writing 1001 of 1000 bytes');
      await writer.abort();
      await assertInvisible(sink, 'long.dat');
    });

    check('abort-signal', async (sink) => {
      const controller = new AbortController();
      const writer = await sink.openWriter('signalled.dat', { expectedBytes: 1_000_000, signal: controller.signal });
      await startWriting(writer, randomBytes(200_000));
      controller.abort();
      await assertRejectsWithCode(
        (async () => {
          if (!writer.stream.destroyed) await once(writer.stream, 'close');
          await writer.commit();
        })(),
        ['ABORTED'],
        'commit after the signal aborted',
      );
      await writer.abort();
      await assertInvisible(sink, 'signalled.dat');
    });

    check('no-overwrite', async (sink) => {
      const first = randomBytes(5000);
      await put(sink, 'once.dat', first);
      await assertRejectsWithCode(
        (async () => {
          const writer = await sink.openWriter('once.dat', { expectedBytes: 10 });
          try {
            await writeAll(writer, randomBytes(10), 10);
            await writer.commit();
          } catch (error) {
            await writer.abort();
            throw error;
          }
        })(),
        ['OBJECT_EXISTS'],
        'a second write of the same name',
      );
      assert.ok((await readAll(sink, 'once.dat')).equals(first), 'the existing object was changed');
      assert.deepEqual((await sink.list('')).map((o) => o.name), ['once.dat']);
    });

    check('invalid-names', async (sink) => {
      for (const name of ['', '.', '..', '../escape.dat', 'a/b.dat', '/etc/passwd', '.hidden', 'back\\slash', 'nul\0.dat']) {
        await assertRejectsWithCode(sink.openWriter(name, { expectedBytes: 1 }), ['NAME_INVALID'], `openWriter(${JSON.stringify(name)})`);
      }
      await assertRejectsWithCode(sink.openReader('../escape.dat'), ['NAME_INVALID'], 'openReader(../escape.dat)');
      assert.deepEqual(await sink.list(''), []);
    });

    check('remove', async (sink) => {
      await put(sink, 'gone.dat', randomBytes(10));
      await sink.remove('gone.dat');
      await assertInvisible(sink, 'gone.dat');
      await sink.remove('gone.dat'); // removing what is not there is not an error
    });

    check('list-prefix', async (sink) => {
      for (const name of ['ae001101.dat', 'ae001100.dat', 'ad001000.dat', 'manifest.json']) await put(sink, name, randomBytes(3));
      assert.deepEqual((await sink.list('ae')).map((o) => o.name), ['ae001100.dat', 'ae001101.dat']);
      assert.deepEqual((await sink.list('')).map((o) => o.name), ['ad001000.dat', 'ae001100.dat', 'ae001101.dat', 'manifest.json']);
    });

    check('missing-object', async (sink) => {
      await assertRejectsWithCode(readAll(sink, 'nothing.dat'), ['OBJECT_NOT_FOUND'], 'reading a missing object');
      assert.equal(await sink.stat('nothing.dat'), undefined);
    });

    check('abort-is-idempotent', async (sink) => {
      const writer = await sink.openWriter('twice.dat', { expectedBytes: 10 });
      await writeAll(writer, randomBytes(5), 5);
      await assertRejectsWithCode(writer.commit(), ['SIZE_MISMATCH'], 'commit of 5 of 10 bytes');
      await writer.abort();
      await writer.abort();
      await assertInvisible(sink, 'twice.dat');
    });

    check('concurrent-writers', async (sink) => {
      const objects = Array.from({ length: 6 }, (_, i) => ({ name: `ae0011${String(i).padStart(2, '0')}.dat`, data: randomBytes(50_000 + i) }));
      await Promise.all(objects.map((o) => put(sink, o.name, o.data)));
      assert.deepEqual((await sink.list('')).map((o) => o.name), objects.map((o) => o.name));
      for (const o of objects) assert.ok((await readAll(sink, o.name)).equals(o.data), `${o.name} differs`);
    });

    check('commit-twice', async (sink) => {
      const data = randomBytes(10_000);
      const writer = await sink.openWriter('twice.dat', { expectedBytes: data.length });
      await writeAll(writer, data, 4096);
      // Together and after: one object, one outcome, never a second publish.
      const [first, second] = await Promise.all([writer.commit(), writer.commit()]);
      const third = await writer.commit();
      for (const info of [first, second, third]) assert.equal(info.size, data.length);
      assert.deepEqual((await sink.list('')).map((o) => o.name), ['twice.dat']);
      assert.ok((await readAll(sink, 'twice.dat')).equals(data));

      const failing = await sink.openWriter('short.dat', { expectedBytes: 10 });
      await writeAll(failing, randomBytes(5), 5);
      await assertRejectsWithCode(failing.commit(), ['SIZE_MISMATCH'], 'a commit of 5 of 10 bytes');
      await assertRejectsWithCode(failing.commit(), ['SIZE_MISMATCH'], 'the same commit again');
      await failing.abort();
      assert.deepEqual((await sink.list('')).map((o) => o.name), ['twice.dat']);
    });

    check('abort-during-commit', async (sink) => {
      const data = randomBytes(100_000);
      const viaAbort = await sink.openWriter('raced.dat', { expectedBytes: data.length });
      await writeAll(viaAbort, data, 16_384);
      const committing = viaAbort.commit();
      await viaAbort.abort(new Error('test abort during commit'));
      await assertRejectsWithCode(committing, ['ABORTED'], 'a commit that abort() overtook');
      await assertInvisible(sink, 'raced.dat');

      const controller = new AbortController();
      const viaSignal = await sink.openWriter('raced.dat', { expectedBytes: data.length, signal: controller.signal });
      await writeAll(viaSignal, data, 16_384);
      const signalled = viaSignal.commit();
      controller.abort();
      await assertRejectsWithCode(signalled, ['ABORTED'], 'a commit the signal overtook');
      await viaSignal.abort();
      await assertInvisible(sink, 'raced.dat');
    });

    check('abort-after-commit', async (sink) => {
      const data = randomBytes(1000);
      const controller = new AbortController();
      const writer = await sink.openWriter('kept.dat', { expectedBytes: data.length, signal: controller.signal });
      await writeAll(writer, data, 100);
      await writer.commit();
      // A committed object is the caller's: neither abort() nor the signal takes it back.
      await writer.abort(new Error('too late'));
      controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 10));
      assert.ok((await readAll(sink, 'kept.dat')).equals(data), 'the committed object must stay');
    });

    // Only for a sink that has the optional sweep; the case says so when it has none.
    check('sweep', async (sink, skip) => {
      if (!sink.sweep) return skip('the sink has no sweep (it is optional)');
      const probe = await sink.sweep({ olderThan: new Date(0), dryRun: true });
      if (probe.unsupported !== undefined) return skip(`the store cannot list unfinished writes: ${probe.unsupported}`);
      const future = (): Date => new Date(Date.now() + 3_600_000);
      await put(sink, 'kept.dat', randomBytes(1000));
      const writer = await sink.openWriter('stale.dat');
      await startWriting(writer, randomBytes(options.sweepWriteBytes ?? 64 * 1024));
      // The sink stores the write in its own time (S3: the upload begins with the first full part): wait for it, boundedly.
      let found: readonly string[] = [];
      for (let attempt = 0; attempt < 100 && !found.includes('stale.dat'); attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
        found = (await sink.sweep({ olderThan: future(), dryRun: true })).entries.filter((e) => e.kind === 'write').map((e) => e.name);
      }
      assert.deepEqual(found, ['stale.dat'], 'a dry sweep with a threshold ahead of now finds the uncommitted write');
      const past = await sink.sweep({ olderThan: new Date(Date.now() - 3_600_000) });
      assert.deepEqual(past.entries.filter((e) => e.kind === 'write'), [], 'a write begun after the threshold is never touched');
      const swept = await sink.sweep({ olderThan: future() });
      assert.deepEqual(swept.entries.filter((e) => e.kind === 'write').map((e) => [e.name, e.removed, e.error]), [['stale.dat', true, undefined]]);
      assert.ok(swept.entries.every((e) => e.startedAt === undefined || e.startedAt instanceof Date), 'startedAt is a Date');
      const again = await sink.sweep({ olderThan: future(), dryRun: true });
      assert.deepEqual(again.entries.filter((e) => e.kind === 'write'), [], 'nothing left to sweep');
      // The writer whose leftover went cannot publish a partial object.
      let caught: unknown;
      try {
        writer.stream.end(randomBytes(10));
        await writer.commit();
      } catch (error) {
        caught = error;
      }
      await writer.abort().catch(() => undefined);
      assert.ok(isShmsnapError(caught), `the commit of a swept write fails with a coded error, got ${String(caught)}`);
      assert.deepEqual((await sink.list('')).map((o) => o.name), ['kept.dat'], 'only the committed object is there');
      assert.equal((await readAll(sink, 'kept.dat')).length, 1000, 'the committed object is untouched');
    });

    check('commit-before-end', async (sink) => {
      const writer = await sink.openWriter('unended.dat', { expectedBytes: 200_000 });
      await startWriting(writer, randomBytes(100_000));
      let caught: unknown;
      await writer.commit().catch((error: unknown) => {
        caught = error;
      });
      assert.ok(isShmsnapError(caught), `a commit before end() must fail with a coded error, got ${String(caught)}`);
      await writer.abort();
      await assertInvisible(sink, 'unended.dat');
    });
  });
}
