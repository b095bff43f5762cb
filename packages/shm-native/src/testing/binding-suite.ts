/**
 * The binding conformance suite: one test per guarantee of the contract in
 * `binding.ts`. It runs on the in-memory fake in the unit tests and on the
 * System V addon in shm.integ.test.ts (a private IPC namespace, as root), so
 * the fake is held to what the kernel does, not to what we believe it does:
 *
 *   import { createFakeShmBinding, describeShmBinding } from '@shmsnap/shm-native/testing';
 *   describeShmBinding('fake', createFakeShmBinding());
 *
 * Each case works on keys of its own (`keyBase` + 16 per case; none is an
 * Aerospike key) and removes every segment it made, so it can run beside
 * other segments and leaves none behind. A case can only be skipped with a
 * reason, which is printed.
 */
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { describe, it } from 'node:test';
import { isNativeError, type NativeAttachment, type ShmBinding, type ShmStat } from '../binding.js';
import { SHM_DEST, SHM_LOCKED } from '../shm.js';

export const SHM_BINDING_CASES = [
  'create',
  'exclusive-create',
  'argument-checks',
  'unknown-id',
  'attach-and-view',
  'view-bounds',
  'detach',
  'populate',
  'list',
  'set-owner',
  'lock',
  'remove',
  'remove-while-attached',
  'remove-now',
] as const;

export type ShmBindingCase = (typeof SHM_BINDING_CASES)[number];

export interface ShmBindingSuiteOptions {
  /** First key of the suite's range (16 keys per case). @default 0x5e5e0000 */
  readonly keyBase?: number;
  /** Cases that cannot run against this binding, each with the reason (printed). */
  readonly skip?: Partial<Record<ShmBindingCase, string>>;
}

/** What one case made, so that it is removed whatever the outcome. */
class Scratch {
  readonly #binding: ShmBinding;
  readonly #keyBase: number;
  readonly #ids: number[] = [];
  readonly #attachments: NativeAttachment[] = [];

  constructor(binding: ShmBinding, keyBase: number) {
    this.#binding = binding;
    this.#keyBase = keyBase;
  }

