// The host guard's logic on a fake /proc (a directory built per test) and a
// fake flock: lock file names per IPC namespace, the holder named in the
// refusal, asd found by comm, instance, IPC namespace and pid file, and
// what aerospike.conf says about the index checkpoint.
import assert from 'node:assert/strict';
import { fstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isShmsnapError } from '../errors.js';
import { checkpointedNamespaces, readCheckpointedNamespaces } from './aerospike-conf.js';
import { asdInstanceOf, findRunningAsd } from './asd-process.js';
import { createInstanceGuard } from './instance-guard.js';
import { acquireInstanceLock, lockFileName } from './instance-lock.js';

const root = mkdtempSync(join(tmpdir(), 'shmsnap-host-guard-unit-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = (): string => {
  const dir = join(root, `d${++counter}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};

/** A /proc with `self` in IPC namespace 100 and the given processes. */
function fakeProc(processes: { pid: number; comm: string; argv?: string[]; ns?: number }[], selfNs = 100): string {
  const proc = fresh();
  const add = (name: string, comm: string | undefined, argv: string[] | undefined, ns: number | undefined): void => {
    mkdirSync(join(proc, name, 'ns'), { recursive: true });
    if (comm !== undefined) writeFileSync(join(proc, name, 'comm'), `${comm}\n`);
    if (argv !== undefined) writeFileSync(join(proc, name, 'cmdline'), `${argv.join('\0')}\0`);
    if (ns !== undefined) symlinkSync(`ipc:[${ns}]`, join(proc, name, 'ns', 'ipc'));
  };
  add('self', undefined, undefined, selfNs);
  for (const p of processes) add(String(p.pid), p.comm, p.argv ?? [p.comm], p.ns ?? selfNs);
  return proc;
}

const error = (fn: () => unknown): Record<string, unknown> & { code: string; message: string; details: Record<string, unknown> } => {
  try {
    fn();
  } catch (caught) {
    assert.ok(isShmsnapError(caught), String(caught));
    return caught as never;
  }
  assert.fail('expected a ShmsnapError');
};

describe('the host lock', () => {
  it('names one lock file per instance and IPC namespace, the host one plainly', () => {
    assert.equal(lockFileName(0, 4026531839), 'instance-0.lock');
    assert.equal(lockFileName(3, null), 'instance-3.lock');
    assert.equal(lockFileName(0, 4026532512), 'ipc-4026532512-instance-0.lock');
  });

  it('records the holder; a run that cannot lock names its pid, command line (from /proc) and the lock file', () => {
    const lockDir = fresh();
    const procRoot = fakeProc([{ pid: 4242, comm: 'node', argv: ['node', 'shmsnap', 'restore', '--from', '/b'] }]);
    const fds: number[] = [];
    const held = acquireInstanceLock(0, { lockDir, procRoot, tryLock: (fd) => (fds.push(fd), true) });
    const path = join(lockDir, 'ipc-100-instance-0.lock');
    assert.equal(held.path, path);
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid);
    held.release();
    held.release();
    assert.throws(() => fstatSync(fds[0]!), /EBADF/, 'release closed the descriptor, which drops an flock');

    writeFileSync(path, JSON.stringify({ pid: 4242, commandLine: 'recorded' }));
    const refused = error(() => acquireInstanceLock(0, { lockDir, procRoot, tryLock: () => false }));
    assert.equal(refused.code, 'INSTANCE_LOCKED');
    assert.equal(refused.message, `instance 0 is in use by another shmsnap run (pid 4242: node shmsnap restore --from /b; lock ${path}): wait for it to end`);
    writeFileSync(path, JSON.stringify({ pid: 999, commandLine: 'shmsnap backup --to /x' }));
    assert.match(error(() => acquireInstanceLock(0, { lockDir, procRoot, tryLock: () => false })).message, /\(pid 999: shmsnap backup --to \/x; lock /, 'the record when /proc has no such pid');
    writeFileSync(path, '');
    assert.match(error(() => acquireInstanceLock(0, { lockDir, procRoot, tryLock: () => false })).message, /\(a process that recorded no pid; lock /);
  });

  it('a lock directory the caller chose is used or refused, never replaced', () => {
    const file = join(fresh(), 'not-a-dir');
    writeFileSync(file, 'x');
    const refused = error(() => acquireInstanceLock(0, { lockDir: file, tryLock: () => true }));
    assert.equal(refused.code, 'IO_FAILED');
    assert.match(refused.message, /opening the lock file .*not-a-dir\/instance-0\.lock failed/);
  });
});

describe('finding asd', () => {
  const procRoot = fakeProc([
    { pid: 10, comm: 'asd', argv: ['/usr/bin/asd', '--config-file', '/etc/aerospike/aerospike.conf', '--fgdaemon'] },
    { pid: 11, comm: 'asd', argv: ['/usr/bin/asd', '--instance', '1'] },
    { pid: 12, comm: 'asd', argv: ['/usr/bin/asd'], ns: 200 },
    { pid: 13, comm: 'sleep', argv: ['sleep', '60'] },
    { pid: 14, comm: 'asd', argv: ['/usr/bin/asd', '--instance=2'] },
  ]);
  const none = join(root, 'no-pid-file');

  it("asd's --instance: absent is 0, both spellings, anything else unknown", () => {
    assert.equal(asdInstanceOf(['asd']), 0);
    assert.equal(asdInstanceOf(['asd', '--instance', '7']), 7);
    assert.equal(asdInstanceOf(['asd', '--instance=15']), 15);
    assert.equal(asdInstanceOf(['asd', '--instance', '16']), null);
    assert.equal(asdInstanceOf(['asd', '--instance']), null);
  });

  it('by comm, for its instance, in this IPC namespace only', () => {
    assert.deepEqual(findRunningAsd(0, { procRoot, pidFile: none }).map((a) => a.pid), [10]);
    assert.deepEqual(findRunningAsd(1, { procRoot, pidFile: none }).map((a) => a.pid), [11]);
    assert.deepEqual(findRunningAsd(2, { procRoot, pidFile: none }).map((a) => a.pid), [14]);
    assert.deepEqual(findRunningAsd(3, { procRoot, pidFile: none }), []);
    assert.equal(findRunningAsd(0, { procRoot, pidFile: none })[0]!.commandLine, '/usr/bin/asd --config-file /etc/aerospike/aerospike.conf --fgdaemon');
    const unknown = fakeProc([{ pid: 20, comm: 'asd', argv: ['asd', '--instance', 'x'] }]);
    assert.deepEqual(findRunningAsd(5, { procRoot: unknown, pidFile: none }).map((a) => a.pid), [20], 'an instance it cannot read counts as ours');
  });

  it('through the pid file: a hidden but alive pid refuses, a dead one or one that is not asd does not', () => {
    const pidFile = join(fresh(), 'asd.pid');
    writeFileSync(pidFile, '99\n');
    assert.deepEqual(findRunningAsd(0, { procRoot, pidFile, isAlive: () => false }).map((a) => a.pid), [10]);
    assert.deepEqual(findRunningAsd(0, { procRoot, pidFile, isAlive: (pid) => pid === 99 }), [
      { pid: 10, commandLine: '/usr/bin/asd --config-file /etc/aerospike/aerospike.conf --fgdaemon', instance: 0, via: 'proc' },
      { pid: 99, commandLine: null, instance: null, via: 'pid-file' },
    ]);
    writeFileSync(pidFile, '13\n');
    assert.deepEqual(findRunningAsd(0, { procRoot, pidFile, isAlive: () => true }).map((a) => a.pid), [10], 'a stale pid file naming sleep');
    writeFileSync(pidFile, 'garbage');
    assert.deepEqual(findRunningAsd(3, { procRoot, pidFile, isAlive: () => true }), []);
  });
});

describe('the instance guard', () => {
  it('takes each lock once, refuses a running asd (releasing the lock), and lets it run only with allowRunningAsd', async () => {
    const procRoot = fakeProc([{ pid: 10, comm: 'asd', argv: ['asd'] }]);
    let locks = 0;
    const common = { lockDir: fresh(), procRoot, asdPidFile: join(root, 'none.pid'), tryLock: () => (locks++, true) };
    const guard = createInstanceGuard(common);
    await assert.rejects(guard.acquire(0), (e: Error & { code?: string; message: string }) => e.code === 'ASD_RUNNING' && /\(pid 10: asd\): stop it first \(allowRunningAsd goes on anyway\)$/.test(e.message));
    await assert.rejects(guard.acquire(0), /ASD_RUNNING|Aerospike server is running/, 'the refused lock was let go: it is taken again');
    assert.equal(locks, 2);
    await guard.acquire(1);
    await guard.acquire(1);
    assert.equal(locks, 3, 'instance 1 (no asd) locked once');
    guard.release();

    const allowed = createInstanceGuard({ ...common, allowRunningAsd: true });
    await allowed.acquire(0);
    assert.match(allowed.notes.join('\n'), /^allowRunningAsd: going on anyway: an Aerospike server is running for instance 0/);
    allowed.release();
  });
});

describe('aerospike.conf and the index checkpoint', () => {
  it('reads index-checkpoint-path in service (unless skip-checkpoint) and in a namespace; comments and nested contexts do not count', () => {
    const conf = [
      'service {',
      '  index-checkpoint-path /ckpt # 8.2',
      '}',
      'namespace test {',
      '  storage-engine memory {',
      '    index-checkpoint-path /nested',
      '  }',
      '}',
      'namespace skipped {',
      '  skip-checkpoint true',
      '}',
      'namespace own {',
      '  # index-checkpoint-path /commented',
      '  index-checkpoint-path /own',
      '}',
    ].join('\n');
    assert.deepEqual(checkpointedNamespaces(conf), [
      { namespace: 'test', path: '/ckpt' },
      { namespace: 'own', path: '/own' },
    ]);
    assert.deepEqual(checkpointedNamespaces('namespace test {\n  storage-engine memory\n}\n'), []);
  });

  it('a missing file says nothing; an unreadable one says so; the guard warns per namespace backed up', () => {
    assert.deepEqual(readCheckpointedNamespaces(join(root, 'none.conf')), { namespaces: [] });
    assert.match(readCheckpointedNamespaces(root).note ?? '', /could not read .* \(EISDIR\)/);
    const path = join(fresh(), 'aerospike.conf');
    writeFileSync(path, 'namespace test {\n  index-checkpoint-path /ckpt\n}\nnamespace bar {\n}\n');
    const guard = createInstanceGuard({ tryLock: () => true, aerospikeConf: path });
    assert.deepEqual(guard.checkpointWarnings(['bar']), []);
    assert.deepEqual(guard.checkpointWarnings(['test', 'bar']), [
      `namespace 'test': ${path} sets index-checkpoint-path /ckpt, so Aerospike saves this namespace's index itself (the 8.2 index checkpoint) and may hydrate it from a checkpoint there at the next start (deleting it then): make sure the start uses the copy you mean`,
    ]);
  });
});
