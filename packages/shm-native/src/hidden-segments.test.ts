// Counting the segments a user cannot see, from /proc/sysvipc/shm's table or,
// without it, from SHM_INFO's ids in use. No root, no shared memory: the
// fake binding sees every segment, so what /proc adds is what is hidden.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hiddenShmSegments, parseProcSysvipcShm } from './hidden-segments.js';
import { createShm } from './shm.js';
import { createFakeShmBinding } from './testing/fake-binding.js';

// As Linux 6.x prints it (columns trimmed to the first eleven plus times).
const PROC = `       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap
-1375727616        100   600                 65536 24922 24922      0     0     0     0     0 1796154125 1796154125 1796154125                 65536                     0
-1375727359        103  1600                 65536 24922 24922      1     0     0     0     0 1796154125 1796154125 1796154125                 65536                     0
      4660        107   644                  4096 24922 24922      0  1000  1000  1000  1000 1796154125 1796154125 1796154125                  4096                     0
-1374679040        109   600                  4096 24922 24922      0     0     0     0     0 1796154125 1796154125 1796154125                  4096                     0
`;

describe('hidden segments', () => {
  it('parses /proc/sysvipc/shm: signed decimal keys, octal modes, columns by name', () => {
    const entries = parseProcSysvipcShm(PROC);
    assert.deepEqual(entries.map((e) => [e.key.toString(16), e.shmid, e.mode.toString(8), e.size, e.nattch, e.uid]), [
      ['ae001000', 100, '600', 65536, 0, 0],
      ['ae001101', 103, '1600', 65536, 1, 0],
      ['1234', 107, '644', 4096, 0, 1000],
      ['ae101000', 109, '600', 4096, 0, 0],
    ]);
    assert.deepEqual(parseProcSysvipcShm(''), []);
    assert.deepEqual(parseProcSysvipcShm('key shmid\n1 2\n'), [], 'a table without the columns needed gives nothing rather than guesses');
  });

  it('with /proc: the segments SHM_STAT did not show, Aerospike keys apart, by instance when asked', () => {
    const binding = createFakeShmBinding();
    // The one segment this "user" can see (the fake shows all it holds); /proc lists four more.
    createShm(0x1234, 4096, 0o644, binding);
    const visible = binding.shmStat(0)!;
    const proc = PROC.replace(/^(\s+4660\s+)107(\s)/m, `$1${visible.shmid}$2`);
    assert.notEqual(proc, PROC);
    const hidden = hiddenShmSegments({ binding, procText: proc });
    assert.equal(hidden.detailed, true);
    assert.equal(hidden.count, 3);
    assert.deepEqual(hidden.aerospike.map((e) => e.key.toString(16)), ['ae001000', 'ae001101', 'ae101000']);
    const instance1 = hiddenShmSegments({ binding, procText: proc, instance: 1 });
    assert.deepEqual([instance1.count, instance1.aerospike.map((e) => e.key.toString(16))], [1, ['ae101000']]);
  });

  it('without /proc: only a count, from the ids in use', () => {
    const binding = createFakeShmBinding();
    createShm(0x1234, 4096, 0o644, binding);
    const none = hiddenShmSegments({ binding });
    assert.deepEqual(none, { count: 0, aerospike: [], detailed: false });
    const hiding = { ...binding, shmInfo: () => ({ ...binding.shmInfo(), usedIds: 3 }) };
    assert.deepEqual(hiddenShmSegments({ binding: hiding }), { count: 2, aerospike: [], detailed: false });
  });
});
