// Real System V shared memory, in a private IPC namespace for this test file.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from './private-ipc.js';

await enterPrivateIpcNamespace();

const { randomBytes } = await import('node:crypto');
const { Readable, Writable } = await import('node:stream');
const { afterEach, describe, it } = await import('node:test');
const { isShmsnapError } = await import('@shmsnap/core');
const { crc32, pipelineSettled } = await import('@shmsnap/core/plugin-kit');
const { createFixture, describeFixture } = await import('./fixture.js');
const { describeShmBinding } = await import('./testing/binding-suite.js');
const { assertSourceRefuses, ONE_NAMESPACE, SOURCE_REFUSALS } = await import('./testing/source-refusals.js');
const shm = { ...(await import('@shmsnap/core')), ...(await import('./index.js')) };

type FixtureOptions = import('./fixture.js').FixtureOptions;

/** Every Aerospike-keyed segment in this IPC namespace. */
function aerospikeKeys(): string[] {
  return shm.listShmSegments().filter((s) => shm.decodeKey(s.key) !== undefined).map((s) => `0x${s.key.toString(16)}`);
}

afterEach(async () => {
  // Tests clean up after themselves; a leftover would show up here first.
  const left = shm.listShmSegments();
  for (const s of left) await shm.removeShm(s.shmid, s.key);
  assert.deepEqual(left.map((s) => `0x${s.key.toString(16)}`), [], 'a test left segments behind');
});

const oneNamespace: FixtureOptions = ONE_NAMESPACE;

// The same suite runs on the in-memory fake in testing/fake-binding.test.ts:
// this run is what makes the fake's behaviour the kernel's.
describeShmBinding('sysv', shm.loadShmBinding());

describe('the native binding', () => {
  it('creates, lists, stats, attaches, views and removes a segment', async () => {
    const shmid = shm.createShm(0xae001100, 1_000_003, 0o640);
    assert.equal(shm.lookupShm(0xae001100), shmid);
    const listed = shm.listShmSegments().find((s) => s.key === 0xae001100);
    assert.ok(listed, 'SHM_INFO + SHM_STAT finds the segment');
    assert.deepEqual([listed.shmid, listed.size, listed.mode & 0o777, listed.nattch, listed.uid], [shmid, 1_000_003, 0o640, 0, process.getuid!()]);
    const rw = shm.attachShm(shmid, 0xae001100, false);
    assert.equal(rw.size, 1_000_003);
    rw.view(999_000, 1003).fill(7);
    assert.equal(shm.statShm(shmid, 0xae001100).nattch, 1);
    const ro = shm.attachShm(shmid, 0xae001100, true);
    assert.equal(ro.view(1_000_002, 1)[0], 7, 'a second attachment sees the same memory (zero-copy)');
    await ro.detach();
    await rw.detach();
    assert.equal(shm.statShm(shmid, 0xae001100).nattch, 0);
    shm.setShmOwner(shmid, 0xae001100, 1234, 2345, 0o600);
    const owned = shm.statShm(shmid, 0xae001100);
    assert.deepEqual([owned.uid, owned.gid, owned.mode & 0o777], [1234, 2345, 0o600]);
    await shm.removeShm(shmid, 0xae001100);
    assert.equal(shm.lookupShm(0xae001100), undefined);
  });

  it('refuses to reuse an existing key, with a coded error', async () => {
    const shmid = shm.createShm(0xae001000, 4096, 0o600);
    try {
      assert.throws(() => shm.createShm(0xae001000, 4096, 0o600), (e: unknown) => isShmsnapError(e, 'SEGMENT_EXISTS') && /0xae001000/.test(e.message));
    } finally {
      await shm.removeShm(shmid, 0xae001000);
    }
  });

  it('reports failed syscalls with errno, code and syscall', () => {
    assert.throws(() => shm.statShm(0x7ffffff0, 0xae001000), (e: unknown) => {
      assert.ok(isShmsnapError(e, 'SHM_FAILED'));
      assert.match(e.message, /shmctl\(IPC_STAT\) failed for segment 0xae001000/);
      const cause = e.cause as { errno: number; code: string; syscall: string };
      assert.deepEqual([cause.code, cause.syscall, typeof cause.errno], ['EINVAL', 'shmctl(IPC_STAT)', 'number']);
      return true;
    });
  });

  it('keeps views inside the segment and refuses them after detach', async () => {
    const shmid = shm.createShm(0xae001101, 8192, 0o600);
    const attachment = shm.attachShm(shmid, 0xae001101, true);
    assert.throws(() => attachment.view(8000, 193), /beyond the end/);
    assert.throws(() => attachment.view(0, 2 ** 32), /above 2 GiB/);
    await attachment.detach();
    assert.equal(attachment.attached, false);
    assert.throws(() => attachment.view(0, 1), /detached/);
    await shm.removeShm(shmid, 0xae001101);
  });
});

