/**
 * The deflate engine conformance suite (contracts/deflate-engine.ts), for
 * every engine a codec may be given:
 *
 *   import { describeDeflateEngineConformance } from '@shmsnap/core/testkit';
 *   describeDeflateEngineConformance({ engine });
 *
 * node:zlib is the reader: each piece after reset() must inflate on its own,
 * a piece that is not the last must end with a sync flush (the empty stored
 * block 00 00 ff ff, no final block), the outputs joined must inflate to the
 * inputs joined, the CRC-32 must be zlib's; levels outside 1–9 are refused,
 * and so is a second call while one runs.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import type { DeflateEngine, Deflater } from '../contracts/deflate-engine.js';
import { contentOf } from './mixed-content.js';

export interface DeflateEngineConformanceOptions {
  readonly engine: DeflateEngine;
  /** @default engine.name */
  readonly name?: string;
}

const SYNC_MARKER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Inflates raw deflate that need not end with a final block. */
function inflateOpen(data: Uint8Array): Buffer {
  return zlib.inflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
}

async function deflatePieces(deflater: Deflater, pieces: readonly Buffer[], reset: boolean): Promise<{ outputs: Buffer[]; crcs: number[] }> {
  const outputs: Buffer[] = [];
  const crcs: number[] = [];
  for (const [i, piece] of pieces.entries()) {
    if (reset) deflater.reset();
    const result = await deflater.deflate(piece, i === pieces.length - 1, 0);
    outputs.push(Buffer.from(result.output.buffer, result.output.byteOffset, result.output.byteLength));
    crcs.push(result.crc32 >>> 0);
  }
  return { outputs, crcs };
}

export function describeDeflateEngineConformance(options: DeflateEngineConformanceOptions): void {
  const { engine } = options;
  const raw = contentOf(3 * 1024 * 1024 + 4321, 'deflate');
  // An empty piece, a one-byte piece, uneven sizes and a last piece of its own size.
  const cuts = [0, 0, 1, 65_537, 1 << 20, (2 << 20) + 3, raw.length];
  const pieces = cuts.slice(1).map((end, i) => raw.subarray(cuts[i]!, end));

  describe(`deflate engine conformance: ${options.name ?? engine.name}`, () => {
    for (const level of [1, 6, 9]) {
      it(`level ${level}: after reset() each piece inflates on its own, ends on a sync flush unless last, and the joined stream is the input`, async () => {
        const deflater = engine.createDeflater(level);
        const { outputs, crcs } = await deflatePieces(deflater, pieces, true);
        deflater.close();
        for (const [i, output] of outputs.entries()) {
          const last = i === outputs.length - 1;
          assert.ok(inflateOpen(output).equals(pieces[i]!), `piece ${i} (${pieces[i]!.length} bytes) inflates on its own to its bytes`);
          assert.equal(crcs[i], zlib.crc32(pieces[i]!), `piece ${i}: the CRC-32 of its input`);
          if (last) assert.ok(zlib.inflateRawSync(output).equals(pieces[i]!), 'the last piece ends the stream');
          else {
            assert.ok(output.subarray(-4).equals(SYNC_MARKER), `piece ${i} ends with a sync flush`);
            assert.throws(() => zlib.inflateRawSync(output), /unexpected end/, `piece ${i} has no final block`);
          }
        }
        assert.ok(zlib.inflateRawSync(Buffer.concat(outputs)).equals(raw), 'the pieces joined are one stream of the whole input');
        const stored = outputs.reduce((sum, o) => sum + o.length, 0);
        assert.ok(stored < raw.length * 0.9, `it compresses (${stored} of ${raw.length} bytes)`);
      });
    }

    it('without reset() the outputs continue one stream', async () => {
      const deflater = engine.createDeflater(1);
      const { outputs } = await deflatePieces(deflater, pieces, false);
      deflater.close();
      assert.ok(zlib.inflateRawSync(Buffer.concat(outputs)).equals(raw));
    });

    it('continues the CRC-32 it is given, and compresses incompressible input bigger than a window of output', async () => {
      const noise = randomBytes(3 * 1024 * 1024 + 17);
      const deflater = engine.createDeflater(1);
      const result = await deflater.deflate(noise, true, 0x12345678);
      deflater.close();
      assert.equal(result.crc32 >>> 0, zlib.crc32(noise, 0x12345678));
      assert.ok(zlib.inflateRawSync(result.output).equals(noise));
    });

    it('hands out a new array per call, which input changed afterwards does not touch', async () => {
      const deflater = engine.createDeflater(1);
      const input = Buffer.from(raw.subarray(0, 100_000));
      const first = await deflater.deflate(input, false, 0);
      deflater.reset();
      const second = await deflater.deflate(input, false, 0);
      deflater.close();
      assert.notEqual(first.output.buffer, second.output.buffer, 'no shared memory between outputs');
      input.fill(0);
      assert.ok(inflateOpen(first.output).equals(raw.subarray(0, 100_000)));
    });

    it('refuses levels outside 1–9', () => {
      for (const level of [0, 10, 1.5, -1, Number.NaN]) assert.throws(() => engine.createDeflater(level), `level ${level}`);
    });

    it('runs one call at a time, and refuses every call once closed', async () => {
      const deflater = engine.createDeflater(1);
      const running = deflater.deflate(raw, true, 0);
      assert.throws(() => deflater.deflate(Buffer.alloc(1), true, 0));
      assert.throws(() => deflater.reset());
      assert.throws(() => deflater.close());
      assert.ok(zlib.inflateRawSync((await running).output).equals(raw));
      deflater.close();
      assert.throws(() => deflater.deflate(Buffer.alloc(1), true, 0));
      assert.throws(() => deflater.reset());
    });
  });
}
