// The in-memory binding: the conformance suite shm.integ.test.ts runs on the
// kernel, then what only the fake has (another process, injected failures,
// limits). No root, no shared memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isShmsnapError } from '@shmsnap/core';
import { isNativeError } from '../binding.js';
import { attachShm, createShm, listShmSegments, removeShm, SHM_DEST, statShm } from '../shm.js';
import { describeShmBinding } from './binding-suite.js';
import { createFakeShmBinding } from './fake-binding.js';

describeShmBinding('fake', createFakeShmBinding());

describe('the fake binding, beyond the contract', () => {
  it('counts another process attaching, and defers a removal until it detaches', async () => {
    const fake = createFakeShmBinding();
    const shmid = fake.create(0x5e000001, 4096, 0o600);
    const server = fake.attachElsewhere(shmid, 777);
    assert.deepEqual([fake.ipcStat(shmid).nattch, fake.ipcStat(shmid).lpid], [1, 777]);
    await fake.remove(shmid);
    assert.equal(fake.ipcStat(shmid).mode & SHM_DEST, SHM_DEST, 'marked, not gone, while the other process is attached');
    server.detach();
    server.detach(); // idempotent: it must not count twice
    assert.throws(() => fake.ipcStat(shmid), (e: unknown) => isNativeError(e) && e.code === 'EINVAL');
    assert.throws(() => fake.attachElsewhere(shmid), (e: unknown) => isNativeError(e) && e.code === 'EINVAL' && e.syscall === 'shmat');
  });

  it('fails the next call of a syscall with an injected errno, once', async () => {
    const fake = createFakeShmBinding();
    fake.failNext('shmget', 'EACCES');
    assert.throws(() => createShm(0x5e000002, 4096, 0o600, fake), (e: unknown) => {
      assert.ok(isShmsnapError(e, 'SHM_FAILED'));
      assert.match(e.message, /shmget failed for segment 0x5e000002 \(4096 bytes\): shmget: Permission denied/);
      assert.deepEqual(e.details.errno, 'EACCES');
      return true;
    });
    const shmid = createShm(0x5e000002, 4096, 0o600, fake);
    fake.failNext('shmctl(IPC_RMID)', 'EPERM');
    await assert.rejects(removeShm(shmid, 0x5e000002, fake), (e: unknown) => isShmsnapError(e, 'SHM_FAILED') && /shmctl\(IPC_RMID\)/.test(e.message));
    await removeShm(shmid, 0x5e000002, fake);
    assert.deepEqual(listShmSegments(fake), []);
  });

  it('refuses segments past its limits with ENOSPC, as SHMMNI and SHMALL do', () => {
    const fake = createFakeShmBinding({ maxSegments: 2, capacityBytes: 10_000 });
    fake.create(0x5e000003, 4096, 0o600);
    assert.throws(() => fake.create(0x5e000004, 8192, 0o600), (e: unknown) => isNativeError(e) && e.code === 'ENOSPC', 'capacity');
    fake.create(0x5e000004, 4096, 0o600);
    assert.throws(() => fake.create(0x5e000005, 1, 0o600), (e: unknown) => isNativeError(e) && e.code === 'ENOSPC', 'segment count');
  });

  it('builds ids as the kernel does and does not hand a removed one out again at once', async () => {
    const fake = createFakeShmBinding();
    const first = fake.create(0x5e000006, 4096, 0o600);
    await fake.remove(first);
    const second = fake.create(0x5e000006, 4096, 0o600);
    assert.notEqual(second, first);
    const listed = listShmSegments(fake);
    assert.deepEqual(listed.map((s) => s.shmid), [second]);
    assert.equal(fake.shmStat(second % 32768)?.shmid, second, 'SHM_STAT takes the index, the low bits of the id');
  });

  it('poisons the memory of a segment once it is gone, so a view kept past that reads garbage', async () => {
    const fake = createFakeShmBinding();
    const shmid = fake.create(0x5e000007, 4096, 0o600);
    const attachment = attachShm(shmid, 0x5e000007, false, fake);
    const kept = attachment.view(0, 4096);
    kept.fill(1);
    await attachment.detach();
    await fake.remove(shmid);
    assert.ok(kept.every((b) => b === 0xdd));
  });

  it('keeps separate fakes apart, and a lower maxViewBytes bounds views', () => {
    const a = createFakeShmBinding({ maxViewBytes: 1024 });
    const b = createFakeShmBinding();
    const shmid = a.create(0x5e000008, 4096, 0o600);
    assert.equal(b.lookup(0x5e000008), null);
    assert.equal(statShm(shmid, 0x5e000008, a).size, 4096);
    const attachment = new a.Attachment(shmid, true);
    assert.equal(attachment.view(0, 1024).length, 1024);
    assert.throws(() => attachment.view(0, 1025), /above 1024 bytes/);
  });
});
