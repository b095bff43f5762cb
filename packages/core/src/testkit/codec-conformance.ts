/**
 * The codec conformance suite. Every codec, ours and third-party ones, runs
 * it against itself:
 *
 *   import { describeCodecConformance } from '@shmsnap/core/testkit';
 *   import codec from 'shmsnap-codec-mine';
 *   describeCodecConformance({ codec });
 *
 * Each case checks one guarantee of the contract in `contracts/codec.ts`:
 * round trips whatever the chunking, the decoder is strict (truncation,
 * trailing bytes, a flipped bit, a wrong raw size each fail with a coded error
 * naming the object, and it never emits more than `rawSize` bytes), the
 * encoder takes exactly `rawSize` bytes, output is bounded ahead of a slow
 * consumer, teardown ('close' after destroy or abort, workers given back) and
 * `readHeader` agreeing with the encoder, and, for a codec that decodes
 * straight into shared memory (`createDirectDecoder`), the same round trips
 * and refusals into a SharedArrayBuffer (`createSharedArrayMemory`), never a
 * byte past the memory, and the memory closed by 'finish' or 'close'. A case
 * can only be skipped with a reason, which is printed.
 *
 * An identity codec (`identity: true`) has no check value of its own, and the
 * pipeline never runs its encoder (backup.ts) nor its decoder (restore.ts): it
 * checks the bytes with the CRC-32 meters instead. For it, 'flipped-bit',
 * 'encoder-more-raw-bytes' and 'encoder-fewer-raw-bytes' are checked the way
 * the pipeline composes them (a raw CRC-32 meter next to the codec's stream),
 * and the test says so in a diagnostic line. Every other case runs the
 * identity codec's own streams.
 *
 * Data is index-like (`fillIndexContent`), all zeros and pseudo-random
 * (seeded, so a failure reproduces). The whole suite takes a few seconds.
 */
import assert from 'node:assert/strict';
import { Readable, Writable, type Duplex } from 'node:stream';
import { finished } from 'node:stream/promises';
import { describe, it, type TestContext } from 'node:test';
import type { Codec, DecodeOptions, DirectDecoder, EncodeOptions } from '../contracts/codec.js';
import { createSharedArrayMemory, GUARD_FILL, type SharedArrayMemory } from './shared-array-memory.js';
import { isShmsnapError, type ErrorCode } from '../errors.js';
import { createCrc32Meter, crc32 } from '../pipeline/checksum.js';
import { pipelineSettled } from '../pipeline/settle.js';
import { fillIndexContent } from './index-content.js';

export const CODEC_CONFORMANCE_CASES = [
  'shape',
  'round-trip-1-byte-chunks',
  'round-trip-7-byte-chunks',
  'round-trip-64k-plus-3-chunks',
  'round-trip-one-chunk',
  'zero-length',
  'truncated',
  'trailing-bytes',
  'flipped-bit',
  'decoder-raw-size-smaller',
  'decoder-raw-size-larger',
  'encoder-more-raw-bytes',
  'encoder-fewer-raw-bytes',
  'encoder-wrong-raw-crc32',
  'decoder-bounded-output',
  'encoder-destroy-mid-stream',
  'decoder-destroy-mid-stream',
  'encoder-abort-signal',
  'decoder-abort-signal',
  'read-header-agrees',
  'read-header-refuses-foreign',
  'direct-round-trip',
  'direct-damaged',
  'direct-destroy-mid-stream',
] as const;

export type CodecConformanceCase = (typeof CODEC_CONFORMANCE_CASES)[number];

