// Reads and writes through O_DIRECT on a real file system: the bytes are the
// file's whatever the alignment of offset, length and memory, a refusal
// (memory not aligned) falls back to the page cache, and the end of the file
// reads short, not past it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it, type TestContext } from 'node:test';
import { recyclerOf } from '@shmsnap/core/plugin-kit';
import { createLocalSink } from './local-sink.js';
import { openBypass, openDirectReadStream, openPositionalReads, type DirectReadStreamOptions, type PositionalReads } from './direct-reads.js';

const KiB = 1024;
// Node's WebAssembly, which @types/node (no DOM library) does not declare.
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (pages: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly;
/** Page-aligned memory without shared memory: a WebAssembly memory's buffer is mapped whole (64 KiB pages). */
function alignedBytes(length: number): Uint8Array {
  const memory = new Memory({ initial: Math.ceil(length / (64 * KiB)) });
  return new Uint8Array(memory.buffer, 0, length);
}

/**
 * A scratch directory for one describe block, with `content` in a file named `name` (when given); removed
 * after. SHMSNAP_TEST_DIRECT_DIR runs these on another file system (tmpfs, XFS) than the default's.
 */
function useScratch(name?: string, content?: Buffer): { dir: () => string; path: () => string } {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(process.env.SHMSNAP_TEST_DIRECT_DIR ?? tmpdir(), 'shmsnap-direct-'));
    if (name && content) await writeFile(join(dir, name), content);
  });
  after(() => rm(dir, { recursive: true, force: true }));
  return { dir: () => dir, path: () => join(dir, name ?? '') };
}

describe('positional reads with O_DIRECT', () => {
  // Not a multiple of 4 KiB: the last block is partial.
  const content = randomBytes(3 * 1024 * KiB + 1234);
  const scratch = useScratch('ae001100.dat', content);

  async function reads(direct: boolean): Promise<PositionalReads> {
    return openPositionalReads(await open(scratch.path(), 'r'), scratch.path(), direct);
  }

  it('reads aligned ranges into aligned memory through O_DIRECT, and the bytes are the file\'s', async (t) => {
    const r = await reads(true);
    try {
      if (!r.direct) t.diagnostic(`this file system refused O_DIRECT at open (${scratch.dir()}): the reads below went through the page cache`);
      const whole = alignedBytes(content.length);
      assert.equal(await r.read(whole, 0), content.length, 'the whole file, its partial last block included');
      assert.ok(Buffer.from(whole).equals(content));
      const range = alignedBytes(1024 * KiB);
      assert.equal(await r.read(range, 1024 * KiB), 1024 * KiB);
      assert.ok(Buffer.from(range).equals(content.subarray(1024 * KiB, 2048 * KiB)));
      const wasDirect = r.direct;
      // Unaligned in the file: read through the page cache, and O_DIRECT stays in use for the next aligned one.
      const odd = alignedBytes(10_000);
      assert.equal(await r.read(odd, 4097), 10_000);
      assert.ok(Buffer.from(odd).equals(content.subarray(4097, 14_097)));
      assert.equal(r.direct, wasDirect);
    } finally {
      await r.close();
    }
  });

  it('reads short at the end of the file and nothing past it', async () => {
    const r = await reads(true);
    try {
      const tail = alignedBytes(64 * KiB);
      const from = 3 * 1024 * KiB;
      assert.equal(await r.read(tail, from), 1234);
      assert.ok(Buffer.from(tail.subarray(0, 1234)).equals(content.subarray(from)));
      assert.equal(await r.read(alignedBytes(4096), content.length), 0);
      assert.equal(await r.read(alignedBytes(4096), content.length + 8192), 0);
    } finally {
      await r.close();
    }
  });

  it('falls back to the page cache when the memory is not aligned, with the same bytes', async (t) => {
    const r = await reads(true);
    try {
      // One byte into a page: ext4 and XFS refuse it (EINVAL), and the read must still succeed.
      const misaligned = alignedBytes(256 * KiB + 1).subarray(1);
      assert.equal(await r.read(misaligned, 0), 256 * KiB);
      assert.ok(Buffer.from(misaligned).equals(content.subarray(0, 256 * KiB)));
      // ext4 (this project's machines) is known to refuse it: there the reader must have fallen back.
      const ext4 = (await statfs(scratch.dir())).type === 0xef53;
      if (ext4) assert.equal(r.direct, false, 'after a refusal, reads go through the page cache');
      else t.diagnostic(`not ext4 (${scratch.dir()}): whether O_DIRECT refused unaligned memory here is not known, only the bytes were checked`);
      const again = alignedBytes(64 * KiB);
      assert.equal(await r.read(again, 64 * KiB), 64 * KiB);
      assert.ok(Buffer.from(again).equals(content.subarray(64 * KiB, 128 * KiB)));
    } finally {
      await r.close();
    }
  });

  it('never opens O_DIRECT when not asked', async () => {
    const r = await reads(false);
    try {
      assert.equal(r.direct, false);
      const all = Buffer.alloc(content.length);
      assert.equal(await r.read(all, 0), content.length);
      assert.ok(all.equals(content));
    } finally {
      await r.close();
    }
  });
});

