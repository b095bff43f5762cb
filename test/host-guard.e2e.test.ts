// The host guard and consumed backups, on real shared memory (a private IPC
// namespace) and real files: two restores of one instance never run at once
// (the second names the holder's pid), a SIGKILLed holder blocks nothing, a
// stand-in `asd` (a copy of sleep named asd) refuses backup and restore,
// a restored backup is consumed (ls shows it; restore refuses it without
// --allow-consumed), and `restore --latest` picks the newest complete,
// unconsumed backup among several.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { execFileSync, spawn } = await import('node:child_process');
const { copyFile, cp, mkdir, readFile, rename, symlink, writeFile } = await import('node:fs/promises');
const { hostname } = await import('node:os');
const { join } = await import('node:path');
const { fileURLToPath } = await import('node:url');
const { after, afterEach, before, describe, it } = await import('node:test');
const { consumedName, manifestName, pendingName } = await import('@shmsnap/core');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { useScratch } = await import('./support/scratch.js');
const { runShmsnap } = await import('./support/cli.js');
const { aerospikeKeys, clearSegments } = await import('./support/shm.js');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;

const small: FixtureOptions = { namespaces: [{ name: 'test', nsid: 1, stages: 3, stageBytes: 256 * 1024 }] };
const scratch = useScratch('host-guard');
afterEach(clearSegments);

/** Every run gets its own lock directory and no real pid file or aerospike.conf. */
const env = () => ({ SHMSNAP_LOCK_DIR: join(scratch.root(), 'locks'), SHMSNAP_ASD_PID_FILE: join(scratch.root(), 'no-asd.pid'), SHMSNAP_AEROSPIKE_CONF: join(scratch.root(), 'no.conf') });
const shmsnap = (args: string[]) => runShmsnap(args, { env: env() });

async function backupTo(dir: string): Promise<void> {
  await createFixture(small);
  const run = await shmsnap(['backup', '--to', dir]);
  assert.equal(run.status, 0, run.stderr);
  await clearSegments();
}

