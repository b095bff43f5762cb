import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { handOver, isHandedOver, recyclerOf } from '../contracts/chunk-ownership.js';
import type { FrameCipher } from '../contracts/frame-cipher.js';
import { isShmsnapError } from '../errors.js';
import { nodeFrameCipher } from './node-frame-cipher.js';
import { encryptedSize, FrameDecryptor, FrameEncryptor, HEADER_BYTES, TAG_BYTES } from './frames.js';

const KEY = randomBytes(32);
const FRAME = 64;

async function through(stream: NodeJS.ReadWriteStream, input: Buffer, piece = 7): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += piece) chunks.push(input.subarray(i, i + piece));
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), stream, new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
  return Buffer.concat(out);
}

const seal = (plain: Buffer, objectName = 'ae001100.dat.zst.enc', key = KEY): Promise<Buffer> => through(new FrameEncryptor({ key, frameBytes: FRAME, objectName }), plain);

/** Decrypts, recording what came out before a failure: nothing of a bad frame may. */
async function open(sealed: Buffer, objectName = 'ae001100.dat.zst.enc', key = KEY): Promise<{ plain: Buffer; error?: unknown }> {
  const out: Buffer[] = [];
  try {
    await pipeline(Readable.from([sealed]), new FrameDecryptor({ key, frameBytes: FRAME, objectName }), new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
    return { plain: Buffer.concat(out) };
  } catch (error) {
    return { plain: Buffer.concat(out), error };
  }
}

function assertAuthFailed(result: { error?: unknown }, pattern?: RegExp): void {
  assert.ok(isShmsnapError(result.error, 'AUTH_FAILED'), `expected AUTH_FAILED, got ${String(result.error)}`);
  if (pattern) assert.match((result.error as Error).message, pattern);
}

const frameStart = (i: number): number => HEADER_BYTES + i * (FRAME + TAG_BYTES);

describe('encrypted frames', () => {
  for (const size of [0, 1, FRAME - 1, FRAME, FRAME + 1, 3 * FRAME, 3 * FRAME + 5]) {
    it(`round-trips ${size} bytes, with the stored size known in advance`, async () => {
      const plain = randomBytes(size);
      const sealed = await seal(plain);
      assert.equal(sealed.length, encryptedSize(size, FRAME));
      // The plaintext is not in the output: checked on 16-byte runs (a shorter one, one random byte, turns up by chance in ~15% of sealings).
      if (size >= 16) assert.ok(!sealed.includes(plain.subarray(0, 16)));
      const opened = await open(sealed);
      assert.equal(opened.error, undefined);
      assert.deepEqual(opened.plain, plain);
    });
  }

  it('two encryptions of the same bytes differ (a fresh nonce prefix per object)', async () => {
    const plain = randomBytes(100);
    assert.notDeepEqual(await seal(plain), await seal(plain));
  });

  it('fails on a flipped bit in any frame body or tag, and releases nothing of that frame', async () => {
    const plain = randomBytes(3 * FRAME + 10);
    const sealed = await seal(plain);
    for (const [i, offset] of [[0, 3], [1, FRAME + 2], [3, 5]] as const) {
      const bad = Buffer.from(sealed);
      bad[frameStart(i) + offset]! ^= 0x01;
      const result = await open(bad);
      assertAuthFailed(result, new RegExp(`frame ${i}`));
      assert.deepEqual(result.plain, plain.subarray(0, i * FRAME), 'only the frames before the bad one came out');
    }
  });

  it('fails on a changed header (frame size, prefix)', async () => {
    const sealed = await seal(randomBytes(100));
    const bad = Buffer.from(sealed);
    bad[17]! ^= 0x80; // nonce prefix
    assertAuthFailed(await open(bad));
    const size = Buffer.from(sealed);
    size.writeUInt32BE(FRAME * 2, 12);
    assertAuthFailed(await open(size), /frame size/);
  });

  it('fails when truncated at a frame boundary, inside a frame, inside the header, or emptied', async () => {
    const sealed = await seal(randomBytes(3 * FRAME + 10));
    assertAuthFailed(await open(sealed.subarray(0, frameStart(3))), /last frame|truncated/);
    assertAuthFailed(await open(sealed.subarray(0, frameStart(2))), /last frame|truncated/);
    assertAuthFailed(await open(sealed.subarray(0, frameStart(1) + 20)));
    assertAuthFailed(await open(sealed.subarray(0, frameStart(3) + 5)), /truncated|frame 3/);
    assertAuthFailed(await open(sealed.subarray(0, 10)), /header/);
    assertAuthFailed(await open(Buffer.alloc(0)), /header/);
  });

  it('fails when two frames are swapped', async () => {
    const sealed = await seal(randomBytes(3 * FRAME));
    const a = sealed.subarray(frameStart(0), frameStart(1));
    const b = sealed.subarray(frameStart(1), frameStart(2));
    const swapped = Buffer.concat([sealed.subarray(0, HEADER_BYTES), b, a, sealed.subarray(frameStart(2))]);
    assertAuthFailed(await open(swapped), /frame 0/);
  });

  it('fails when a frame comes from another object (another name, or the same name sealed again)', async () => {
    const plain = randomBytes(2 * FRAME + 3);
    const mine = await seal(plain, 'ae001100.dat.zst.enc');
    const other = await seal(plain, 'ae001101.dat.zst.enc');
    const moved = Buffer.concat([mine.subarray(0, frameStart(1)), other.subarray(frameStart(1), frameStart(2)), mine.subarray(frameStart(2))]);
    assertAuthFailed(await open(moved), /frame 1/);
    // The whole object under another name.
    assertAuthFailed(await open(other, 'ae001100.dat.zst.enc'));
    const again = await seal(plain, 'ae001100.dat.zst.enc');
    const mixed = Buffer.concat([mine.subarray(0, frameStart(1)), again.subarray(frameStart(1))]);
    assertAuthFailed(await open(mixed), /frame 1/);
  });

  it('fails with bytes appended after the last frame, or a whole frame appended', async () => {
    const sealed = await seal(randomBytes(FRAME + 9));
    assertAuthFailed(await open(Buffer.concat([sealed, Buffer.from([0])])));
    assertAuthFailed(await open(Buffer.concat([sealed, randomBytes(FRAME + TAG_BYTES)])));
    // An object ending in a full frame: the last one appended again.
    const full = await seal(randomBytes(2 * FRAME));
    assertAuthFailed(await open(Buffer.concat([full, full.subarray(frameStart(1))])));
  });

  it('fails under another key', async () => {
    const sealed = await seal(randomBytes(10));
    assertAuthFailed(await open(sealed, undefined, randomBytes(32)));
  });

  it('refuses what is not an encrypted object as CORRUPT_OBJECT', async () => {
    const result = await open(randomBytes(200));
    assert.ok(isShmsnapError(result.error, 'CORRUPT_OBJECT'));
  });
});

describe('encrypted frames: the cipher given, and what goes on', () => {
  it('seals and opens through the FrameCipher it is given, one call per frame, each frame one handed-over chunk', async () => {
    const calls = { seal: 0, open: 0 };
    const counting: FrameCipher = {
      name: 'counting',
      seal: (...args) => (calls.seal++, nodeFrameCipher.seal(...args)),
      open: (...args) => (calls.open++, nodeFrameCipher.open(...args)),
    };
    const plain = randomBytes(3 * FRAME + 5);
    const sealedChunks: Buffer[] = [];
    const source = (): Readable => Readable.from([plain.subarray(0, 100), plain.subarray(100)]);
    await pipeline(source(), new FrameEncryptor({ key: KEY, frameBytes: FRAME, objectName: 'x.enc', cipher: counting }), new Writable({ write: (c: Buffer, _e, cb) => (sealedChunks.push(c), cb()) }));
    assert.equal(calls.seal, 4);
    // The header, then one chunk per frame with its tag, each the consumer's.
    assert.deepEqual(sealedChunks.map((c) => c.length), [HEADER_BYTES, FRAME + TAG_BYTES, FRAME + TAG_BYTES, FRAME + TAG_BYTES, 5 + TAG_BYTES]);
    assert.ok(sealedChunks.slice(1).every(isHandedOver));
    const sealed = Buffer.concat(sealedChunks);
    assert.equal(sealed.length, encryptedSize(plain.length, FRAME));

    const opened: Buffer[] = [];
    await pipeline(Readable.from([sealed.subarray(0, 50), sealed.subarray(50)]), new FrameDecryptor({ key: KEY, frameBytes: FRAME, objectName: 'x.enc', cipher: counting }), new Writable({ write: (c: Buffer, _e, cb) => (opened.push(c), cb()) }));
    assert.equal(calls.open, 4);
    assert.deepEqual(opened.map((c) => c.length), [FRAME, FRAME, FRAME, 5]);
    assert.ok(opened.every(isHandedOver));
    assert.ok(Buffer.concat(opened).equals(plain));
  });
});

describe('frame decryptor: memory given back', () => {
  it('gives back each handed-over input once its frame is opened, reuses frames its consumer gave back, and the bytes stay right', async () => {
    const plain = randomBytes(FRAME * 40 + 5);
    const sealed = await seal(plain);
    // Inputs of 50 bytes (frames are 64 + 16): each spans frame boundaries, as read chunks do.
    const recycledInputs: ArrayBuffer[] = [];
    const inputs = [];
    for (let at = 0; at < sealed.length; at += 50) {
      const piece = sealed.subarray(at, at + 50);
      const own = Buffer.allocUnsafeSlow(piece.length);
      piece.copy(own);
      inputs.push(handOver(own, (memory) => void recycledInputs.push(memory)));
    }
    const inputMemory = new Set(inputs.map((chunk) => chunk.buffer));
    const out: Buffer[] = [];
    const frameMemory = new Set<ArrayBufferLike>();
    await pipeline(
      Readable.from(inputs),
      new FrameDecryptor({ key: KEY, frameBytes: FRAME, objectName: 'ae001100.dat.zst.enc' }),
      new Writable({
        write(chunk: Buffer, _e, cb) {
          frameMemory.add(chunk.buffer);
          // Copy, then give the frame's memory back at once: the next frames are opened into it.
          out.push(Buffer.from(chunk));
          recyclerOf(chunk)?.(chunk.buffer as ArrayBuffer);
          cb();
        },
      }),
    );
    assert.ok(Buffer.concat(out).equals(plain), 'every byte, through reused memory');
    assert.equal(recycledInputs.length, inputs.length, 'every input given back, once');
    assert.ok(recycledInputs.every((memory) => inputMemory.has(memory)));
    assert.equal(new Set(recycledInputs).size, inputs.length);
    // 41 frames opened into at most 2 memories of full frames, plus the short last one's.
    assert.ok(frameMemory.size <= 3, `${frameMemory.size} distinct memories for ${out.length} frames`);
  });
});