describe('sequential reads with O_DIRECT', () => {
  const content = randomBytes(5 * 1024 * KiB + 777);
  const scratch = useScratch('ae001100.dat.zst', content);

  async function readAll(options: DirectReadStreamOptions): Promise<{ bytes: Buffer; chunks: number } | undefined> {
    const handle = await open(scratch.path(), 'r');
    const stream = await openDirectReadStream(handle, scratch.path(), { ...options, size: content.length });
    if (!stream) {
      await handle.close();
      return undefined;
    }
    const parts: Buffer[] = [];
    for await (const chunk of stream) parts.push(chunk as Buffer);
    return { bytes: Buffer.concat(parts), chunks: parts.length };
  }

  const cases: readonly { what: string; options: DirectReadStreamOptions; from: number; to: number }[] = [
    { what: 'the whole file, its partial last block included', options: { chunkBytes: 1024 * KiB }, from: 0, to: content.length },
    { what: 'a range that starts and ends inside blocks', options: { chunkBytes: 256 * KiB, start: 4097, end: 3 * 1024 * KiB + 5 }, from: 4097, to: 3 * 1024 * KiB + 5 },
    { what: 'a range past the end of the file', options: { chunkBytes: 1024 * KiB, start: 4 * 1024 * KiB, end: 6 * 1024 * KiB }, from: 4 * 1024 * KiB, to: content.length },
    { what: 'chunks smaller than a block (rounded up to one)', options: { chunkBytes: 1000, start: 0, end: 1536 * KiB }, from: 0, to: 1536 * KiB },
  ];
  for (const c of cases) {
    it(`reads ${c.what}`, async (t) => {
      const got = await readAll(c.options);
      if (!got) {
        t.skip(`O_DIRECT or aligned memory is not available for ${scratch.dir()}: the sink reads through the page cache there`);
        return;
      }
      assert.equal(got.bytes.length, c.to - c.from);
      assert.ok(got.bytes.equals(content.subarray(c.from, c.to)));
    });
  }

  it('leaves a read of less than 1 MiB to the page cache (a manifest, a small segment)', async () => {
    const handle = await open(scratch.path(), 'r');
    try {
      assert.equal(await openDirectReadStream(handle, scratch.path(), { chunkBytes: 2048 * KiB, start: 0, end: 1024 * KiB - 1, size: content.length }), undefined);
      assert.equal(await openDirectReadStream(handle, scratch.path(), { chunkBytes: 2048 * KiB, size: 4096 }), undefined);
    } finally {
      await handle.close();
    }
  });

  it('reuses the memory of a closed stream for the next one, with the next one\'s bytes', async (t) => {
    // The same chunk size twice in a row, the second starting elsewhere: a slot still holding the first's bytes would show.
    const first = await readAll({ chunkBytes: 128 * KiB, start: 0, end: 2048 * KiB });
    const second = await readAll({ chunkBytes: 128 * KiB, start: 1024 * KiB + 4096, end: content.length });
    if (!first || !second) {
      t.skip('O_DIRECT or aligned memory is not available here');
      return;
    }
    assert.ok(first.bytes.equals(content.subarray(0, 2048 * KiB)));
    assert.ok(second.bytes.equals(content.subarray(1024 * KiB + 4096)));
  });

  /** A stream of 64 KiB chunks over the whole file; undefined (and the test skipped) where O_DIRECT is not to be had. */
  async function streamOf64KiB(t: TestContext, options: { signal?: AbortSignal } = {}): Promise<Readable | undefined> {
    const handle = await open(scratch.path(), 'r');
    const stream = await openDirectReadStream(handle, scratch.path(), { chunkBytes: 64 * KiB, size: content.length, ...options });
    if (!stream) {
      await handle.close();
      t.skip('O_DIRECT or aligned memory is not available here');
    }
    return stream;
  }

  it('hands out chunks the consumer may keep: later reads do not change them', async (t) => {
    const stream = await streamOf64KiB(t);
    if (!stream) return;
    const kept: Buffer[] = [];
    for await (const chunk of stream) kept.push(chunk as Buffer);
    // 80+ chunks through two slots: a chunk lent from a slot would have been overwritten many times over.
    assert.ok(kept.length > 80, `${kept.length} chunks`);
    assert.ok(Buffer.concat(kept).equals(content));
  });

  it('reuses the memory of chunks its consumer gives back, and the bytes stay right', async (t) => {
    const stream = await streamOf64KiB(t);
    if (!stream) return;
    const copies: Buffer[] = [];
    const memories = new Set<ArrayBufferLike>();
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      memories.add(chunk.buffer);
      copies.push(Buffer.from(chunk));
      const recycle = recyclerOf(chunk);
      assert.ok(recycle, 'each chunk is handed over with a recycler');
      recycle(chunk.buffer as ArrayBuffer);
    }
    assert.ok(Buffer.concat(copies).equals(content));
    // 80+ chunks: a handful of memories (the stock's two, the last short chunk, any taken before one came back).
    assert.ok(memories.size <= 4, `${memories.size} memories for ${copies.length} chunks`);
  });

  it('stops on abort with an AbortError and closes the file', async (t) => {
    const controller = new AbortController();
    const stream = await streamOf64KiB(t, { signal: controller.signal });
    if (!stream) return;
    let seen = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) {
          seen += (chunk as Buffer).length;
          if (seen >= 256 * KiB) controller.abort();
        }
      })(),
      (error: Error) => error.name === 'AbortError',
    );
    assert.ok(seen < content.length, 'the read stopped before the end');
    await new Promise((resolve) => (stream.closed ? resolve(undefined) : stream.once('close', resolve)));
    assert.equal(stream.destroyed, true);
  });
});