describe('the host lock', () => {
  it('refuses a second restore while one runs (naming its pid and command line); a SIGKILLed holder blocks nothing', { timeout: 60_000 }, async () => {
    const dir = scratch.fresh();
    await backupTo(dir);
    const fifo = join(scratch.root(), 'stall.fifo');
    execFileSync('mkfifo', [fifo]);
    const script = fileURLToPath(new URL('./support/stalled-restore.mjs', import.meta.url));
    const holder = spawn(process.execPath, [script, dir, 'ae001102.dat', fifo, '600000'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env() } });
    holder.stdout.resume();
    let holderErr = '';
    holder.stderr.on('data', (c: Buffer) => (holderErr += c.toString()));
    const ended = new Promise((resolve) => holder.on('close', resolve));
    for (let waited = 0; !aerospikeKeys().includes('ae001102'); waited += 50) {
      if (waited > 20_000) {
        holder.kill('SIGKILL');
        assert.fail(`the first restore never blocked: ${holderErr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const second = await shmsnap(['restore', '--from', dir]);
    assert.equal(second.status, 3, second.stderr);
    const lock = join(scratch.root(), 'locks', (await import('@shmsnap/core')).lockFileName(0, (await import('@shmsnap/core')).ipcNamespaceOf('/proc', 'self')));
    assert.equal(second.stderr, `shmsnap: INSTANCE_LOCKED: instance 0 is in use by another shmsnap run (pid ${holder.pid}: ${process.execPath} ${script} ${dir} ae001102.dat ${fifo} 600000; lock ${lock}): wait for it to end\n`);
    const json = await shmsnap(['restore', '--from', dir, '--dry-run', '--json']);
    assert.equal(json.status, 3);
    assert.equal(JSON.parse(json.stdout).error.code, 'INSTANCE_LOCKED', 'a dry run takes the lock too, so it refuses as the run would');

    holder.kill('SIGKILL');
    await ended;
    await clearSegments(); // what the killed restore left
    const after = await shmsnap(['restore', '--from', dir]);
    assert.equal(after.status, 0, after.stderr);
    assert.deepEqual(aerospikeKeys(), ['ae001000', 'ae001001', 'ae001100', 'ae001101', 'ae001102']);
  });
});

describe('a running asd', () => {
  it('refuses backup and restore while a process named asd runs in this IPC namespace, even with nothing attached; --allow-running-asd goes on', { timeout: 60_000 }, async () => {
    const dir = scratch.fresh();
    await backupTo(dir);
    const bin = join(scratch.root(), 'bin');
    await mkdir(bin, { recursive: true });
    await copyFile('/bin/sleep', join(bin, 'asd'));
    const asd = spawn(join(bin, 'asd'), ['60'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const restore = await shmsnap(['restore', '--from', dir]);
      assert.equal(restore.status, 3, restore.stderr);
      assert.equal(restore.stderr, `shmsnap: ASD_RUNNING: an Aerospike server is running for instance 0 (pid ${asd.pid}: ${join(bin, 'asd')} 60): stop it first (--allow-running-asd goes on anyway)\n`);
      assert.deepEqual(aerospikeKeys(), [], 'nothing was created');
      for (const force of [['--force'], ['--allow-consumed']]) {
        assert.equal((await shmsnap(['restore', '--from', dir, ...force])).status, 3, `${force[0]} does not lift it`);
      }
      await createFixture(small);
      const backup = await shmsnap(['backup', '--to', scratch.fresh()]);
      assert.equal(backup.status, 3, backup.stderr);
      assert.match(backup.stderr, /^shmsnap: ASD_RUNNING: an Aerospike server is running for instance 0 \(pid \d+: /);
      assert.equal((await shmsnap(['backup', '--to', scratch.fresh(), '--instance', '1'])).stderr.includes('ASD_RUNNING'), false, 'an asd without --instance is instance 0');
      await clearSegments();
      const allowed = await shmsnap(['restore', '--from', dir, '--allow-running-asd']);
      assert.equal(allowed.status, 0, allowed.stderr);
      assert.match(allowed.stderr, /restore: warning: allowRunningAsd: going on anyway: an Aerospike server is running/);
    } finally {
      asd.kill('SIGKILL');
    }
  });

  it('reads the pid file: a pid that is not asd (a stale file) does not refuse', async () => {
    const dir = scratch.fresh();
    await backupTo(dir);
    const other = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
    try {
      const pidFile = join(scratch.root(), 'asd.pid');
      await writeFile(pidFile, `${other.pid}\n`);
      const run = await runShmsnap(['restore', '--from', dir, '--asd-pid-file', pidFile], { env: env() });
      assert.equal(run.status, 0, run.stderr);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('warns when aerospike.conf has Aerospike checkpoint the namespace itself', async () => {
    const conf = join(scratch.root(), 'aerospike.conf');
    await writeFile(conf, 'service {\n  pidfile /var/run/aerospike/asd.pid\n}\nnamespace test {\n  index-checkpoint-path /var/lib/aerospike/checkpoint # 8.2\n  storage-engine memory\n}\nnamespace bar {\n}\n');
    await createFixture(small);
    const run = await runShmsnap(['backup', '--to', scratch.fresh(), '--aerospike-conf', conf], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`backup: warning: namespace 'test': ${conf} sets index-checkpoint-path /var/lib/aerospike/checkpoint`));
  });
});

describe('consumed backups', () => {
  it('a completed restore marks the backup consumed: ls shows it, a second restore refuses it, --allow-consumed restores it', async () => {
    const dir = scratch.fresh();
    await backupTo(dir);
    const first = await shmsnap(['restore', '--from', dir, '--json']);
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout).consumed, { written: [consumedName(0, [1])], kept: [], failed: [] });
    const marker = JSON.parse(await readFile(join(dir, consumedName(0, [1])), 'utf8'));
    assert.equal(marker.host.hostname, hostname());
    assert.equal(marker.backup.manifest, manifestName(0, [1]));
    assert.deepEqual(marker.restored.namespaces, [{ name: 'test', nsid: 1 }]);
    await clearSegments();

    const ls = await shmsnap(['ls', dir, '--json']);
    assert.equal(ls.status, 0, ls.stderr);
    const row = JSON.parse(ls.stdout).backups[0];
    assert.equal(row.status, 'complete');
    assert.equal(row.consumed.marker, consumedName(0, [1]));
    assert.equal(row.consumed.pid, marker.pid);
    assert.match((await shmsnap(['ls', dir])).stdout, /complete,consumed/);

    const again = await shmsnap(['restore', '--from', dir]);
    assert.equal(again.status, 3, again.stderr);
    assert.match(again.stderr, new RegExp(`^shmsnap: BACKUP_CONSUMED: ${dir}: ${manifestName(0, [1])} was already restored at \\S+ on host '${hostname()}' \\(${consumedName(0, [1])}\\); .* \\(--allow-consumed restores it anyway\\)\\n$`));
    assert.equal((await shmsnap(['restore', '--from', dir, '--force'])).status, 3, '--force does not include --allow-consumed');
    assert.deepEqual(aerospikeKeys(), []);
    const verify = await shmsnap(['verify', dir]);
    assert.equal(verify.status, 0, `verify is unaffected: ${verify.stderr}`);

    const allowed = await shmsnap(['restore', '--from', dir, '--allow-consumed', '--json']);
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.deepEqual(JSON.parse(allowed.stdout).consumed, { written: [], kept: [consumedName(0, [1])], failed: [] });
    assert.equal(aerospikeKeys().length, 5);
  });

  it('restore --latest picks the newest complete, unconsumed backup of this host among consumed, interrupted and older ones', async () => {
    const root = join(scratch.fresh(), hostname(), '0');
    const older = join(root, '20261201T000001Z');
    const consumed = join(root, '20261201T000002Z');
    const interrupted = join(root, '20261201T000003Z');
    await backupTo(older);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await backupTo(consumed);
    const restored = await shmsnap(['restore', '--from', consumed]);
    assert.equal(restored.status, 0, restored.stderr);
    await clearSegments();
    await backupTo(interrupted);
    await rename(join(interrupted, manifestName(0, [1])), join(interrupted, pendingName(0, [1])));
    // Another host's backup, newer than all: never this host's latest.
    const foreign = join(root, '..', '..', 'elsewhere', '0', '20261201T000009Z');
    await cp(older, foreign, { recursive: true });
    const manifest = JSON.parse(await readFile(join(foreign, manifestName(0, [1])), 'utf8'));
    await writeFile(join(foreign, manifestName(0, [1])), JSON.stringify({ ...manifest, host: { ...manifest.host, hostname: 'elsewhere', machineId: null }, createdAt: new Date(Date.now() + 1000).toISOString() }));

    const ls = JSON.parse((await shmsnap(['ls', join(root, '..', '..'), '--depth', '3', '--json'])).stdout);
    assert.deepEqual(ls.backups.map((b: { status: string; consumed: unknown }) => [b.status, b.consumed !== null]), [['complete', false], ['complete', false], ['complete', true], ['interrupted', false]]);

    const run = await shmsnap(['restore', '--from', join(root, '..', '..'), '--latest', '--json']);
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.equal(JSON.parse(run.stdout).location, older);
    assert.deepEqual(JSON.parse(run.stdout).consumed, { written: [consumedName(0, [1])], kept: [], failed: [] }, run.stderr);
    assert.equal(aerospikeKeys().length, 5);
    await clearSegments();
    const none = await shmsnap(['restore', '--from', join(root, '..', '..'), '--latest']);
    assert.equal(none.status, 3, 'the older one is consumed now too');
    assert.match(none.stderr, /^shmsnap: BACKUP_NOT_FOUND: .*no complete, unconsumed backup of host '[^']+' there or up to 3 levels below \(4 backups listed\)\)\n$/);
  });
});

describe('consumed backups and --latest on S3', () => {
  const BUCKET = 'shmsnap-consumed';
  const credentials = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
  let server: import('@shmsnap/sink-s3/testing').S3TestServer;
  before(async () => {
    server = await (await import('@shmsnap/sink-s3/testing')).startS3Server({ buckets: [BUCKET] });
  });
  after(async () => {
    await server.stop();
  });
  const s3 = (...args: string[]) => runShmsnap([...args, '--s3-endpoint', server.endpoint], { env: { ...env(), ...credentials } });

  it('marks the S3 backup consumed, and --latest walks back through a prefix of many backups', { timeout: 120_000 }, async () => {
    const prefix = `s3://${BUCKET}/nodes`;
    for (const name of ['20261201T000001Z', '20261201T000002Z']) {
      await createFixture(small);
      const backup = await s3('backup', '--to', `${prefix}/${hostname()}/0/${name}`);
      assert.equal(backup.status, 0, backup.stderr);
      await clearSegments();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const first = await s3('restore', '--from', prefix, '--latest', '--json');
    assert.equal(first.status, 0, first.stdout + first.stderr);
    assert.equal(JSON.parse(first.stdout).location, `${prefix}/${hostname()}/0/20261201T000002Z`);
    assert.deepEqual(JSON.parse(first.stdout).consumed.written, [consumedName(0, [1])]);
    await clearSegments();

    const ls = JSON.parse((await s3('ls', prefix, '--json')).stdout);
    assert.deepEqual(ls.backups.map((b: { location: string; consumed: unknown }) => [b.location.slice(prefix.length), b.consumed !== null]), [
      [`/${hostname()}/0/20261201T000001Z`, false],
      [`/${hostname()}/0/20261201T000002Z`, true],
    ]);
    const again = await s3('restore', '--from', `${prefix}/${hostname()}/0/20261201T000002Z`);
    assert.equal(again.status, 3);
    assert.match(again.stderr, /^shmsnap: BACKUP_CONSUMED: /);

    const second = await s3('restore', '--from', prefix, '--latest', '--json');
    assert.equal(second.status, 0, second.stdout + second.stderr);
    assert.equal(JSON.parse(second.stdout).location, `${prefix}/${hostname()}/0/20261201T000001Z`);
    await clearSegments();
    const none = await s3('restore', '--from', prefix, '--latest');
    assert.equal(none.status, 3);
    assert.match(none.stderr, /BACKUP_NOT_FOUND: .*no complete, unconsumed backup of host/);
  });
});
void symlink;
