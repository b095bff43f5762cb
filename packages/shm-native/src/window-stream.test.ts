// Window streams over an attachment of the in-memory binding (the kernel
// run is in shm.integ.test.ts). No root, no shared memory.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { isShmsnapError } from '@shmsnap/core';
import { pipelineSettled } from '@shmsnap/core/plugin-kit';
import { attachShm, createShm } from './shm.js';
import { createFakeShmBinding } from './testing/fake-binding.js';
import { createWindowReader, WindowWriter } from './window-stream.js';

describe('window streams, on the fake binding', () => {
  it('read a segment in bounded zero-copy windows', async () => {
    const fake = createFakeShmBinding();
    const size = 10_000 + 17;
    const shmid = createShm(0x5e000010, size, 0o600, fake);
    const data = randomBytes(size);
    const rw = attachShm(shmid, 0x5e000010, false, fake);
    data.copy(rw.view(0, size));
    const chunks: Buffer[] = [];
    await pipelineSettled([
      createWindowReader(rw, size, 4096),
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          chunks.push(chunk);
          callback();
        },
      }),
    ]);
    assert.deepEqual(chunks.map((c) => c.length), [4096, 4096, 1825]);
    assert.ok(Buffer.concat(chunks).equals(data));
    rw.view(0, 1).fill(data[0]! ^ 0xff);
    assert.equal(chunks[0]![0], data[0]! ^ 0xff, 'the windows are views of the segment, not copies');
    await rw.detach();
  });

  it('write across window edges, holding back a range that straddles one', async () => {
    const fake = createFakeShmBinding();
    const size = 3005;
    const shmid = createShm(0x5e000011, size, 0o600, fake);
    const attachment = attachShm(shmid, 0x5e000011, false, fake);
    const data = randomBytes(size);
    const writer = new WindowWriter(attachment, size, { label: '0x5e000011', windowBytes: 1000, populateAhead: 2, hold: { offset: 998, length: 4 } });
    await pipelineSettled([Readable.from([data.subarray(0, 999), data.subarray(999, 2500), data.subarray(2500)], { objectMode: false }), writer]);
    await writer.settled();
    const memory = Buffer.from(attachment.view(0, size));
    assert.ok(writer.held.equals(data.subarray(998, 1002)), 'the held bytes are kept, from both windows');
    assert.ok(memory.subarray(998, 1002).equals(Buffer.alloc(4)), 'zeros stand in for them');
    assert.ok(memory.subarray(0, 998).equals(data.subarray(0, 998)) && memory.subarray(1002).equals(data.subarray(1002)));

    const overflow = new WindowWriter(attachment, size, { label: '0x5e000011', windowBytes: 1000 });
    await assert.rejects(pipelineSettled([Readable.from([randomBytes(size + 1)], { objectMode: false }), overflow]), (e: unknown) => isShmsnapError(e, 'SIZE_MISMATCH'));
    await attachment.detach();
  });
});
