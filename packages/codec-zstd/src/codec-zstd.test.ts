import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { isShmsnapError } from '@shmsnap/core';
import { crc32, handOver, pipelineSettled } from '@shmsnap/core/plugin-kit';
import { fillIndexContent } from '@shmsnap/core/testkit';
import { codecZstd } from './codec-zstd.js';
import { zstd } from './zstd-binding.js';

const MiB = 1024 * 1024;
const scratch = mkdtempSync(join(tmpdir(), 'shmsnap-zstd-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function chunks(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

async function collect(streams: NodeJS.ReadWriteStream[], input: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipelineSettled([Readable.from(input, { objectMode: false }), ...(streams as never[]), new Writable({ write: (c: Buffer, _e, cb) => (out.push(Buffer.from(c)), cb()) })]);
  return Buffer.concat(out);
}

const encode = (data: Buffer, options: { level?: number; threads?: number; chunk?: number } = {}) =>
  collect([codecZstd.createEncoder({ rawSize: data.length, objectName: 'ae001100.dat.zst', threads: options.threads ?? 2, ...(options.level ? { level: options.level } : {}) }) as never], chunks(data, options.chunk ?? 8 * MiB));
const decode = (stored: Buffer, rawSize: number, chunk = 4 * MiB) =>
  collect([codecZstd.createDecoder({ rawSize, objectName: 'ae001100.dat.zst' }) as never], chunks(stored, chunk));

function indexLike(size: number): Buffer {
  const data = Buffer.alloc(size);
  fillIndexContent(data, 99);
  return data;
}

async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isShmsnapError(error), `expected a coded error, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, /^ae001100\.dat\.zst: /);
    assert.match(error.message, message);
    return true;
  });
}

describe('codec-zstd', () => {
  it('loads the native zstd built at install (pnpm must be allowed to build zstd-napi)', () => {
    assert.match(zstd().versionString(), /^1\.5\.\d+$/);
  });

  for (const [what, data] of [
    ['index-like data', indexLike(24 * MiB + 4096)],
    ['random data', randomBytes(3 * MiB + 1)],
    ['zeros', Buffer.alloc(40 * MiB)],
    ['zero bytes', Buffer.alloc(0)],
  ] as const) {
    it(`round-trips ${what} at levels 1 and 3, one or two threads, odd chunk sizes`, async () => {
      for (const [level, threads, chunk] of [[1, 2, 8 * MiB], [3, 1, 777_777], [1, 1, 1000]] as const) {
        if (chunk === 1000 && data.length > 4 * MiB) continue;
        const stored = await encode(data, { level, threads, chunk });
        const back = await decode(stored, data.length, chunk === 1000 ? 1000 : 4 * MiB);
        assert.equal(back.length, data.length);
        assert.equal(crc32(back), crc32(data), `level ${level} threads ${threads}`);
      }
    });
  }

  it('writes one standard zstd frame with the content size that the zstd CLI decompresses', async () => {
    const data = indexLike(6 * MiB + 123);
    const stored = await encode(data);
    assert.equal(codecZstd.readHeader!(stored.subarray(0, 18), 'x').rawSize, data.length);
    const path = join(scratch, 'segment.zst');
    writeFileSync(path, stored);
    execFileSync('zstd', ['-t', '-q', path]);
    assert.ok(execFileSync('zstd', ['-dc', path], { maxBuffer: 64 * MiB }).equals(data));
    assert.ok(data.length / stored.length > 1.4, `ratio ${(data.length / stored.length).toFixed(3)} on index-like data`);
  });

  it('decodes what the zstd CLI writes (-1, with checksum and content size)', async () => {
    const data = indexLike(2 * MiB);
    const path = join(scratch, 'cli.raw');
    writeFileSync(path, data);
    const stored = execFileSync('zstd', ['-1', '-c', '-q', path], { maxBuffer: 64 * MiB });
    assert.ok((await decode(stored, data.length)).equals(data));
  });

  describe('damage', () => {
    const data = indexLike(3 * MiB);
    let stored: Buffer;
    it('prepares a valid frame', async () => {
      stored = await encode(data);
      assert.ok(stored.length > 1000);
    });

    it('a flipped bit in the body', async () => {
      const bad = Buffer.from(stored);
      bad[Math.floor(bad.length / 2)]! ^= 0x10;
      await rejectsWith(decode(bad, data.length), 'CORRUPT_OBJECT', /checksum|invalid zstd data|corrupt/i);
    });

    it('a flipped bit in the frame checksum', async () => {
      const bad = Buffer.from(stored);
      bad[bad.length - 2]! ^= 0x01;
      await rejectsWith(decode(bad, data.length), 'CORRUPT_OBJECT', /checksum does not match/);
    });

    it('a truncated frame, at several points', async () => {
      for (const keep of [0, 5, 100, stored.length - 4]) {
        await rejectsWith(decode(stored.subarray(0, keep), data.length), 'CORRUPT_OBJECT', /truncated|empty file/);
      }
    });

    it('a second frame or trailing bytes after the frame', async () => {
      await rejectsWith(decode(Buffer.concat([stored, await encode(Buffer.from('again'))]), data.length), 'CORRUPT_OBJECT', /after the end of the zstd frame/);
      await rejectsWith(decode(Buffer.concat([stored, Buffer.from('x')]), data.length, 7 * 1024 * 1024), 'CORRUPT_OBJECT', /after the end of the zstd frame/);
    });

    it('a frame recording another content size', async () => {
      await rejectsWith(decode(stored, data.length - 1), 'SIZE_MISMATCH', /according to the zstd frame header/);
    });

    it('a frame without content size that decompresses to more than recorded', async () => {
      const path = join(scratch, 'nosize.raw');
      writeFileSync(path, Buffer.alloc(5 * MiB));
      const noSize = execFileSync('zstd', ['-1', '-c', '-q', '--no-content-size', path], { maxBuffer: 64 * MiB });
      await rejectsWith(decode(noSize, 4 * MiB), 'CORRUPT_OBJECT', /decompresses to more than the recorded 4194304 bytes/);
    });

    it('something that is not zstd at all', async () => {
      await rejectsWith(decode(Buffer.from('\x1f\x8b this is gzip, not zstd, long enough for a header'), 100), 'CORRUPT_OBJECT', /not a zstd frame|invalid zstd/);
    });
  });
});

describe('zstd decoder: chunks handed over', () => {
  it('transfers a handed-over chunk to its worker without a copy, and copies an unmarked one', async () => {
    const data = indexLike(16 * MiB);
    const stored = await encode(data);
    // Pieces of at least the decoder's 1 MiB input batch, so that nothing is gathered ahead of a handed-over one
    // (what is gathered goes first, and a chunk after it joins it). Alternately handed over (a buffer of its own,
    // as a decrypted frame) and not (a view the caller keeps).
    const pieces = chunks(stored, 1.25 * MiB);
    const input = pieces.map((piece, i) => (i % 2 === 0 ? handOver(Buffer.from(Uint8Array.prototype.slice.call(piece))) : Buffer.from(piece)));
    const kept = input.map((chunk) => Buffer.from(chunk));
    assert.ok(input.length >= 4, `${input.length} pieces`);
    assert.ok((await collect([codecZstd.createDecoder({ rawSize: data.length, objectName: 'ae001100.dat.zst' }) as never], input)).equals(data));
    for (const [i, chunk] of input.entries()) {
      // The last piece is short of half an input batch: handed over or not, it is gathered (the next test).
      if (i % 2 === 0 && kept[i]!.length >= MiB / 2) assert.equal(chunk.buffer.byteLength, 0, `handed-over chunk ${i} was transferred (its buffer detached here)`);
      else assert.ok(chunk.equals(kept[i]!), `unmarked chunk ${i} is untouched`);
    }
  });

  it('gives a handed-over chunk\'s memory back to its producer once the worker has used it up', async () => {
    const data = indexLike(16 * MiB);
    const stored = await encode(data);
    const recycled: ArrayBuffer[] = [];
    const pieces = chunks(stored, 1.25 * MiB);
    const input = pieces.map((piece, i) => {
      const own = Buffer.from(Uint8Array.prototype.slice.call(piece));
      // Every other one asks for its memory back; the others are handed over without a recycler.
      return i % 2 === 0 ? handOver(own, (memory) => void recycled.push(memory)) : handOver(own);
    });
    const sizes = input.map((chunk) => chunk.length);
    assert.ok((await collect([codecZstd.createDecoder({ rawSize: data.length, objectName: 'ae001100.dat.zst' }) as never], input)).equals(data));
    const asked = sizes.filter((size, i) => i % 2 === 0 && size >= MiB / 2);
    assert.deepEqual(recycled.map((memory) => memory.byteLength), asked, 'the memory of each chunk that asked, in order, whole');
  });

  it('copies a handed-over chunk far from an input batch in size: small ones are gathered, huge ones not queued whole', async () => {
    const data = indexLike(16 * MiB);
    const stored = await encode(data);
    // 64 KiB pieces (frames this small would each cost the worker a round trip) and one of 8 MiB (over the cap).
    const small = chunks(stored.subarray(0, 2 * MiB), 64 * 1024);
    const rest = stored.subarray(2 * MiB);
    assert.ok(rest.length > 4 * MiB, `${rest.length} bytes after the small pieces`);
    const input = [...small, rest].map((piece) => handOver(Buffer.from(Uint8Array.prototype.slice.call(piece))));
    assert.ok((await collect([codecZstd.createDecoder({ rawSize: data.length, objectName: 'ae001100.dat.zst' }) as never], input)).equals(data));
    for (const [i, chunk] of input.entries()) assert.notEqual(chunk.buffer.byteLength, 0, `chunk ${i} of ${chunk.length} bytes was copied, not transferred`);
  });
});