export interface CodecConformanceOptions {
  readonly codec: Codec;
  /** Shown in the test names. @default codec.name */
  readonly name?: string;
  /** Cases that cannot run against this codec, each with the reason (printed). */
  readonly skip?: Partial<Record<CodecConformanceCase, string>>;
  /** Level given to every encoder. @default the codec's own default */
  readonly level?: number;
  /** `threads` given to every encoder and decoder. @default the codec's own default */
  readonly threads?: number;
  /**
   * Most output bytes a decoder may hold in its readable buffer while nobody
   * reads, for 64 MiB of zeros. A codec whose design keeps more output on the
   * way (worker credits, say) states its bound here.
   * @default 4 × the decoder's readableHighWaterMark + 1 MiB
   */
  readonly maxBufferedBytes?: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
/** A hang is a failure, not a stuck suite. */
const CASE_TIMEOUT_MS = 60_000;
/** How long a stream may take to emit 'close' once destroyed or settled. */
const CLOSE_TIMEOUT_MS = 5_000;
/** Crosses 1 MiB boundaries (gzip's pieces, zstd's outputs) twice. */
const OBJECT_BYTES = 2 * MiB + 4099;
/** Hostile cases need an object with a body, not speed. */
const FIXTURE_BYTES = 256 * KiB + 9;
const DECODE_ACCEPTED: readonly ErrorCode[] = ['CORRUPT_OBJECT', 'SIZE_MISMATCH', 'CHECKSUM_MISMATCH'];

type DataKind = 'index-like' | 'zeros' | 'random';
const DATA_KINDS: readonly DataKind[] = ['index-like', 'zeros', 'random'];

/** xorshift32 over words: incompressible to zlib and zstd, and the same on every run. */
function fillRandom(target: Buffer, seed: number): void {
  let s = seed | 0 || 0x2545f491;
  const whole = target.length - (target.length % 4);
  for (let at = 0; at < whole; at += 4) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    target.writeInt32LE(s, at);
  }
  for (let at = whole; at < target.length; at++) target[at] = at & 0xff;
}

function makeData(kind: DataKind, size: number): Buffer {
  const data = Buffer.alloc(size);
  if (kind === 'index-like') fillIndexContent(data, 11);
  if (kind === 'random') fillRandom(data, 0x5eed + size);
  return data;
}

/** Views of `data` in pieces of `size` bytes (the last may be shorter). */
function slices(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) out.push(data.subarray(at, at + size));
  return out;
}

function flipBit(data: Buffer, offset: number): Buffer {
  const copy = Buffer.from(data);
  copy[offset] = copy[offset]! ^ (1 << (offset % 8));
  return copy;
}

