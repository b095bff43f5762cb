// Positional reads through O_DIRECT on a real file system: the bytes are the
// file's whatever the alignment of offset, length and memory, a refusal
// (memory not aligned) falls back to the page cache, and the end of the file
// reads short, not past it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openPositionalReads, type PositionalReads } from './direct-reads.js';

const KiB = 1024;
// Node's WebAssembly, which @types/node (no DOM library) does not declare.
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (pages: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly;
/** Page-aligned memory without shared memory: a WebAssembly memory's buffer is mapped whole (64 KiB pages). */
function alignedBytes(length: number): Uint8Array {
  const memory = new Memory({ initial: Math.ceil(length / (64 * KiB)) });
  return new Uint8Array(memory.buffer, 0, length);
}

describe('positional reads with O_DIRECT', () => {
  let dir: string;
  let path: string;
  // Not a multiple of 4 KiB: the last block is partial.
  const content = randomBytes(3 * 1024 * KiB + 1234);
  before(async () => {
    dir = await mkdtemp(join(process.env.SHMSNAP_TEST_DIRECT_DIR ?? tmpdir(), 'shmsnap-direct-'));
    path = join(dir, 'ae001100.dat');
    await writeFile(path, content);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function reads(direct: boolean): Promise<PositionalReads> {
    return openPositionalReads(await open(path, 'r'), path, direct);
  }

  it('reads aligned ranges into aligned memory through O_DIRECT, and the bytes are the file\'s', async (t) => {
    const r = await reads(true);
    try {
      if (!r.direct) t.diagnostic(`this file system refused O_DIRECT at open (${dir}): the reads below went through the page cache`);
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
      const ext4 = (await statfs(dir)).type === 0xef53;
      if (ext4) assert.equal(r.direct, false, 'after a refusal, reads go through the page cache');
      else t.diagnostic(`not ext4 (${dir}): whether O_DIRECT refused unaligned memory here is not known, only the bytes were checked`);
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
