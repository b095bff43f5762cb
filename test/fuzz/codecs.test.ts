// The gzip and zstd decoders against damaged objects: valid objects (random,
// index-like and zero-filled segments up to 48 KiB) are mutated, truncated
// and extended, then decoded as a restore would (recorded raw size, stored
// size and CRC-32 from the manifest). Whatever the damage, the decoder
// - never fails with an uncoded error (only CORRUPT_OBJECT, SIZE_MISMATCH,
//   CHECKSUM_MISMATCH),
// - never emits more than the recorded raw size,
// - and either yields exactly the original bytes or fails.
// The gzip decoder is given the raw CRC-32 (ASMT's header and the gzip
// trailer carry it too); the zstd decoder checks the frame's own checksum. A
// mutation that leaves the decoded bytes intact (a gzip header's mtime, say)
// may decode: it must then decode to the original, exactly.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { hasPieceIndex, isShmsnapError, type Codec, type PieceIndex } from '@shmsnap/core';
import { crc32 } from '@shmsnap/core/plugin-kit';
import { fillIndexContent } from '@shmsnap/core/testkit';
import { createGzipCodec } from '@shmsnap/codec-gzip';
import { codecZstd } from '@shmsnap/codec-zstd';
import { applyMutations, mutationArbitrary, type Mutation } from './mutations.js';
import { check, FUZZ_SEED } from './settings.js';

const DECODER_CODES = new Set(['CORRUPT_OBJECT', 'SIZE_MISMATCH', 'CHECKSUM_MISMATCH']);

interface Sample {
  readonly label: string;
  readonly raw: Buffer;
  readonly stored: Buffer;
  readonly rawCrc32: number;
  readonly pieces: PieceIndex | undefined;
}

function rawSamples(): { label: string; raw: Buffer }[] {
  const index = Buffer.alloc(48 * 1024);
  fillIndexContent(index, FUZZ_SEED);
  const mixed = Buffer.alloc(20 * 1024);
  randomBytes(4096).copy(mixed, 8192);
  return [
    { label: 'empty', raw: Buffer.alloc(0) },
    { label: 'one byte', raw: Buffer.from([0x5a]) },
    { label: 'random 3000', raw: randomBytes(3000) },
    { label: 'zeros 32K', raw: Buffer.alloc(32 * 1024) },
    { label: 'index-like 48K', raw: index },
    { label: 'zeros around random', raw: mixed },
  ];
}

async function collect(chunks: readonly Buffer[], stage: Duplex): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), stage, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  return Buffer.concat(out);
}

async function encode(codec: Codec, raw: Buffer, objectName: string): Promise<{ stored: Buffer; pieces: PieceIndex | undefined }> {
  const encoder = codec.createEncoder({ rawSize: raw.length, rawCrc32: crc32(raw), level: 1, threads: 2, objectName });
  const stored = await collect([raw], encoder);
  return { stored, pieces: hasPieceIndex(encoder) ? encoder.pieceIndex() : undefined };
}

/** Chunks of 1..4096 bytes, as a sink's reads would hand them on. */
function chunked(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) out.push(data.subarray(at, at + size));
  return out.length === 0 ? [] : out;
}

/** Decodes, counting every byte emitted; the result or the error. */
async function decode(codec: Codec, sample: Sample, object: Buffer, chunkSize: number, withIndex: boolean, objectName: string): Promise<{ bytes: Buffer; emitted: number; error?: unknown }> {
  const decoder = codec.createDecoder({
    rawSize: sample.raw.length,
    storedSize: sample.stored.length,
    rawCrc32: sample.rawCrc32,
    threads: 2,
    objectName,
    ...(withIndex && sample.pieces ? { pieces: sample.pieces } : {}),
  });
  const out: Buffer[] = [];
  let emitted = 0;
  try {
    await pipeline(Readable.from(chunked(object, chunkSize)), decoder, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        emitted += chunk.length;
        out.push(chunk);
      }
    });
    return { bytes: Buffer.concat(out), emitted };
  } catch (error) {
    return { bytes: Buffer.concat(out), emitted, error };
  }
}