describe('window streams', () => {
  it('stream a segment larger than the window, zero-copy, in bounded windows', async () => {
    const size = 5 * 1024 * 1024 + 17;
    const shmid = shm.createShm(0xae001102, size, 0o600);
    const writer = shm.attachShm(shmid, 0xae001102, false);
    const data = randomBytes(size);
    data.copy(writer.view(0, size));
    await writer.detach();

    const reader = shm.attachShm(shmid, 0xae001102, true);
    const lengths: number[] = [];
    let crc = 0;
    await pipelineSettled([
      shm.createWindowReader(reader, size, 1024 * 1024),
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lengths.push(chunk.length);
          crc = crc32(chunk, crc);
          callback();
        },
      }),
    ]);
    await reader.detach();
    await shm.removeShm(shmid, 0xae001102);
    assert.equal(crc, crc32(data));
    assert.deepEqual(lengths, [...Array<number>(5).fill(1024 * 1024), 17]);
  });

  it('write into windows, never past the end, holding back a byte range', async () => {
    const size = 3 * 1000 + 5;
    const shmid = shm.createShm(0xae001103, size, 0o600);
    const attachment = shm.attachShm(shmid, 0xae001103, false);
    const data = randomBytes(size);
    const writer = new shm.WindowWriter(attachment, size, { label: '0xae001103', windowBytes: 1000, hold: { offset: 4, length: 4 } });
    const chunks = [data.subarray(0, 6), data.subarray(6, 2500), data.subarray(2500)];
    await pipelineSettled([Readable.from(chunks, { objectMode: false }), writer]);
    const memory = Buffer.from(attachment.view(0, size));
    assert.ok(writer.held.equals(data.subarray(4, 8)), 'the held bytes are kept');
    assert.ok(memory.subarray(4, 8).equals(Buffer.alloc(4)), 'zeros stand in for the held bytes');
    assert.ok(memory.subarray(8).equals(data.subarray(8)) && memory.subarray(0, 4).equals(data.subarray(0, 4)));

    const overflow = new shm.WindowWriter(attachment, size, { label: '0xae001103', windowBytes: 1000 });
    await assert.rejects(pipelineSettled([Readable.from([randomBytes(size + 1)], { objectMode: false }), overflow]), (e: unknown) => isShmsnapError(e, 'SIZE_MISMATCH'));
    await attachment.detach();
    await shm.removeShm(shmid, 0xae001103);
  });
});

