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

  it('a read-only reader populates a bounded number of windows ahead, and settled() and destroy wait for them', async () => {
    const fake = createFakeShmBinding();
    const size = 10 * 4096 + 5;
    const shmid = createShm(0x5e000011, size, 0o600, fake);
    const data = randomBytes(size);
    const rw = attachShm(shmid, 0x5e000011, false, fake);
    data.copy(rw.view(0, size));
    await rw.detach();
    const ro = attachShm(shmid, 0x5e000011, true, fake);
    const populated: [number, number][] = [];
    let running = 0;
    let mostRunning = 0;
    const releases: (() => void)[] = [];
    const counted: typeof ro = {
      size: ro.size,
      readOnly: true,
      attached: true,
      view: (offset, length) => ro.view(offset, length),
      detach: () => ro.detach(),
      populate: (offset, length) => {
        populated.push([offset, length]);
        running += 1;
        mostRunning = Math.max(mostRunning, running);
        return new Promise<boolean>((resolve) => releases.push(() => ((running -= 1), resolve(true))));
      },
    };
    // Populates finish only when released: the reader must not pass a window whose populate still runs.
    const reader = createWindowReader(counted, size, 4096, { populateAhead: 2 });
    const chunks: Buffer[] = [];
    const drained = (async () => {
      for await (const chunk of reader) chunks.push(chunk as Buffer);
    })();
    for (let spins = 0; spins < 200 && chunks.length * 4096 < size; spins++) {
      await new Promise((r) => setImmediate(r));
      assert.ok(populated.length <= Math.ceil(chunks.length + 3), `at most 2 windows ahead of the reader (${populated.length} populates, ${chunks.length} windows read)`);
      releases.shift()?.();
    }
    await drained;
    assert.ok(Buffer.concat(chunks).equals(data));
    assert.deepEqual(populated.map(([o]) => o), Array.from({ length: 11 }, (_, i) => i * 4096), 'every window populated once, in order');
    assert.equal(populated.at(-1)![1], 5, 'the last window is the rest');
    assert.ok(mostRunning >= 2, `populates run ahead of the reader, not one at a time (at most ${mostRunning} at once)`);
    // Destroyed while a populate runs: 'close' only once it settled.
    const early = createWindowReader(counted, size, 4096, { populateAhead: 2 });
    early.resume();
    await new Promise((r) => setImmediate(r));
    assert.ok(running > 0, 'a populate is running');
    let closed = false;
    early.on('close', () => (closed = true));
    early.destroy();
    await new Promise((r) => setImmediate(r));
    assert.equal(closed, false, 'not closed while a populate may touch the mapping');
    while (releases.length > 0) releases.shift()!();
    await early.settled();
    await new Promise((r) => setImmediate(r));
    assert.equal(closed, true);
    await ro.detach();
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
