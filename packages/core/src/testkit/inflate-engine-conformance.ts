/**
 * The inflate engine conformance suite (contracts/inflate-engine.ts), for
 * every engine a codec may be given:
 *
 *   import { describeInflateEngineConformance } from '@shmsnap/core/testkit';
 *   describeInflateEngineConformance({ engine });
 *
 * node:zlib is the reference: the engine must inflate what it deflates (raw
 * and zlib, levels 1 and 9, pieces cut by a full flush) to the same bytes in
 * any split of input and output, with the right counts, end and CRC-32; never
 * write past what it reports; read the end of a stream with no room left and
 * nothing after it; reject damaged data with Z_DATA_ERROR; and refuse a
 * second call while one runs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import type { InflateEngine, Inflater } from '../contracts/inflate-engine.js';
import { contentOf } from './mixed-content.js';

export interface InflateEngineConformanceOptions {
  readonly engine: InflateEngine;
  /** @default engine.name */
  readonly name?: string;
}

const GUARD = 0xa5;

/** Inflates all of `input` into `output` in steps of at most `inStep` / `outStep` bytes. */
async function inflateInSteps(inflater: Inflater, input: Buffer, output: Buffer, inStep: number, outStep: number): Promise<{ read: number; written: number; ended: boolean; crc32: number }> {
  let read = 0;
  let written = 0;
  let crc = 0;
  let ended = false;
  while (!ended) {
    const result = await inflater.inflate(input.subarray(read, read + inStep), output.subarray(written, written + outStep), crc);
    assert.ok(result.read <= Math.min(inStep, input.length - read), 'reads no more than it was given');
    assert.ok(result.written <= Math.min(outStep, output.length - written), 'writes no more than it was given room for');
    read += result.read;
    written += result.written;
    crc = result.crc32;
    ended = result.ended;
    if (result.read === 0 && result.written === 0 && !ended) break;
  }
  return { read, written, ended, crc32: crc };
}

export function describeInflateEngineConformance(options: InflateEngineConformanceOptions): void {
  const { engine } = options;
  const raw = contentOf(3 * 1024 * 1024 + 4321, 'inflate');

  describe(`inflate engine conformance: ${options.name ?? engine.name}`, () => {
    for (const [format, deflate] of [['raw', zlib.deflateRawSync], ['zlib', zlib.deflateSync]] as const) {
      for (const level of [1, 9]) {
        it(`${format} level ${level}: whole, and in uneven steps of input and output, gives zlib's bytes, counts and CRC-32`, async () => {
          // Byte-sized steps cost a thread-pool round trip each: they get a small stream.
          const small = raw.subarray(0, 20_000);
          for (const [data, inStep, outStep] of [[raw, Infinity, Infinity], [raw, 65_537, 1 << 20], [raw, 4096, 7777], [small, 1, 65_536], [small, 1 << 20, 1]] as const) {
            const stored = deflate(data, { level });
            const inflater = engine.createInflater(format);
            const output = Buffer.alloc(data.length + 64, GUARD);
            const result = await inflateInSteps(inflater, stored, output.subarray(0, data.length), inStep, outStep);
            inflater.close();
            assert.equal(result.ended, true, `steps ${inStep}/${outStep}: the stream ends`);
            assert.equal(result.read, stored.length, `steps ${inStep}/${outStep}: every stored byte read`);
            assert.equal(result.written, data.length);
            assert.ok(output.subarray(0, data.length).equals(data), `steps ${inStep}/${outStep}: the bytes are zlib's`);
            assert.ok(output.subarray(data.length).every((b) => b === GUARD), 'nothing written past the end');
            assert.equal(result.crc32 >>> 0, zlib.crc32(data));
          }
        });
      }
    }

    it('continues the CRC-32 it is given', async () => {
      const inflater = engine.createInflater('raw');
      const output = Buffer.alloc(raw.length);
      const result = await inflater.inflate(zlib.deflateRawSync(raw), output, 0x12345678);
      inflater.close();
      assert.equal(result.crc32 >>> 0, zlib.crc32(raw, 0x12345678));
    });

    it('with exactly the room the bytes need, reads the end of the stream and nothing after it', async () => {
      const stored = Buffer.concat([zlib.deflateRawSync(raw.subarray(0, 100_000)), Buffer.from('TRAILER!')]);
      const inflater = engine.createInflater('raw');
      const output = Buffer.alloc(100_000);
      let read = 0;
      let written = 0;
      let ended = false;
      for (let calls = 0; !ended && calls < 10; calls++) {
        const result = await inflater.inflate(stored.subarray(read), output.subarray(written), 0);
        read += result.read;
        written += result.written;
        ended = result.ended;
      }
      inflater.close();
      assert.equal(ended, true);
      assert.equal(written, 100_000);
      assert.equal(stored.subarray(read).toString(), 'TRAILER!', 'the bytes after the stream are left unread');
    });

    it('inflates pieces cut by a full flush one at a time after reset(), each from an empty window', async () => {
      const cuts = [0, 1 << 20, 2 << 20, raw.length];
      // Each piece compressed on its own; all but the last end with a full flush instead of the final block.
      const pieces = [0, 1, 2].map((i) =>
        zlib.deflateRawSync(raw.subarray(cuts[i]!, cuts[i + 1]!), { level: 1, ...(i < 2 ? { finishFlush: zlib.constants.Z_FULL_FLUSH } : {}) }),
      );
      const inflater = engine.createInflater('raw');
      for (const i of [2, 0, 1]) {
        inflater.reset();
        const expected = raw.subarray(cuts[i]!, cuts[i + 1]!);
        const output = Buffer.alloc(expected.length);
        const result = await inflateInSteps(inflater, pieces[i]!, output, pieces[i]!.length, output.length);
        assert.equal(result.read, pieces[i]!.length, `piece ${i}: every stored byte read`);
        assert.ok(output.equals(expected), `piece ${i}: its bytes`);
        assert.equal(result.ended, i === 2, `piece ${i}: only the last ends the stream`);
      }
      inflater.close();
    });

    it('rejects damaged data with Z_DATA_ERROR', async () => {
      const inflater = engine.createInflater('raw');
      await assert.rejects(inflater.inflate(Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.alloc(1024), 0), (error: Error & { code?: string }) => error.code === 'Z_DATA_ERROR');
      inflater.close();
      const zlibStored = zlib.deflateSync(raw.subarray(0, 10_000));
      zlibStored.writeUInt8(zlibStored.readUInt8(zlibStored.length - 1) ^ 0xff, zlibStored.length - 1);
      const checked = engine.createInflater('zlib');
      await assert.rejects(checked.inflate(zlibStored, Buffer.alloc(10_000), 0), (error: Error & { code?: string }) => error.code === 'Z_DATA_ERROR', 'a wrong Adler-32');
      checked.close();
    });

    it('runs one call at a time, and refuses every call once closed', async () => {
      const inflater = engine.createInflater('raw');
      const running = inflater.inflate(zlib.deflateRawSync(raw), Buffer.alloc(raw.length), 0);
      assert.throws(() => inflater.inflate(Buffer.alloc(1), Buffer.alloc(1), 0));
      assert.throws(() => inflater.reset());
      assert.throws(() => inflater.close());
      assert.equal((await running).written, raw.length);
      inflater.close();
      assert.throws(() => inflater.inflate(Buffer.alloc(1), Buffer.alloc(1), 0));
    });
  });
}