describe('shm source and target', () => {
  it('round-trips a fixture through Source → Target byte-identical, owner and mode included', async () => {
    const options: FixtureOptions = {
      owner: { uid: 1234, gid: 2345, mode: 0o640 },
      namespaces: [
        { name: 'test', nsid: 1, stages: 3, stageBytes: 300 * 1024, secondary: { stages: 2, stageBytes: 64 * 1024 }, data: { stages: 2, stageBytes: 128 * 1024, lows: [0, 1] } },
        { name: 'bar', nsid: 2, stages: 1, stageBytes: 64 * 1024 },
      ],
    };
    const fixture = await createFixture(options);
    const source = shm.createShmSource({ windowBytes: 100 * 1024 });
    const descriptors = await source.list();
    assert.equal(descriptors.length, fixture.segments.length);
    assert.deepEqual(descriptors.map((d) => d.key).sort(), fixture.segments.map((s) => s.descriptor.key).sort());
    const copies = new Map<number, Buffer>();
    for (const d of descriptors) {
      const reader = await source.open(d);
      const chunks: Buffer[] = [];
      await pipelineSettled([reader.stream, new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(Buffer.from(c)), cb()) })]);
      await reader.close();
      copies.set(d.key, Buffer.concat(chunks));
    }
    await fixture.remove();
    assert.equal(aerospikeKeys().length, 0);

    const target = shm.createShmTarget({ windowBytes: 64 * 1024 });
    await target.check(descriptors);
    for (const d of descriptors) {
      const writer = await target.create(d);
      await pipelineSettled([Readable.from([copies.get(d.key)!], { objectMode: false }), writer.stream]);
      await writer.commit();
    }
    await target.complete();
    assert.deepEqual(await fixture.compare(), []);
    await fixture.remove();
  });

  it('classifies data stage 0x001 after a primary stage correctly (ASMT bug §23.1)', async () => {
    const fixture = await createFixture({ namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 4096, data: { stages: 3, stageBytes: 4096, lows: [0x001, 0x000, 0x150] } }] });
    try {
      const descriptors = await shm.createShmSource().list();
      assert.deepEqual(
        descriptors.filter((d) => d.kind === 'data-stage').map((d) => [d.key.toString(16), d.stage]),
        [['ad001000', 0], ['ad001001', 1], ['ad001150', 0x150]],
      );
    } finally {
      await fixture.remove();
    }
  });

  it("shares a segment's memory with another thread, which writes it in place (a codec's direct decoder)", async () => {
    const { Worker } = await import('node:worker_threads');
    const segments = describeFixture(oneNamespace).map((s) => s.descriptor);
    const stage = segments.find((d) => d.kind !== 'primary-base')!;
    const base = segments.find((d) => d.kind === 'primary-base')!;
    const target = shm.createShmTarget();
    await target.check([stage, base]);
    try {
      const writer = await target.create(stage);
      const handle = writer.direct?.shared;
      assert.ok(handle, 'a non-base segment on the addon offers a shared handle');
      assert.equal(handle.size, stage.size);
      assert.equal((await target.create(base)).direct, undefined, 'a base offers no direct memory at all (its shutdown status is withheld)');
      // The thread opens the memory, fills it with a pattern in two views, closes it, and says whether a view past the end was refused.
      const worker = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads');
         (async () => {
           const { openSharedWindows } = await import(workerData.handle.module);
           const windows = openSharedWindows(workerData.handle.args);
           const half = Math.floor(workerData.handle.size / 2);
           windows.view(0, half).fill(0x5a);
           windows.view(half, workerData.handle.size - half).fill(0xa5);
           let refused = false;
           try { windows.view(workerData.handle.size - 1, 2); } catch { refused = true; }
           await windows.close();
           parentPort.postMessage({ refused });
         })().catch((error) => parentPort.postMessage({ error: String(error) }));`,
        // Under the test runner the handle names this package's TypeScript source, which a plain thread cannot
        // import: it takes the same module as built (the build runs before the tests), as an installed package has it.
        { eval: true, workerData: { handle: { ...handle, module: handle.module.replace('/src/', '/dist/').replace(/\.ts$/, '.js') } } },
      );
      const reply = await new Promise<{ refused?: boolean; error?: string }>((resolve) => worker.once('message', resolve));
      await worker.terminate();
      assert.deepEqual(reply, { refused: true }, 'the thread wrote the memory and could not view past its end');
      writer.direct!.wrote(stage.size);
      assert.equal(shm.statShm(shm.lookupShm(stage.key)!, stage.key).nattch, 1, "after close, only the target's own attachment is left");
      await writer.commit();
      const check = shm.attachShm(shm.lookupShm(stage.key)!, stage.key, true);
      const half = Math.floor(stage.size / 2);
      assert.ok(check.view(0, half).every((b) => b === 0x5a) && check.view(half, stage.size - half).every((b) => b === 0xa5), 'the segment holds what the thread wrote');
      await check.detach();
    } finally {
      await target.rollback();
    }
    assert.deepEqual(aerospikeKeys(), []);
  });

  it('a target rollback removes the segments it created and no other', async () => {
    const bystander = shm.createShm(0xae002000, 4096, 0o600);
    const segments = describeFixture(oneNamespace).map((s) => s.descriptor);
    const target = shm.createShmTarget();
    await target.check(segments);
    const writer = await target.create(segments[2]!);
    await pipelineSettled([Readable.from([randomBytes(segments[2]!.size)], { objectMode: false }), writer.stream]);
    await writer.commit();
    await target.create(segments[3]!); // left half-done
    assert.equal(aerospikeKeys().length, 3);
    await target.rollback();
    assert.deepEqual(aerospikeKeys(), ['0xae002000']);
    await shm.removeShm(bystander, 0xae002000);
  });

  it('keeps a restored base "not cleanly shut down" until the restore completes', async () => {
    const fixture = await createFixture(oneNamespace);
    const base = fixture.segments[0]!;
    const bytes = Buffer.alloc(base.descriptor.size);
    const reader = shm.attachShm(shm.lookupShm(base.descriptor.key)!, base.descriptor.key, true);
    reader.view(0, bytes.length).copy(bytes);
    await reader.detach();
    await fixture.remove();

    const target = shm.createShmTarget();
    const writer = await target.create(base.descriptor);
    await pipelineSettled([Readable.from([bytes], { objectMode: false }), writer.stream]);
    await writer.commit();
    const statusNow = async (): Promise<number> => {
      const a = shm.attachShm(shm.lookupShm(base.descriptor.key)!, base.descriptor.key, true);
      const status = a.view(4, 4).readUInt32LE(0);
      await a.detach();
      return status;
    };
    assert.equal(await statusNow(), 0, 'before complete() the base must not look clean');
    await assert.rejects(shm.createShmSource().list(), (e: unknown) => isShmsnapError(e, 'SEGMENT_NOT_CLEAN') || isShmsnapError(e, 'SEGMENT_SET_INVALID'));
    await target.complete();
    assert.equal(await statusNow(), 1);
    await fixture.remove();
  });
});

// The table is shared with shm-source.test.ts, which runs it on the fake.
describe('refusals before a backup, one per check', () => {
  for (const refusal of SOURCE_REFUSALS) it(refusal.name, () => assertSourceRefuses(refusal, shm.loadShmBinding()));
});

describe('refusal before a restore', () => {
  it('segments of the namespace already present', async () => {
    const fixture = await createFixture(oneNamespace);
    const target = shm.createShmTarget();
    try {
      await assert.rejects(target.check(fixture.segments.map((s) => s.descriptor)), (e: unknown) => {
        assert.ok(isShmsnapError(e, 'SEGMENT_EXISTS'));
        assert.match(e.message, /already holds 5 segments of instance 0 nsid 1 \('test'\) \(0xae001000, 0xae001001, 0xae001100 and 2 more\); refusing/);
        return true;
      });
      assert.deepEqual(target.created(), []);
      assert.deepEqual(await fixture.compare(), [], 'the existing segments are untouched');
    } finally {
      await fixture.remove();
    }
  });
});