  key(n: number): number {
    return (this.#keyBase + n) >>> 0;
  }

  create(n: number, size: number, mode = 0o600): number {
    const shmid = this.#binding.create(this.key(n), size, mode);
    this.#ids.push(shmid);
    return shmid;
  }

  attach(shmid: number, readOnly: boolean): NativeAttachment {
    const attachment = new this.#binding.Attachment(shmid, readOnly);
    this.#attachments.push(attachment);
    return attachment;
  }

  async cleanup(): Promise<void> {
    for (const attachment of this.#attachments) await attachment.detach().catch(() => undefined);
    for (const shmid of this.#ids) await this.#binding.remove(shmid).catch(() => undefined);
  }
}

/** The addon's error shape: errno as the OS numbers it, the code, the syscall, and "syscall: strerror". */
function assertNativeError(error: unknown, code: string, syscall: string): true {
  assert.ok(isNativeError(error), `expected an Error with errno, code and syscall, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  assert.equal(error.syscall, syscall, error.message);
  assert.equal(error.errno, (constants.errno as Readonly<Record<string, number>>)[code], `errno of ${code}`);
  assert.ok(error.message.startsWith(`${syscall}: `), `message "${error.message}" names the syscall first`);
  return true;
}

function throwsNative(body: () => unknown, code: string, syscall: string): void {
  assert.throws(body, (error: unknown) => assertNativeError(error, code, syscall));
}

async function rejectsNative(promise: Promise<unknown>, code: string, syscall: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => assertNativeError(error, code, syscall));
}

/** shmctl(SHM_STAT) over every index up to SHM_INFO's bound, as listShmSegments does. */
function scan(binding: ShmBinding): ShmStat[] {
  const { highestIndex } = binding.shmInfo();
  const out: ShmStat[] = [];
  for (let index = 0; index <= highestIndex; index++) {
    const stat = binding.shmStat(index);
    if (stat) out.push(stat);
  }
  return out;
}

function allZero(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

export function describeShmBinding(name: string, binding: ShmBinding, options: ShmBindingSuiteOptions = {}): void {
  const keyBase = options.keyBase ?? 0x5e5e0000;

  const check = (which: ShmBindingCase, body: (scratch: Scratch) => Promise<void> | void): void => {
    const reason = options.skip?.[which];
    if (reason !== undefined) {
      it(which, { skip: `${name}: ${reason}` }, () => undefined);
      return;
    }
    it(which, async () => {
      const scratch = new Scratch(binding, keyBase + SHM_BINDING_CASES.indexOf(which) * 16);
      try {
        await body(scratch);
      } finally {
        await scratch.cleanup();
      }
    });
  };

  describe(`ShmBinding conformance: ${name}`, () => {
    check('create', async (s) => {
      const size = 12_345; // not a multiple of the page size: kept as asked
      const shmid = s.create(0, size, 0o640);
      assert.ok(Number.isInteger(shmid) && shmid >= 0, `shmid ${shmid}`);
      assert.equal(binding.lookup(s.key(0)), shmid);
      const stat = binding.ipcStat(shmid);
      assert.deepEqual(
        [stat.shmid, stat.key, stat.size, stat.mode, stat.nattch, stat.cpid, stat.atime, stat.dtime],
        [shmid, s.key(0), size, 0o640, 0, process.pid, 0, 0],
      );
      assert.deepEqual([stat.uid, stat.gid], [stat.cuid, stat.cgid], 'the creator owns it');
      assert.ok(stat.ctime > 0, 'ctime is set');
      const attachment = s.attach(shmid, true);
      assert.ok(allZero(attachment.view(0, size)), 'new memory reads as zeros');
      await attachment.detach();
    });

    check('exclusive-create', async (s) => {
      const shmid = s.create(0, 4096);
      throwsNative(() => binding.create(s.key(0), 8192, 0o600), 'EEXIST', 'shmget');
      assert.equal(binding.ipcStat(shmid).size, 4096, 'the existing segment is untouched');
      await binding.remove(shmid);
      const again = s.create(0, 8192);
      assert.equal(binding.ipcStat(again).size, 8192, 'the key is free once the segment is removed');
    });

    check('argument-checks', (s) => {
      assert.throws(() => binding.create(0, 4096, 0o600), RangeError, 'IPC_PRIVATE is refused');
      assert.throws(() => binding.create(s.key(0), 4096, 0o1600), RangeError, 'mode beyond the permission bits');
      assert.throws(() => binding.create(s.key(0), 1.5, 0o600), RangeError, 'a fractional size');
      assert.throws(() => binding.create(s.key(0), -1, 0o600), RangeError, 'a negative size');
      throwsNative(() => binding.create(s.key(0), 0, 0o600), 'EINVAL', 'shmget');
      assert.equal(binding.lookup(s.key(0)), null, 'no failed create left a segment');
      assert.throws(() => binding.ipcStat(-1), RangeError);
      assert.throws(() => binding.shmStat(-1), RangeError);
      const shmid = s.create(1, 4096);
      assert.throws(() => new binding.Attachment(shmid, 1 as unknown as boolean), TypeError);
      assert.throws(() => binding.setOwner(shmid, 0, 0, 0o1600), RangeError);
      assert.throws(() => binding.setLocked(shmid, 'yes' as unknown as boolean), TypeError);
      assert.equal(binding.ipcStat(shmid).nattch, 0, 'a refused attach does not count');
    });

    check('unknown-id', async (s) => {
      const stale = s.create(0, 4096);
      await binding.remove(stale);
      assert.equal(binding.lookup(s.key(0)), null);
      assert.equal(binding.lookup(s.key(1)), null, 'a key never used');
      throwsNative(() => binding.ipcStat(stale), 'EINVAL', 'shmctl(IPC_STAT)');
      throwsNative(() => new binding.Attachment(stale, true), 'EINVAL', 'shmctl(IPC_STAT)');
      throwsNative(() => binding.setOwner(stale, 0, 0, 0o600), 'EINVAL', 'shmctl(IPC_STAT)');
      throwsNative(() => binding.setLocked(stale, true), 'EINVAL', 'shmctl(SHM_LOCK)');
      await rejectsNative(binding.remove(stale), 'EINVAL', 'shmctl(IPC_RMID)');
    });

    check('attach-and-view', async (s) => {
      const size = 3 * 4096 + 5;
      const shmid = s.create(0, size);
      const rw = s.attach(shmid, false);
      assert.deepEqual([rw.size, rw.readOnly, rw.attached], [size, false, true]);
      const attachedStat = binding.ipcStat(shmid);
      assert.deepEqual([attachedStat.nattch, attachedStat.lpid], [1, process.pid]);
      assert.ok(attachedStat.atime > 0, 'atime is set by the attach');
      rw.view(size - 1000, 1000).fill(7);
      const ro = s.attach(shmid, true);
      assert.deepEqual([ro.size, ro.readOnly, binding.ipcStat(shmid).nattch], [size, true, 2]);
      assert.equal(ro.view(size - 1, 1)[0], 7, 'a second attachment sees the same memory');
      const seen = ro.view(0, 4);
      rw.view(0, 4).fill(3);
      assert.equal(seen[0], 3, 'a view sees writes made after it was taken (zero-copy)');
      const wide = rw.view(0, 16);
      const narrow = rw.view(8, 8);
      wide[8] = 9;
      assert.equal(narrow[0], 9, 'views of one attachment alias each other');
      await ro.detach();
      await rw.detach();
      const detachedStat = binding.ipcStat(shmid);
      assert.equal(detachedStat.nattch, 0);
      assert.ok(detachedStat.dtime > 0, 'dtime is set by the detach');
      const again = s.attach(shmid, true);
      assert.equal(again.view(size - 1, 1)[0], 7, 'the memory outlives its attachments');
      await again.detach();
    });

    check('view-bounds', async (s) => {
      const size = 8192;
      const attachment = s.attach(s.create(0, size), true);
      assert.throws(() => attachment.view(size - 10, 11), (e: unknown) => e instanceof RangeError && /beyond the end/.test(e.message));
      assert.throws(() => attachment.view(size + 1, 0), RangeError);
      assert.equal(attachment.view(size, 0).length, 0, 'an empty view at the end is allowed');
      assert.ok(Number.isSafeInteger(binding.maxViewBytes) && binding.maxViewBytes > 0 && binding.maxViewBytes < 2 ** 32, `maxViewBytes ${binding.maxViewBytes}`);
      assert.throws(() => attachment.view(0, binding.maxViewBytes + 1), RangeError);
      assert.throws(() => attachment.view(0.5, 1), RangeError);
      await attachment.detach();
    });

    check('detach', async (s) => {
      const shmid = s.create(0, 4096);
      const attachment = s.attach(shmid, false);
      const done = attachment.detach();
      assert.equal(attachment.attached, false, 'detached as soon as detach() is called');
      assert.throws(() => attachment.view(0, 1), /detached/);
      assert.throws(() => attachment.populate(0, 1), /detached/);
      await done;
      assert.equal(binding.ipcStat(shmid).nattch, 0, 'nattch has dropped once detach() settles');
      await attachment.detach(); // a second detach is a no-op
      assert.equal(binding.ipcStat(shmid).nattch, 0);
    });

    check('populate', async (s) => {
      const size = 64 * 1024 + 3;
      const shmid = s.create(0, size);
      const rw = s.attach(shmid, false);
      assert.equal(typeof (await rw.populate(0, size)), 'boolean');
      assert.equal(typeof (await rw.populate(4097, 100)), 'boolean', 'an unaligned range');
      assert.throws(() => rw.populate(0, size + 1), RangeError);
      assert.ok(allZero(rw.view(0, size)), 'populating does not change the content');
      const ro = s.attach(shmid, true);
      assert.equal(typeof (await ro.populate(0, size)), 'boolean', 'a read-only attachment populates for reading');
      assert.throws(() => ro.populate(1, size), RangeError);
      assert.ok(allZero(ro.view(0, size)), 'populating for reading does not change the content either');
      await ro.detach();
      await rw.detach();
    });

    check('list', async (s) => {
      const first = s.create(0, 4096, 0o600);
      const second = s.create(1, 5000, 0o644);
      const info = binding.shmInfo();
      assert.ok(Number.isInteger(info.highestIndex) && info.highestIndex >= 0, `highestIndex ${info.highestIndex}`);
      assert.ok(info.usedIds >= 2, `usedIds ${info.usedIds}`);
      const listed = scan(binding);
      for (const shmid of [first, second]) {
        const found = listed.filter((stat) => stat.shmid === shmid);
        assert.equal(found.length, 1, `SHM_INFO + SHM_STAT lists segment ${shmid} once`);
        assert.deepEqual(found[0], binding.ipcStat(shmid), 'SHM_STAT and IPC_STAT agree');
      }
      assert.equal(binding.shmStat(info.highestIndex + 1), null, 'an index past the bound is unused');
      await binding.remove(first);
      assert.ok(!scan(binding).some((stat) => stat.shmid === first), 'a removed segment is no longer listed');
    });

    check('set-owner', (s) => {
      const shmid = s.create(0, 4096, 0o600);
      const before = binding.ipcStat(shmid);
      binding.setOwner(shmid, 1234, 2345, 0o604);
      const after = binding.ipcStat(shmid);
      assert.deepEqual([after.uid, after.gid, after.mode], [1234, 2345, 0o604]);
      assert.deepEqual([after.cuid, after.cgid, after.key, after.size], [before.cuid, before.cgid, before.key, before.size], 'only owner and mode change');
      assert.ok(after.ctime >= before.ctime);
      assert.equal(binding.lookup(s.key(0)), shmid);
    });

    check('lock', (s) => {
      const shmid = s.create(0, 4096, 0o600);
      binding.setLocked(shmid, true);
      assert.equal(binding.ipcStat(shmid).mode, SHM_LOCKED | 0o600, 'SHM_LOCKED shows in mode');
      binding.setOwner(shmid, 0, 0, 0o640);
      assert.equal(binding.ipcStat(shmid).mode, SHM_LOCKED | 0o640, 'IPC_SET changes the permission bits and keeps the status bits');
      binding.setLocked(shmid, false);
      assert.equal(binding.ipcStat(shmid).mode, 0o640);
    });

    check('remove', async (s) => {
      const shmid = s.create(0, 4096);
      await binding.remove(shmid);
      assert.equal(binding.lookup(s.key(0)), null);
      throwsNative(() => binding.ipcStat(shmid), 'EINVAL', 'shmctl(IPC_STAT)');
      const again = s.create(0, 4096);
      assert.notEqual(again, shmid, 'a new segment gets a new id');
    });

    check('remove-while-attached', async (s) => {
      const size = 4096;
      const shmid = s.create(0, size, 0o640);
      const attachment = s.attach(shmid, false);
      attachment.view(0, size).fill(5);
      await binding.remove(shmid);
      const marked = binding.ipcStat(shmid);
      assert.deepEqual([marked.key, marked.mode, marked.nattch], [0, SHM_DEST | 0o640, 1], 'marked SHM_DEST, key IPC_PRIVATE, still attached');
      assert.equal(binding.lookup(s.key(0)), null, 'its key finds nothing');
      assert.ok(scan(binding).some((stat) => stat.shmid === shmid && stat.key === 0), 'still listed, under key 0');
      assert.equal(attachment.view(size - 1, 1)[0], 5, 'the memory stays while attached');
      const successor = s.create(0, 8192);
      assert.notEqual(successor, shmid, 'the key can be taken again at once');
      assert.equal(binding.lookup(s.key(0)), successor);
      await binding.remove(shmid); // removing it again is not an error
      await attachment.detach();
      throwsNative(() => binding.ipcStat(shmid), 'EINVAL', 'shmctl(IPC_STAT)');
      assert.equal(binding.ipcStat(successor).size, 8192, 'the successor is untouched');
    });

    check('remove-now', async (s) => {
      const shmid = s.create(0, 4096, 0o600);
      const attachment = s.attach(shmid, false);
      binding.removeNow(shmid);
      const marked = binding.ipcStat(shmid);
      assert.deepEqual([marked.key, marked.mode & SHM_DEST, marked.nattch], [0, SHM_DEST, 1], 'marked at once, before it returns, still attached');
      assert.equal(binding.lookup(s.key(0)), null, 'its key finds nothing');
      binding.removeNow(shmid); // marking it again is not an error
      await attachment.detach();
      throwsNative(() => binding.ipcStat(shmid), 'EINVAL', 'shmctl(IPC_STAT)');
      throwsNative(() => binding.removeNow(shmid), 'EINVAL', 'shmctl(IPC_RMID)');
    });
  });
}
