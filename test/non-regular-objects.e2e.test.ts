// Objects that are not regular files — a FIFO (with or without a writer), a
// symbolic link (to a FIFO, or to a good copy of the file), a device — in
// place of a segment file or a manifest: restore and verify refuse them at
// once, naming the file, and leave no segment behind. A FIFO used to hang
// both forever, deaf to Ctrl-C and SIGTERM. And a run that IS blocked in the
// kernel still ends within a bounded time after SIGTERM, its segments removed.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { execFileSync, spawn } = await import('node:child_process');
const { constants } = await import('node:fs');
const { copyFile, open, rename, rm, symlink } = await import('node:fs/promises');
const { join } = await import('node:path');
const { fileURLToPath } = await import('node:url');
const { afterEach, describe, it } = await import('node:test');
const { manifestName } = await import('@shmsnap/core');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { useScratch } = await import('./support/scratch.js');
const { runAsmt, runShmsnap } = await import('./support/cli.js');
const { aerospikeKeys, clearSegments } = await import('./support/shm.js');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;
type CliRun = import('./support/cli.js').CliRun;

const small: FixtureOptions = { namespaces: [{ name: 'test', nsid: 1, stages: 4, stageBytes: 1024 * 1024 }] };
const scratch = useScratch('non-regular');
afterEach(clearSegments);

/** Fails fast: long before a test's own timeout would tell a hang from a slow run. */
const FAST_MS = 15_000;

async function backupOf(kind: 'shmsnap' | 'asmt'): Promise<string> {
  const fixture = await createFixture(small);
  const dir = scratch.fresh();
  const run = await runShmsnap(['backup', '--to', dir]);
  assert.equal(run.status, 0, run.stderr);
  await fixture.remove();
  if (kind === 'asmt') await rm(join(dir, manifestName(0, [1])));
  return dir;
}

async function timed(args: readonly string[]): Promise<CliRun & { ms: number }> {
  const started = Date.now();
  const run = await runShmsnap(args);
  return { ...run, ms: Date.now() - started };
}

/** Restore and verify both fail fast with one error line naming `file` as `type`; nothing is left in shared memory. */
async function bothRefuse(dir: string, file: string, type: RegExp): Promise<void> {
  const named = new RegExp(`^shmsnap: [A-Z_]+: .*${file.replace(/\./g, '\\.')}.*${type.source}`, 'm');
  const restore = await timed(['restore', '--from', dir]);
  assert.ok(restore.ms < FAST_MS, `restore took ${restore.ms} ms`);
  assert.notEqual(restore.status, 0, restore.stdout);
  assert.match(restore.stderr, named);
  assert.equal(restore.stderr.split('\n').filter((l) => l.startsWith('shmsnap:')).length, 1, restore.stderr);
  assert.deepEqual(aerospikeKeys(), [], 'no segment is left (ipcs -m of this namespace)');

  const verify = await timed(['verify', dir]);
  assert.ok(verify.ms < FAST_MS, `verify took ${verify.ms} ms`);
  assert.notEqual(verify.status, 0, verify.stdout);
  assert.match(`${verify.stdout}${verify.stderr}`, new RegExp(`${file.replace(/\./g, '\\.')}.*${type.source}`));

  const ls = await timed(['ls', dir]);
  assert.ok(ls.ms < FAST_MS, `ls took ${ls.ms} ms`);
}

const mkfifo = (path: string): void => void execFileSync('mkfifo', [path]);