function describeCodec(codec: Codec, objectName: string, runs: number): void {
  describe(`fuzz: the ${codec.name} decoder on damaged objects`, () => {
    const samples: Sample[] = [];
    const stats = { decodedIntact: 0, refused: 0 };
    before(async () => {
      for (const { label, raw } of rawSamples()) {
        const { stored, pieces } = await encode(codec, raw, objectName);
        samples.push({ label, raw, stored, rawCrc32: crc32(raw), pieces });
      }
    });

    it('decodes every undamaged sample exactly (the property below starts from these)', async () => {
      for (const sample of samples) {
        for (const withIndex of [false, true]) {
          const result = await decode(codec, sample, sample.stored, 1000, withIndex, objectName);
          assert.equal(result.error, undefined, `${sample.label}: ${String(result.error)}`);
          assert.ok(result.bytes.equals(sample.raw), sample.label);
        }
      }
    });

    it('any mutation: a coded error or exactly the original bytes, never more than the recorded size', async () => {
      const property = fc.asyncProperty(
        fc.integer({ min: 0, max: 5 }),
        fc.array(mutationArbitrary, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 4096 }),
        fc.boolean(),
        async (which: number, mutations: Mutation[], chunkSize: number, withIndex: boolean) => {
          const sample = samples[which]!;
          const damaged = applyMutations(sample.stored, mutations);
          const result = await decode(codec, sample, damaged, chunkSize, withIndex, objectName);
          assert.ok(result.emitted <= sample.raw.length, `${sample.label}: emitted ${result.emitted} bytes, the recorded size is ${sample.raw.length}`);
          if (result.error === undefined) {
            assert.ok(result.bytes.equals(sample.raw), `${sample.label}: decoded without error to bytes that differ from the original`);
            stats.decodedIntact++;
            return;
          }
          assert.ok(isShmsnapError(result.error), `${sample.label}: uncoded error ${String((result.error as Error)?.stack ?? result.error)}`);
          assert.ok(DECODER_CODES.has(result.error.code), `${sample.label}: unexpected code ${result.error.code}: ${result.error.message}`);
          assert.ok(result.error.message.includes(objectName), `${sample.label}: the error names the object: ${result.error.message}`);
          stats.refused++;
        },
      );
      await check(property, runs);
      assert.ok(stats.refused > 0, 'the mutations did damage objects (some were refused)');
    });
  });
}

describe('fuzz regressions: the zstd decoder', () => {
  // Seed 99 (SHMSNAP_FUZZ_RUNS=3000): the frame of one byte 0x5a, truncated,
  // its Content_Checksum_flag cleared and its literal set to 0, decoded to 0x00
  // without an error. A frame without a checksum is now refused.
  it('regression: a frame whose checksum flag was cleared is CORRUPT_OBJECT, however the bytes arrive', async () => {
    const damaged = Buffer.from('28b52ffd200109000000', 'hex');
    const sample: Sample = { label: 'one byte', raw: Buffer.from([0x5a]), stored: damaged, rawCrc32: crc32(Buffer.from([0x5a])), pieces: undefined };
    for (const chunkSize of [1, 3, 100]) {
      const result = await decode(codecZstd, sample, damaged, chunkSize, false, 'ae001100.dat.zst');
      assert.ok(isShmsnapError(result.error, 'CORRUPT_OBJECT'), String(result.error));
      assert.match(result.error.message, /no checksum/);
      assert.equal(result.emitted, 0);
    }
  });
});

describeCodec(createGzipCodec({ pieceBytes: 4096 }), 'ae001100.dat.gz', 150);
describeCodec(codecZstd, 'ae001100.dat.zst', 150);
