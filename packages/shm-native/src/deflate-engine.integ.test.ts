import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from './private-ipc.js';

await enterPrivateIpcNamespace();

const { describe, it } = await import('node:test');
const zlib = (await import('node:zlib')).default;
const { describeDeflateEngineConformance } = await import('@shmsnap/core/testkit');
const { attachShm, createShm, removeShm } = await import('./shm.js');
const { loadShmBinding } = await import('./binding.js');
const { addonDeflateEngine } = await import('./deflate-engine.js');
const { createFakeShmBinding } = await import('./testing/index.js');

// The real addon, built by the test run's bootstrap.
const engine = addonDeflateEngine(loadShmBinding());
assert.ok(engine, 'the addon built for this run offers a deflater');
describeDeflateEngineConformance({ engine });

describe('the addon deflate engine', () => {
  it('is absent from the in-memory binding, so the gzip codec keeps node:zlib there', () => {
    assert.equal(addonDeflateEngine(createFakeShmBinding()), undefined);
  });

  it('compresses straight from an attached segment, read-only', async () => {
    const raw = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < raw.length; i += 512) raw.writeUInt32LE((i * 2654435761) >>> 0, i);
    const key = 0x5a17_0002;
    const shmid = createShm(key, raw.length, 0o600);
    const writable = attachShm(shmid, key, false);
    raw.copy(Buffer.from(writable.view(0, raw.length).buffer, writable.view(0, raw.length).byteOffset, raw.length));
    await writable.detach();
    const attachment = attachShm(shmid, key, true);
    try {
      const deflater = engine.createDeflater(1);
      const result = await deflater.deflate(attachment.view(0, raw.length), true, 0);
      deflater.close();
      assert.equal(result.crc32, zlib.crc32(raw));
      assert.ok(zlib.inflateRawSync(result.output).equals(raw));
    } finally {
      await attachment.detach();
      await removeShm(shmid, key);
    }
  });

  it('throws TypeError for input that is not a byte array or flags of the wrong type', () => {
    const deflater = engine.createDeflater(1);
    assert.throws(() => deflater.deflate('x' as unknown as Uint8Array, true, 0), TypeError);
    assert.throws(() => deflater.deflate(new Uint16Array(1) as unknown as Uint8Array, true, 0), TypeError);
    assert.throws(() => deflater.deflate(Buffer.alloc(1), 1 as unknown as boolean, 0), TypeError);
    deflater.close();
  });
});
