/**
 * The frame cipher conformance suite (contracts/frame-cipher.ts), for every
 * AES-256-GCM implementation given to the pipelines:
 *
 *   import { describeFrameCipherConformance } from '@shmsnap/core/testkit';
 *   describeFrameCipherConformance({ cipher });
 *
 * node:crypto is the reference: the implementation must seal to the very
 * bytes it seals to (any split of the parts, empty parts, an empty frame, a
 * 4 MiB one), open what it sealed, and answer false for a changed body,
 * tag, nonce, key or additional data, leaving no plaintext in `out`. It
 * writes nothing of `out` past what it was asked to, and rejects bad sizes
 * with an exception, not a silent wrong answer.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { FrameCipher } from '../contracts/frame-cipher.js';

export interface FrameCipherConformanceOptions {
  readonly cipher: FrameCipher;
  /** @default cipher.name */
  readonly name?: string;
}

const TAG = 16;
const GUARD = 0x5a;

/** Deterministic bytes: a failure reproduces. */
function bytesOf(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0, n = 0; at < length; n++) {
    const block = createHash('sha256').update(`${seed}:${n}`).digest();
    at += block.copy(out, at);
  }
  return out;
}

function reference(key: Buffer, nonce: Buffer, aad: Buffer, plain: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

/** `data` cut at `cuts` (offsets), empty parts included where two cuts meet. */
function split(data: Buffer, cuts: readonly number[]): Buffer[] {
  const parts: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    parts.push(data.subarray(from, cut));
    from = cut;
  }
  parts.push(data.subarray(from));
  return parts;
}

export function describeFrameCipherConformance(options: FrameCipherConformanceOptions): void {
  const { cipher } = options;
  const key = bytesOf(32, 'key');
  const nonce = bytesOf(12, 'nonce');
  const aad = bytesOf(24 + 20, 'aad');

  describe(`frame cipher conformance: ${options.name ?? cipher.name}`, () => {
    const shapes: readonly { what: string; length: number; cuts: readonly number[] }[] = [
      { what: 'an empty frame', length: 0, cuts: [] },
      { what: 'one byte', length: 1, cuts: [] },
      { what: '17 bytes in three parts, one of them empty', length: 17, cuts: [5, 5] },
      { what: '1 MiB + 3 in parts that are not block-aligned', length: (1 << 20) + 3, cuts: [1, 16, 4097, 700_000] },
      { what: 'a 4 MiB frame in one part', length: 4 << 20, cuts: [] },
    ];
    for (const shape of shapes) {
      it(`seals ${shape.what} to node:crypto's bytes and opens it again`, () => {
        const plain = bytesOf(shape.length, shape.what);
        const expected = reference(key, nonce, aad, plain);
        const sealed = Buffer.alloc(shape.length + TAG + 8, GUARD);
        cipher.seal(key, nonce, aad, split(plain, shape.cuts), sealed);
        assert.ok(sealed.subarray(0, shape.length + TAG).equals(expected), 'sealed bytes differ from node:crypto aes-256-gcm');
        assert.ok(sealed.subarray(shape.length + TAG).every((b) => b === GUARD), 'seal wrote past the frame and its tag');

        const opened = Buffer.alloc(shape.length + 8, GUARD);
        const body = expected.subarray(0, shape.length);
        assert.equal(cipher.open(key, nonce, aad, split(body, shape.cuts), expected.subarray(shape.length), opened), true);
        assert.ok(opened.subarray(0, shape.length).equals(plain), 'opened bytes differ from the plaintext');
        assert.ok(opened.subarray(shape.length).every((b) => b === GUARD), 'open wrote past the frame');
      });
    }

    const length = 70_000;
    const plain = bytesOf(length, 'damage');
    const sealed = reference(key, nonce, aad, plain);
    const body = sealed.subarray(0, length);
    const tag = sealed.subarray(length);
    const flip = (bytes: Buffer, at: number): Buffer => {
      const out = Buffer.from(bytes);
      out[at]! ^= 0x01;
      return out;
    };
    const damage: readonly { what: string; key: Buffer; nonce: Buffer; aad: Buffer; parts: Buffer[]; tag: Buffer }[] = [
      { what: 'a bit of the body', key, nonce, aad, parts: [flip(body, 40_000)], tag },
      { what: 'a bit of the tag', key, nonce, aad, parts: [body], tag: flip(tag, 15) },
      { what: 'the nonce (another frame number)', key, nonce: flip(nonce, 10), aad, parts: [body], tag },
      { what: 'the additional data (another object)', key, nonce, aad: flip(aad, aad.length - 1), parts: [body], tag },
      { what: 'the key', key: flip(key, 0), nonce, aad, parts: [body], tag },
      { what: 'a truncated body', key, nonce, aad, parts: [body.subarray(0, length - 1)], tag },
      { what: 'the additional data left out', key, nonce, aad: Buffer.alloc(0), parts: [body], tag },
      { what: 'an empty frame whose tag is damaged', key, nonce, aad, parts: [], tag: flip(reference(key, nonce, aad, Buffer.alloc(0)), 3) },
    ];
    for (const d of damage) {
      it(`answers false for ${d.what}, with no plaintext left in out and nothing past it written`, () => {
        const out = Buffer.alloc(length + 8, GUARD);
        assert.equal(cipher.open(d.key, d.nonce, d.aad, d.parts, d.tag, out), false);
        const written = d.parts.reduce((sum, p) => sum + p.length, 0);
        assert.ok(out.subarray(0, written).every((b) => b === 0), 'unauthenticated bytes were left in out');
        assert.ok(out.subarray(written).every((b) => b === GUARD), 'open wrote past the frame');
      });
    }

    it('opens a frame sealed with empty additional data', () => {
      const none = Buffer.alloc(0);
      const sealedBare = reference(key, nonce, none, plain);
      const out = Buffer.alloc(length);
      assert.equal(cipher.open(key, nonce, none, [sealedBare.subarray(0, length)], sealedBare.subarray(length), out), true);
      assert.ok(out.equals(plain));
    });

    it('throws for a key, nonce or tag of the wrong size and for an out too short, writing nothing', () => {
      const out = Buffer.alloc(length + TAG, GUARD);
      const bad: readonly (() => unknown)[] = [
        () => cipher.seal(key.subarray(0, 16), nonce, aad, [plain], out),
        () => cipher.seal(key, nonce.subarray(0, 8), aad, [plain], out),
        () => cipher.seal(key, nonce, aad, [plain], out.subarray(0, length + TAG - 1)),
        () => cipher.open(key.subarray(0, 16), nonce, aad, [body], tag, out),
        () => cipher.open(key, nonce.subarray(0, 8), aad, [body], tag, out),
        () => cipher.open(key, nonce, aad, [body], tag.subarray(0, 12), out),
        () => cipher.open(key, nonce, aad, [body], tag, out.subarray(0, length - 1)),
      ];
      for (const call of bad) assert.throws(call, (e: unknown) => e instanceof TypeError || e instanceof RangeError);
      assert.ok(out.every((b) => b === GUARD), 'a refused call wrote to out');
    });
  });
}