describe('writes with O_DIRECT (a backup through the local sink)', () => {
  const scratch = useScratch();

  it('writes aligned memory, unaligned memory, unaligned positions and a partial last block, byte for byte, and commits them', async () => {
    // Aligned views (as a segment's windows), then a Buffer (unaligned memory), then an odd length that
    // leaves every later position unaligned, then aligned memory again: each way of writing in one object.
    const pieces: Uint8Array[] = [];
    const aligned = (length: number): Uint8Array => {
      const view = alignedBytes(length);
      view.set(randomBytes(length));
      return view;
    };
    pieces.push(aligned(1024 * KiB), aligned(256 * KiB), randomBytes(64 * KiB), aligned(8 * KiB + 3), aligned(512 * KiB), randomBytes(100));
    const expected = Buffer.concat(pieces);
    for (const directIo of [true, false]) {
      const name = directIo ? 'ae001100.dat' : 'ae001101.dat';
      const sink = createLocalSink(scratch.dir(), { directIo });
      const writer = await sink.openWriter(name, { expectedBytes: expected.length });
      for (const piece of pieces) if (!writer.stream.write(piece)) await new Promise((resolve) => writer.stream.once('drain', resolve));
      writer.stream.end();
      await new Promise((resolve) => writer.stream.once('finish', resolve));
      const info = await writer.commit();
      assert.equal(info.size, expected.length);
      assert.ok((await readFile(join(scratch.dir(), name))).equals(expected), `directIo ${directIo}: the file holds what was written`);
    }
  });

  it("stages a codec's unaligned chunks in aligned memory and writes them past the page cache; only the last partial block is cached", async (t) => {
    // A codec's output: Buffers at odd offsets in memory and of odd lengths, none of which O_DIRECT takes as it is.
    const whole = randomBytes(9 * 1024 * KiB + 777);
    const source = Buffer.concat([Buffer.alloc(13), whole]).subarray(13);
    const sink = createLocalSink(scratch.dir(), { directIo: true });
    const writer = await sink.openWriter('ae001102.dat.zst', { expectedBytes: whole.length });
    for (let at = 0; at < whole.length; at += 100_003) {
      if (!writer.stream.write(source.subarray(at, at + 100_003))) await new Promise((resolve) => writer.stream.once('drain', resolve));
    }
    writer.stream.end();
    await new Promise((resolve) => writer.stream.once('finish', resolve));
    await writer.commit();
    const path = join(scratch.dir(), 'ae001102.dat.zst');
    // fincore (util-linux) counts the file's pages in the page cache: O_DIRECT writes leave none behind.
    const fincore = spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' });
    if (fincore.status !== 0) t.diagnostic(`fincore unavailable (${fincore.error?.message ?? fincore.stderr.trim()}): the page cache was not checked`);
    else {
      const resident = Number(fincore.stdout.trim());
      const probe = await openBypass(path, 'write');
      await probe?.close();
      if (probe) assert.ok(resident <= 8 * KiB, `${resident} bytes of the file in the page cache: the staged writes went through it`);
      else t.diagnostic(`${scratch.dir()} refuses O_DIRECT: the writes went through the page cache (${resident} bytes cached)`);
    }
    assert.ok((await readFile(path)).equals(whole), 'the file holds what was written');
  });
});

