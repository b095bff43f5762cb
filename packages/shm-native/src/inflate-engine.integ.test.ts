import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from './private-ipc.js';

await enterPrivateIpcNamespace();

const { describe, it } = await import('node:test');
const zlib = (await import('node:zlib')).default;
const { describeInflateEngineConformance } = await import('@shmsnap/core/testkit');
const { attachShm, createShm, removeShm } = await import('./shm.js');
const { loadShmBinding } = await import('./binding.js');
const { addonInflateEngine } = await import('./inflate-engine.js');
const { createFakeShmBinding } = await import('./testing/index.js');

// The real addon, built by the test run's bootstrap.
const engine = addonInflateEngine(loadShmBinding());
assert.ok(engine, 'the addon built for this run offers an inflater');
describeInflateEngineConformance({ engine });

describe('the addon inflate engine', () => {
  it('is absent from the in-memory binding, so the gzip codec keeps node:zlib there', () => {
    assert.equal(addonInflateEngine(createFakeShmBinding()), undefined);
  });

  it('inflates straight into an attached segment', async () => {
    const raw = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < raw.length; i += 512) raw.writeUInt32LE((i * 2654435761) >>> 0, i);
    const key = 0x5a17_0001;
    const shmid = createShm(key, raw.length, 0o600);
    const attachment = attachShm(shmid, key, false);
    try {
      const inflater = engine.createInflater('raw');
      const result = await inflater.inflate(zlib.deflateRawSync(raw, { level: 1 }), attachment.view(0, raw.length), 0);
      inflater.close();
      assert.equal(result.written, raw.length);
      assert.equal(result.ended, true);
      assert.equal(result.crc32, zlib.crc32(raw));
      assert.ok(Buffer.from(attachment.view(0, raw.length)).equals(raw));
    } finally {
      await attachment.detach();
      await removeShm(shmid, key);
    }
  });

  it('throws TypeError for arguments that are not byte arrays, RangeError for a window size it does not take', () => {
    const inflater = engine.createInflater('raw');
    assert.throws(() => inflater.inflate('x' as unknown as Uint8Array, Buffer.alloc(1), 0), TypeError);
    assert.throws(() => inflater.inflate(Buffer.alloc(1), new Uint16Array(1) as unknown as Uint8Array, 0), TypeError);
    inflater.close();
    const { Inflater } = loadShmBinding();
    assert.throws(() => new Inflater!(9 as -15), RangeError);
  });
});
