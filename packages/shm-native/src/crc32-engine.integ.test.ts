import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { crc32Engine, useCrc32Engine } from '@shmsnap/core';
import { crc32 } from '@shmsnap/core/plugin-kit';
import { addonPathOf, loadShmBinding } from './binding.js';
import { addonCrc32Engine } from './crc32-engine.js';
import { createFakeShmBinding } from './testing/index.js';

// The real addon, built by the test run's bootstrap: its CRC-32 against zlib's.
const binding = loadShmBinding();
const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? [];
const hasClmul = process.arch === 'x64' && flags.includes('pclmulqdq') && flags.includes('sse4_1');

describe('the addon CRC-32', { skip: hasClmul ? false : `not x86-64 with pclmulqdq and sse4_1 (${process.arch}): the addon offers no crc32 here` }, () => {
  const native = binding.crc32!;

  it('is offered on this processor', () => {
    assert.equal(typeof native, 'function');
  });

  it("gives zlib's CRC-32 at every length to 1100 bytes, at every offset in a 16-byte block, from any previous value", () => {
    const data = randomBytes(1200);
    let checked = 0;
    for (let offset = 0; offset < 16; offset++) {
      for (let length = 0; length <= 1100; length++) {
        const view = data.subarray(offset, offset + length);
        const previous = (Math.imul(length + 1, 0x9e3779b1) ^ offset) >>> 0;
        assert.equal(native(view, previous), zlib.crc32(view, previous), `${length} bytes at offset ${offset}`);
        checked++;
      }
    }
    assert.equal(checked, 16 * 1101);
  });

  it("gives zlib's CRC-32 for large inputs, whole and continued in uneven pieces", () => {
    const data = randomBytes(9 * 1024 * 1024 + 77);
    const whole = zlib.crc32(data);
    assert.equal(native(data, 0), whole);
    let crc = 0;
    for (let at = 0, piece = 1; at < data.length; at += piece, piece = piece * 3 + 1) crc = native(data.subarray(at, at + piece), crc);
    assert.equal(crc, whole);
    // Runs of one value and of zeros are where a wrong constant can cancel out.
    for (const fill of [0, 0xff]) {
      const run = Buffer.alloc(1024 * 1024 + 5, fill);
      assert.equal(native(run, 0), zlib.crc32(run));
    }
  });

  it('checksums shared memory in place: a view of an attached segment', () => {
    const size = 3 * 1024 * 1024 + 4096;
    const shmid = binding.create(0xae00c3c1, size, 0o600);
    const attachment = new binding.Attachment(shmid, false);
    try {
      const view = attachment.view(0, size);
      view.set(randomBytes(size));
      assert.equal(native(view.subarray(13), 0x1234), zlib.crc32(view.subarray(13), 0x1234));
    } finally {
      binding.removeNow(shmid);
      void attachment.detach();
    }
  });

  it('throws TypeError for anything but a Uint8Array, and for a previous value that is not a number', () => {
    for (const bad of ['text', 12, null, new Uint16Array(8), [1, 2, 3]]) assert.throws(() => native(bad as unknown as Uint8Array, 0), TypeError);
    assert.throws(() => native(Buffer.alloc(4), 'x' as unknown as number), TypeError);
  });

  it("is core's engine once installed, with the addon's path for worker threads", () => {
    const engine = addonCrc32Engine(binding);
    assert.ok(engine);
    assert.equal(engine.module, addonPathOf(binding));
    assert.equal(addonCrc32Engine(binding), engine, 'the same engine for the same binding: installing it again is free');
    const before = crc32Engine();
    try {
      useCrc32Engine(engine); // checks it against zlib
      assert.equal(crc32Engine(), engine);
      const data = randomBytes(100_000);
      assert.equal(crc32(data), zlib.crc32(data));
    } finally {
      useCrc32Engine(before);
    }
  });
});

it('offers no CRC-32 engine on the in-memory binding (the pipelines keep zlib)', () => {
  assert.equal(addonCrc32Engine(createFakeShmBinding()), undefined);
});