function closedWithin(stream: Duplex | Writable, what: string): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no 'close' within ${CLOSE_TIMEOUT_MS} ms`)), CLOSE_TIMEOUT_MS);
    stream.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function drainedOrClosed(stream: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

function writeOne(stream: Duplex | Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => stream.write(chunk, (error) => (error ? reject(error) : resolve())));
}

interface Outcome {
  readonly output: Buffer;
  readonly emitted: number;
  /** What the stage failed with; undefined when it ended normally. */
  readonly error: unknown;
}

/**
 * Writes each chunk only after the previous one was taken, so the stage sees
 * every chunk boundary (a pipeline would let writes queue up and reach
 * `_writev` joined), collects what it emits and settles once it has closed.
 */
async function run(stage: Duplex | Writable, chunks: readonly Buffer[], what: string): Promise<Outcome> {
  const out: Buffer[] = [];
  let emitted = 0;
  stage.on('data', (chunk: Buffer) => {
    emitted += chunk.length;
    out.push(chunk);
  });
  const settled = finished(stage).then(
    () => undefined,
    (error: unknown) => error ?? new Error('failed without an error'),
  );
  try {
    for (const chunk of chunks) await writeOne(stage, chunk);
    stage.end();
  } catch {
    // The stage failed: `settled` says how.
  }
  const error = await settled;
  await closedWithin(stage, what);
  return { output: Buffer.concat(out), emitted, error };
}

/** What a direct decoder did: its failure, the bytes it reported, its written() once finished. */
interface DirectOutcome {
  readonly error: unknown;
  readonly reported: number;
  readonly written: { bytes: number; crc32: number } | undefined;
}

/** Feeds a direct decoder as `run` feeds any stage; what it reported and, once finished, its written(). */
async function runDirect(decoder: DirectDecoder, chunks: readonly Buffer[], reported: () => number, what: string): Promise<DirectOutcome> {
  const { error } = await run(decoder, chunks, what);
  return { error, reported: reported(), written: error === undefined ? decoder.written() : undefined };
}

/** The memory's guard bytes are as filled: nothing was written past its end. */
function assertGuardIntact(memory: SharedArrayMemory, what: string): void {
  const guard = memory.bytes.subarray(memory.size);
  assert.ok(
    guard.every((b) => b === GUARD_FILL),
    `${what}: a byte past the ${memory.size}-byte memory was written`,
  );
}

/** The end of a pipeline: takes everything, keeps nothing. */
function discard(): Writable {
  return new Writable({ write: (_chunk: Buffer, _encoding, callback) => callback() });
}

function assertCodedFailure(error: unknown, codes: readonly ErrorCode[], objectName: string, what: string): void {
  assert.ok(error !== undefined, `${what}: expected a coded error, but it succeeded`);
  assert.ok(
    isShmsnapError(error) && codes.includes(error.code),
    `${what}: expected a coded error (${codes.join(' or ')}), got ${isShmsnapError(error) ? `${error.code}: ${error.message}` : String(error)}`,
  );
  assert.ok(error.message.includes(objectName), `${what}: the error must name the object: ${error.message}`);
}

function isAbort(error: unknown): boolean {
  return (error instanceof Error && error.name === 'AbortError') || isShmsnapError(error, 'ABORTED');
}

export function describeCodecConformance(options: CodecConformanceOptions): void {
  const { codec } = options;
  const label = options.name ?? codec.name;
  const objectName = `ae001100${codec.extension}`;

  const encoderFor = (rawSize: number, rawCrc32: number, signal?: AbortSignal): Duplex => {
    const encode: EncodeOptions = {
      rawSize,
      objectName,
      // As the pipeline does: only a codec that declares the need gets it.
      ...(codec.needsRawCrc32 ? { rawCrc32 } : {}),
      ...(options.level === undefined ? {} : { level: options.level }),
      ...(options.threads === undefined ? {} : { threads: options.threads }),
      ...(signal === undefined ? {} : { signal }),
    };
    return codec.createEncoder(encode);
  };

  const decoderFor = (rawSize: number, extra: Omit<DecodeOptions, 'rawSize' | 'objectName' | 'threads'> = {}): Duplex =>
    codec.createDecoder({ rawSize, objectName, ...(options.threads === undefined ? {} : { threads: options.threads }), ...extra });

  const encodeAll = async (data: Buffer, chunkBytes = MiB): Promise<Buffer> => {
    const { output, error } = await run(encoderFor(data.length, crc32(data)), slices(data, chunkBytes), 'encoder');
    assert.equal(error, undefined, `encoding ${data.length} bytes failed: ${String(error)}`);
    return output;
  };

  /** Decodes `stored` as the restore of a recorded segment of `rawSize` bytes that must fail. */
  const decodeMustFail = async (stored: readonly Buffer[], rawSize: number, what: string): Promise<void> => {
    // Neither storedSize nor rawCrc32: the decoder must catch damage itself, not from values it was told.
    const { emitted, error } = await run(decoderFor(rawSize), stored, what);
    assertCodedFailure(error, DECODE_ACCEPTED, objectName, what);
    assert.ok(emitted <= rawSize, `${what}: emitted ${emitted} bytes, more than the ${rawSize} recorded`);
  };

  // Fixtures are built once, on first use, and shared by the cases.
  const memo = <T>(make: () => T): (() => T) => {
    let value: { v: T } | undefined;
    return () => (value ??= { v: make() }).v;
  };
  const rawOf = memo(() => new Map(DATA_KINDS.map((kind) => [kind, makeData(kind, OBJECT_BYTES)] as const)));
  const raw = (kind: DataKind): Buffer => rawOf().get(kind)!;
  const fixtureRaw = memo(() => makeData('index-like', FIXTURE_BYTES));
  const fixture = memo(() => encodeAll(fixtureRaw()));
  const bigStored = memo(() => encodeAll(raw('index-like')));

  const check = (name: CodecConformanceCase, body: (t: TestContext) => Promise<void>, reasonIfNotApplicable?: string): void => {
    const reason = options.skip?.[name] ?? reasonIfNotApplicable;
    if (reason !== undefined) {
      it(name, { skip: `${label}: ${reason}` }, () => undefined);
      return;
    }
    it(name, { timeout: CASE_TIMEOUT_MS }, body);
  };

  const roundTrip = (name: CodecConformanceCase, size: number, chunkBytes: number | 'whole'): void =>
    check(name, async () => {
      for (const kind of DATA_KINDS) {
        const data = raw(kind).subarray(0, size);
        const chunk = chunkBytes === 'whole' ? Math.max(1, data.length) : chunkBytes;
        const encoded = await run(encoderFor(data.length, crc32(data)), slices(data, chunk), `${kind}: encoder`);
        assert.equal(encoded.error, undefined, `${kind}: encoding failed: ${String(encoded.error)}`);
        const stored = encoded.output;
        if (codec.identity) assert.ok(stored.equals(data), `${kind}: an identity codec stores exactly the raw bytes`);
        const storedChunk = chunkBytes === 'whole' ? Math.max(1, stored.length) : chunkBytes;
        // With what a manifest records, as restore passes it.
        const decoder = decoderFor(data.length, { rawCrc32: crc32(data), storedSize: stored.length });
        const decoded = await run(decoder, slices(stored, storedChunk), `${kind}: decoder`);
        assert.equal(decoded.error, undefined, `${kind}: decoding failed: ${String(decoded.error)}`);
        assert.equal(decoded.output.length, data.length, `${kind}: decoded size`);
        assert.ok(decoded.output.equals(data), `${kind}: decoded bytes differ from the raw bytes`);
      }
    });

  /** Destroys a stream mid-stream (directly or through its signal): it must close, emit nothing after, and free what it leased. */
  const teardown = async (make: (signal: AbortSignal) => Duplex, input: Buffer, how: 'destroy' | 'signal'): Promise<void> => {
    // Several in a row: a codec that leaks a worker lease per stream runs out of workers here.
    for (let attempt = 0; attempt < 3; attempt++) {
      const controller = new AbortController();
      const stream = make(controller.signal);
      let closed = false;
      let lateBytes = 0;
      let failure: unknown;
      stream.on('error', (error: unknown) => (failure = error));
      stream.on('data', (chunk: Buffer) => {
        if (closed) lateBytes += chunk.length;
      });
      const closing = closedWithin(stream, how === 'destroy' ? 'destroy() mid-stream' : 'its abort signal fired mid-stream').then(() => {
        closed = true;
      });
      try {
        // Half the input, taken: the codec has work in flight or queued.
        for (const chunk of slices(input.subarray(0, Math.floor(input.length / 2)), 64 * KiB + 3)) await writeOne(stream, chunk);
        await new Promise((resolve) => setImmediate(resolve));
        if (how === 'destroy') stream.destroy();
        else controller.abort();
        await closing;
        assert.ok(stream.destroyed, 'the stream is destroyed');
        if (how === 'signal') assert.ok(isAbort(failure), `an aborted signal fails the stream with AbortError or ABORTED, got ${String(failure)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.equal(lateBytes, 0, "no output after 'close'");
      } finally {
        // A stream that failed the case still gives back what it holds, so later cases do not wait on it.
        stream.destroy();
      }
    }
    // Whatever the streams leased is back: a fresh round trip completes.
    const data = raw('index-like').subarray(0, 300 * KiB);
    // Encoded before the decoder exists: a codec may share one worker between them.
    const stored = await encodeAll(data);
    const { output, error } = await run(decoderFor(data.length), [stored], 'decoder after teardown');
    assert.equal(error, undefined, `a round trip after teardown failed: ${String(error)}`);
    assert.ok(output.equals(data));
  };

  /** The encoder given `given` bytes while told `rawSize`: SIZE_MISMATCH, from the codec or (identity) the pipeline's raw meter. */
  const wrongRawBytes = async (t: TestContext, given: Buffer, rawSize: number, what: string): Promise<void> => {
    const rawCrc32 = crc32(given); // the CRC of what is given: the size is the only thing wrong
    if (!codec.identity) {
      const { error } = await run(encoderFor(rawSize, rawCrc32), slices(given, 64 * KiB + 3), what);
      assertCodedFailure(error, ['SIZE_MISMATCH'], objectName, what);
      return;
    }
    t.diagnostic(`${label} is an identity codec: the pipeline checks the raw byte count with its raw CRC-32 meter (backup.ts)`);
    const meter = createCrc32Meter({ object: objectName, what: 'raw bytes', expectedBytes: rawSize });
    const error = await pipelineSettled([Readable.from(slices(given, 64 * KiB + 3)), meter, encoderFor(rawSize, rawCrc32), discard()]).then(
      () => undefined,
      (e: unknown) => e,
    );
    assertCodedFailure(error, ['SIZE_MISMATCH'], objectName, what);
  };

  describe(`codec conformance: ${label}`, () => {
    check('shape', async () => {
      assert.ok(typeof codec.name === 'string' && codec.name.length > 0, 'a codec has a name');
      assert.match(codec.extension, /^\.[^/\\\s]+$/, 'the extension is an object-name suffix');
      if (codec.levels !== null) {
        const { min, max, default: chosen } = codec.levels;
        assert.ok([min, max, chosen].every(Number.isInteger) && min <= chosen && chosen <= max, 'levels: integers, min ≤ default ≤ max');
      }
      assert.ok(Number.isInteger(codec.headerBytes) && codec.headerBytes >= 0, 'headerBytes is a byte count');
      assert.equal(codec.headerBytes > 0, codec.readHeader !== undefined, 'headerBytes is 0 exactly when there is no readHeader');
      if (codec.identity) assert.equal(codec.headerBytes, 0, 'an identity codec stores the raw bytes: no header');
    });

    roundTrip('round-trip-1-byte-chunks', 4 * KiB + 3, 1);
    roundTrip('round-trip-7-byte-chunks', 48 * KiB + 5, 7);
    roundTrip('round-trip-64k-plus-3-chunks', OBJECT_BYTES, 64 * KiB + 3);
    roundTrip('round-trip-one-chunk', OBJECT_BYTES, 'whole');

    check('zero-length', async () => {
      const stored = await encodeAll(Buffer.alloc(0));
      if (codec.identity) assert.equal(stored.length, 0, 'an identity codec stores nothing for nothing');
      const { output, error } = await run(decoderFor(0, { rawCrc32: 0, storedSize: stored.length }), stored.length > 0 ? [stored] : [], 'decoder');
      assert.equal(error, undefined, `decoding an empty segment failed: ${String(error)}`);
      assert.equal(output.length, 0);
    });

    check('truncated', async () => {
      const stored = await fixture();
      const cuts: [string, number][] = [
        ['empty object', 0],
        ['first byte only', 1],
        ['inside the header', Math.floor(codec.headerBytes / 2)],
        ['header only', codec.headerBytes],
        ['middle', Math.floor(stored.length / 2)],
        ['last byte missing', stored.length - 1],
      ];
      const seen = new Set<number>();
      for (const [where, cut] of cuts) {
        if (seen.has(cut) || cut < 0 || cut >= stored.length || (cut === 0 && where !== 'empty object')) continue;
        seen.add(cut);
        await decodeMustFail(cut === 0 ? [] : [stored.subarray(0, cut)], FIXTURE_BYTES, `cut at ${cut} of ${stored.length} (${where})`);
      }
    });

    check('trailing-bytes', async () => {
      const stored = await fixture();
      const extras: [string, Buffer][] = [
        ['one zero byte', Buffer.alloc(1)],
        ['100 bytes', Buffer.alloc(100, 0xee)],
        ['a second copy of the object', stored],
      ];
      for (const [what, extra] of extras) {
        // Joined and apart: the end of the object can fall inside a write or on a write boundary.
        await decodeMustFail([Buffer.concat([stored, extra])], FIXTURE_BYTES, `${what} after the object, in the same write`);
        await decodeMustFail([stored, extra], FIXTURE_BYTES, `${what} after the object, in the next write`);
      }
    });

    check('flipped-bit', async (t) => {
      if (codec.identity) {
        t.diagnostic(`${label} is an identity codec: a flipped bit is caught by the pipeline's raw CRC-32 meter against the recorded CRC (restore.ts)`);
      }
      for (const kind of ['index-like', 'random'] as const) {
        const data = raw(kind).subarray(0, FIXTURE_BYTES);
        const stored = kind === 'index-like' ? await fixture() : await encodeAll(data);
        // The middle: inside the body of any format, where a change must reach a check value.
        const damaged = flipBit(stored, Math.floor(stored.length / 2));
        const what = `${kind}: bit ${Math.floor(stored.length / 2) % 8} of byte ${Math.floor(stored.length / 2)} of ${stored.length} flipped`;
        if (!codec.identity) {
          await decodeMustFail([damaged], data.length, what);
          continue;
        }
        const meter = createCrc32Meter({ object: objectName, what: 'raw bytes', expectedBytes: data.length, expectedCrc32: crc32(data) });
        const error = await pipelineSettled([Readable.from([damaged]), decoderFor(data.length), meter, discard()]).then(
          () => undefined,
          (e: unknown) => e,
        );
        assertCodedFailure(error, ['CHECKSUM_MISMATCH'], objectName, what);
      }
    });

    check('decoder-raw-size-smaller', async () => {
      const stored = await fixture();
      // "Never emits more than rawSize": checked by decodeMustFail for every count below.
      for (const rawSize of [FIXTURE_BYTES - 1, Math.floor(FIXTURE_BYTES / 2), 0]) {
        await decodeMustFail([stored], rawSize, `a ${FIXTURE_BYTES}-byte object decoded as ${rawSize} bytes`);
      }
    });

    check('decoder-raw-size-larger', async () => {
      const stored = await fixture();
      for (const rawSize of [FIXTURE_BYTES + 1, 2 * FIXTURE_BYTES]) {
        await decodeMustFail([stored], rawSize, `a ${FIXTURE_BYTES}-byte object decoded as ${rawSize} bytes`);
      }
    });

    check('encoder-more-raw-bytes', async (t) => {
      const data = fixtureRaw();
      await wrongRawBytes(t, data, data.length - 1, `${data.length} raw bytes given for ${data.length - 1}`);
    });

    check('encoder-fewer-raw-bytes', async (t) => {
      const data = fixtureRaw();
      await wrongRawBytes(t, data, data.length + 1, `${data.length} raw bytes given for ${data.length + 1}`);
    });

    check(
      'encoder-wrong-raw-crc32',
      async () => {
        // The pipeline takes no CRC-32 of its own for such a codec (backup.ts): the bytes may have changed since the caller's pass.
        const data = fixtureRaw();
        const what = `${data.length} raw bytes given with a CRC-32 one bit off`;
        const { error } = await run(encoderFor(data.length, (crc32(data) ^ 1) >>> 0), slices(data, 64 * KiB + 3), what);
        assertCodedFailure(error, ['CHECKSUM_MISMATCH'], objectName, what);
      },
      codec.needsRawCrc32 ? undefined : 'the codec is not given the CRC-32 of the raw bytes in advance (needsRawCrc32)',
    );

    check('decoder-bounded-output', async () => {
      // 64 MiB of zeros: compressors shrink it a thousandfold, so an unbounded decoder balloons.
      const size = 64 * MiB;
      const block = Buffer.alloc(MiB);
      const views = Array.from({ length: size / MiB }, () => block);
      let rawCrc32 = 0;
      for (const view of views) rawCrc32 = crc32(view, rawCrc32);
      const encoded = await run(encoderFor(size, rawCrc32), views, 'encoder');
      assert.equal(encoded.error, undefined, `encoding 64 MiB of zeros failed: ${String(encoded.error)}`);

      const decoder = decoderFor(size, { rawCrc32 });
      const limit = options.maxBufferedBytes ?? 4 * decoder.readableHighWaterMark + MiB;
      // A failure surfaces in the read loop below, not as an uncaught 'error'.
      decoder.on('error', () => undefined);
      // Feed as a pipeline would: stop at backpressure, go on at 'drain'.
      const feeding = (async () => {
        for (const chunk of slices(encoded.output, 64 * KiB)) {
          if (decoder.destroyed) return;
          if (!decoder.write(chunk)) await drainedOrClosed(decoder);
        }
        decoder.end();
      })();
      // Nobody reads: wait until the buffer stops growing (or exceeds the limit).
      let buffered = decoder.readableLength;
      for (let polls = 0, still = 0; polls < 40 && still < 4 && buffered <= limit; polls++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        still = decoder.readableLength === buffered && buffered > 0 ? still + 1 : 0;
        buffered = decoder.readableLength;
      }
      assert.ok(buffered <= limit, `buffered ${buffered} bytes with nobody reading, more than ${limit}`);
      // Reading resumes the decoder, which still delivers every byte.
      let total = 0;
      let crc = 0;
      for await (const chunk of decoder as AsyncIterable<Buffer>) {
        total += chunk.length;
        crc = crc32(chunk, crc);
      }
      await feeding;
      await closedWithin(decoder, 'decoder');
      assert.equal(total, size);
      assert.equal(crc, rawCrc32);
    });

    check('encoder-destroy-mid-stream', async () => {
      const data = raw('index-like');
      await teardown(() => encoderFor(data.length, crc32(data)), data, 'destroy');
    });

    check('decoder-destroy-mid-stream', async () => {
      const stored = await bigStored();
      await teardown(() => decoderFor(OBJECT_BYTES), stored, 'destroy');
    });

    check('encoder-abort-signal', async () => {
      const data = raw('index-like');
      await teardown((signal) => encoderFor(data.length, crc32(data), signal), data, 'signal');
    });

    check('decoder-abort-signal', async () => {
      const stored = await bigStored();
      await teardown((signal) => decoderFor(OBJECT_BYTES, { signal }), stored, 'signal');
    });

    const noDirect = codec.createDirectDecoder === undefined ? 'the codec offers no direct decoder (createDirectDecoder)' : undefined;
    const directFor = (memory: SharedArrayMemory, rawSize: number, onBytes: (n: number) => void, extra: Omit<DecodeOptions, 'rawSize' | 'objectName' | 'threads'> = {}): DirectDecoder =>
      codec.createDirectDecoder!({ rawSize, objectName, into: memory.handle, onBytes, ...(options.threads === undefined ? {} : { threads: options.threads }), ...extra });
    /** A direct decode of `stored` into fresh memory of `rawSize` bytes. */
    const decodeDirect = async (stored: readonly Buffer[], rawSize: number, what: string, extra: Omit<DecodeOptions, 'rawSize' | 'objectName' | 'threads'> = {}) => {
      const memory = createSharedArrayMemory(rawSize);
      let reported = 0;
      const outcome = await runDirect(directFor(memory, rawSize, (n) => (reported += n), extra), stored, () => reported, what);
      assertGuardIntact(memory, what);
      assert.equal(memory.closes(), memory.opens(), `${what}: the memory is closed again by the time the decoder closed (opened ${memory.opens()}, closed ${memory.closes()})`);
      return { ...outcome, memory };
    };

    check(
      'direct-round-trip',
      async () => {
        for (const kind of DATA_KINDS) {
          const data = raw(kind);
          const stored = await encodeAll(data);
          for (const chunk of [64 * KiB + 3, stored.length]) {
            const what = `${kind}, ${chunk}-byte writes: direct decode`;
            const { error, reported, written, memory } = await decodeDirect(slices(stored, chunk), data.length, what, { rawCrc32: crc32(data), storedSize: stored.length });
            assert.equal(error, undefined, `${what} failed: ${String(error)}`);
            assert.equal(memory.opens(), 1, `${what}: the memory is opened once`);
            assert.deepEqual(written, { bytes: data.length, crc32: crc32(data) }, `${what}: written() gives the raw byte count and CRC-32`);
            assert.equal(reported, data.length, `${what}: onBytes reports every byte once`);
            assert.ok(Buffer.from(memory.bytes.buffer, 0, data.length).equals(data), `${what}: the memory holds the raw bytes`);
          }
        }
      },
      noDirect,
    );

    check(
      'direct-damaged',
      async () => {
        const stored = await fixture();
        const cases: [string, Buffer[], number][] = [
          ['truncated in the middle', [stored.subarray(0, Math.floor(stored.length / 2))], FIXTURE_BYTES],
          ['last byte missing', [stored.subarray(0, stored.length - 1)], FIXTURE_BYTES],
          ['a bit flipped in the middle', [flipBit(stored, Math.floor(stored.length / 2))], FIXTURE_BYTES],
          ['100 bytes after the object', [stored, Buffer.alloc(100, 0xee)], FIXTURE_BYTES],
          ['decoded as one byte fewer', [stored], FIXTURE_BYTES - 1],
          ['decoded as half its size', [stored], Math.floor(FIXTURE_BYTES / 2)],
          ['decoded as one byte more', [stored], FIXTURE_BYTES + 1],
        ];
        for (const [what, chunks, rawSize] of cases) {
          // Neither storedSize nor rawCrc32: the decoder must catch the damage itself; the guard bytes catch a write past the end.
          const { error } = await decodeDirect(chunks, rawSize, what);
          assertCodedFailure(error, DECODE_ACCEPTED, objectName, what);
        }
      },
      noDirect,
    );

    check(
      'direct-destroy-mid-stream',
      async () => {
        const stored = await bigStored();
        for (let attempt = 0; attempt < 3; attempt++) {
          const memory = createSharedArrayMemory(OBJECT_BYTES);
          const decoder = directFor(memory, OBJECT_BYTES, () => undefined);
          decoder.on('error', () => undefined);
          for (const chunk of slices(stored.subarray(0, Math.floor(stored.length / 2)), 64 * KiB + 3)) await writeOne(decoder, chunk);
          decoder.destroy();
          await closedWithin(decoder, 'destroy() mid-stream');
          assert.equal(memory.closes(), memory.opens(), `by 'close' after destroy(), the memory is closed again (opened ${memory.opens()}, closed ${memory.closes()})`);
          assertGuardIntact(memory, 'destroyed mid-stream');
        }
        // Whatever the decoders leased is back: a fresh direct round trip completes.
        const data = raw('index-like');
        const { error } = await decodeDirect([stored], data.length, 'direct decode after teardown');
        assert.equal(error, undefined, `a direct round trip after teardown failed: ${String(error)}`);
      },
      noDirect,
    );

    const noHeader = codec.readHeader === undefined ? 'the codec has no header (headerBytes 0): nothing to read' : undefined;

    check(
      'read-header-agrees',
      async () => {
        for (const data of [fixtureRaw(), Buffer.alloc(0)]) {
          const stored = await encodeAll(data);
          // As the catalog reads it: headerBytes, clamped to the object's size.
          const header = codec.readHeader!(stored.subarray(0, Math.min(codec.headerBytes, stored.length)), objectName);
          assert.equal(header.rawSize, data.length, 'readHeader states the raw size the encoder was given');
          if (header.rawCrc32 !== undefined) assert.equal(header.rawCrc32, crc32(data), 'readHeader states the CRC-32 of the raw bytes');
        }
      },
      noHeader,
    );

    check(
      'read-header-refuses-foreign',
      async () => {
        const foreign: [string, Buffer][] = [
          ['zeros', Buffer.alloc(codec.headerBytes)],
          ['text', Buffer.from('not a stored object, just text: '.repeat(4)).subarray(0, codec.headerBytes)],
          ['nothing', Buffer.alloc(0)],
        ];
        for (const [what, head] of foreign) {
          assert.throws(
            () => codec.readHeader!(head, objectName),
            (error: unknown) => {
              assertCodedFailure(error, ['CORRUPT_OBJECT'], objectName, `readHeader of ${what}`);
              return true;
            },
          );
        }
      },
      noHeader,
    );
  });
}