describe('objects that are not regular files', () => {
  for (const kind of ['shmsnap', 'asmt'] as const) {
    describe(kind === 'shmsnap' ? 'in a shmsnap backup (manifest)' : 'in an ASMT directory (no manifest)', () => {
      it('a FIFO as a stage file is refused at once, not waited on', { timeout: 60_000 }, async () => {
        const dir = await backupOf(kind);
        await rm(join(dir, 'ae001102.dat'));
        mkfifo(join(dir, 'ae001102.dat'));
        await bothRefuse(dir, 'ae001102.dat', /is a FIFO/);
      });

      it('a FIFO that a writer holds open (and never writes to) is refused too', { timeout: 60_000 }, async () => {
        const dir = await backupOf(kind);
        await rm(join(dir, 'ae001102.dat'));
        mkfifo(join(dir, 'ae001102.dat'));
        // O_RDWR opens a FIFO without waiting (Linux): this process is then its writer.
        const writer = await open(join(dir, 'ae001102.dat'), constants.O_RDWR | constants.O_NONBLOCK);
        try {
          await bothRefuse(dir, 'ae001102.dat', /is a FIFO/);
        } finally {
          await writer.close();
        }
      });

      it('a symbolic link to a FIFO is refused without following it', { timeout: 60_000 }, async () => {
        const dir = await backupOf(kind);
        const fifo = join(scratch.root(), `outside-${kind}.fifo`);
        mkfifo(fifo);
        await rm(join(dir, 'ae001102.dat'));
        await symlink(fifo, join(dir, 'ae001102.dat'));
        await bothRefuse(dir, 'ae001102.dat', /is a symbolic link/);
      });

      it('a symbolic link is refused even to a good copy of the file (objects are read only from regular files)', { timeout: 60_000 }, async () => {
        const dir = await backupOf(kind);
        const outside = join(scratch.root(), `outside-${kind}.dat`);
        await copyFile(join(dir, 'ae001102.dat'), outside);
        await rm(join(dir, 'ae001102.dat'));
        await symlink(outside, join(dir, 'ae001102.dat'));
        await bothRefuse(dir, 'ae001102.dat', /is a symbolic link/);
      });

      it('a character device (a copy of /dev/null) is refused without being opened', { timeout: 60_000 }, async (t) => {
        const dir = await backupOf(kind);
        await rm(join(dir, 'ae001102.dat'));
        try {
          execFileSync('mknod', [join(dir, 'ae001102.dat'), 'c', '1', '3'], { stdio: 'pipe' });
        } catch (error) {
          t.skip(`mknod is not permitted here: ${String(error)}`);
          return;
        }
        await bothRefuse(dir, 'ae001102.dat', /is a character device/);
      });
    });
  }

  it('asmt -r refuses a FIFO stage file the same way (exit 1, named on stderr), not waiting on it', { timeout: 60_000 }, async () => {
    const dir = await backupOf('asmt');
    await rm(join(dir, 'ae001102.dat'));
    mkfifo(join(dir, 'ae001102.dat'));
    const started = Date.now();
    const run = await runAsmt(['-r', '-p', dir, '-n', 'test']);
    assert.ok(Date.now() - started < FAST_MS);
    assert.equal(run.status, 1, run.stdout);
    assert.match(run.stderr, /^asmt: CORRUPT_OBJECT: .*ae001102\.dat: is a FIFO, not a regular file/m);
    assert.deepEqual(aerospikeKeys(), []);
  });

  it('a manifest that is a FIFO refuses the restore by name; it is never waited on, nor taken for an ASMT directory', { timeout: 60_000 }, async () => {
    const dir = await backupOf('shmsnap');
    const manifest = manifestName(0, [1]);
    await rename(join(dir, manifest), join(scratch.root(), 'moved-manifest.json'));
    mkfifo(join(dir, manifest));
    await bothRefuse(dir, manifest, /is a FIFO/);
  });
});

describe('a run blocked in the kernel', () => {
  /** The stalled restore (support/stalled-restore.mjs), once it is blocked reading ae001102.dat. */
  async function stalledRestore(deadlineMs: number) {
    const dir = await backupOf('shmsnap');
    const fifo = join(scratch.root(), `stall-${deadlineMs}.fifo`);
    mkfifo(fifo);
    const script = fileURLToPath(new URL('./support/stalled-restore.mjs', import.meta.url));
    const child = spawn(process.execPath, [script, dir, 'ae001102.dat', fifo, String(deadlineMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const output = { stderr: '' };
    child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
    child.stdout.resume();
    const ended = new Promise<{ signal: NodeJS.Signals | null; at: number }>((resolve) => child.on('close', (_status, signal) => resolve({ signal, at: Date.now() })));
    // Wait until the stalled object's segment exists: the restore is now blocked reading it.
    for (let waited = 0; !aerospikeKeys().includes('ae001102'); waited += 50) {
      if (waited > 20_000) {
        child.kill('SIGKILL');
        assert.fail(`the restore never reached ae001102.dat: ${output.stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(aerospikeKeys().length >= 3, 'segments before it were created');
    return { child, output, ended };
  }

  it('SIGTERM still ends it within the deadline, and every segment it created is removed', { timeout: 60_000 }, async () => {
    const { child, output, ended } = await stalledRestore(1000);
    const sent = Date.now();
    child.kill('SIGTERM');
    const result = await ended;
    assert.ok(result.at - sent < 10_000, `ended ${result.at - sent} ms after SIGTERM`);
    assert.equal(result.signal, 'SIGTERM', 'it ends by the signal it was sent (a shell shows 143)');
    assert.match(output.stderr, /SIGTERM: stopping restore/);
    assert.match(output.stderr, /restore did not finish cleaning up within 1 s \(a read or write is blocked in the kernel\); ending now/);
    assert.match(output.stderr, /removed the \d+ segment\(s\) this restore had created \(.*0xae001102/);
    assert.deepEqual(aerospikeKeys(), [], 'every segment it created is gone once it ended');
  });

  it('a third Ctrl-C ends it at once, long before the deadline, removing its segments too', { timeout: 60_000 }, async () => {
    const { child, output, ended } = await stalledRestore(600_000);
    const sent = Date.now();
    child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill('SIGINT');
    const result = await ended;
    assert.ok(result.at - sent < 10_000, `ended ${result.at - sent} ms after the first Ctrl-C`);
    assert.equal(result.signal, 'SIGINT', 'a shell shows 130');
    assert.match(output.stderr, /still cleaning up after restore; press Ctrl-C again to end now/);
    assert.match(output.stderr, /removed the \d+ segment\(s\) this restore had created/);
    assert.deepEqual(aerospikeKeys(), []);
  });
});
