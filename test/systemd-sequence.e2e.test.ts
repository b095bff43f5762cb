// The rolling patch sequence, played twice through the exact command lines
// of the generated warm-restart unit (`shmsnap systemd print`, parsed back
// with core's parseExecLine) against a stand-in asd
// (test/fixtures/stand-in-asd.mjs) on real shared memory in a private IPC
// namespace: asd running → asd stopped cleanly → ExecStop (backup) →
// "reboot" (every segment removed) → ExecStart (boot restore) → asd starts
// warm, with the generation it wrote before the reboot. Then what must not
// become a warm start: a backup while asd is alive (refused), a crash that
// leaves only consumed backups, a stale backup (cold under policy cold; asd
// kept stopped under keep-stopped), and what must start asd under either
// policy: a first boot with no backup at all, and segments still in place.
//
// systemd itself does not run here: what it does with asd after ExecStart
// is the unit's own wording (`asdStartsAfter`: a `-` prefix ignores the
// status; RequiredBy= with Before= keeps asd stopped when the unit fails,
// WantedBy= does not), checked against the unit text.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { spawn } = await import('node:child_process');
const { mkdir, readFile, symlink, writeFile, readdir } = await import('node:fs/promises');
const { hostname } = await import('node:os');
const { join } = await import('node:path');
const { fileURLToPath } = await import('node:url');
const { afterEach, describe, it } = await import('node:test');
const { manifestName, parseExecLine, unitSettings } = await import('@shmsnap/core');
const { useScratch } = await import('./support/scratch.js');
const { runShmsnap } = await import('./support/cli.js');
const { aerospikeKeys, clearSegments } = await import('./support/shm.js');

const scratch = useScratch('systemd-sequence');
const STAND_IN = fileURLToPath(new URL('./fixtures/stand-in-asd.mjs', import.meta.url));

interface ExecCommand {
  readonly prefix: string;
  readonly argv: readonly string[];
}
interface GeneratedUnit {
  readonly text: string;
  readonly start: ExecCommand;
  readonly stop: ExecCommand;
}
interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const paths = () => ({ pidFile: join(scratch.root(), 'asd.pid'), lockDir: join(scratch.root(), 'locks'), conf: join(scratch.root(), 'no-aerospike.conf') });

async function generate(policy: 'cold' | 'keep-stopped', location: string): Promise<GeneratedUnit> {
  const { pidFile, lockDir, conf } = paths();
  const run = await runShmsnap(['systemd', 'print', '--location', location, '--on-restore-failure', policy, '--asd-pid-file', pidFile, '--lock-dir', lockDir, '--aerospike-conf', conf, '--threads', '2']);
  assert.equal(run.status, 0, run.stderr);
  const one = (key: string): ExecCommand => {
    const values = unitSettings(run.stdout, key);
    assert.equal(values.length, 1, `one ${key}= in\n${run.stdout}`);
    return parseExecLine(values[0]!);
  };
  return { text: run.stdout, start: one('ExecStart'), stop: one('ExecStop') };
}

/** Runs an Exec line's argv as systemd would (no shell), in this IPC namespace. */
function exec(command: ExecCommand): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command.argv[0]!, command.argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** What systemd does with asd once ExecStart exited with `status` (the unit's own wording). */
function asdStartsAfter(unit: GeneratedUnit, status: number | null): boolean {
  if (status === 0 || unit.start.prefix.includes('-')) return true;
  const requires = unitSettings(unit.text, 'RequiredBy').includes('aerospike.service');
  assert.ok(unitSettings(unit.text, 'Before').includes('aerospike.service'), 'ordered before asd');
  return !requires;
}

interface RunningAsd {
  readonly line: string;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; line: string }>;
}

async function startAsd(): Promise<RunningAsd> {
  const bin = join(scratch.root(), 'bin');
  await mkdir(bin, { recursive: true });
  // A link named asd: /proc/<pid>/comm is the name it was started by.
  await symlink(process.execPath, join(bin, 'asd')).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const child = spawn(join(bin, 'asd'), [STAND_IN, '--instance', '0', '--pid-file', paths().pidFile, '--namespace', 'test', '--nsid', '1', '--stages', '3', '--stage-bytes', String(256 * 1024)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  for (let waited = 0; !out.includes('\n'); waited += 20) {
    if (waited > 20_000 || child.exitCode !== null) assert.fail(`the stand-in asd did not start: ${out}${err}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const line = out.split('\n')[0]!;
  return {
    line,
    async stop(signal = 'SIGTERM') {
      child.kill(signal);
      const code = await exited;
      return { code, line: out.split('\n').filter(Boolean).at(-1)! };
    },
  };
}

/** `{timestamp}` has a resolution of one second: two backups within one would name one directory. */
async function nextSecond(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1005 - (Date.now() % 1000)));
}

const reboot = clearSegments;

afterEach(async () => {
  await clearSegments();
});

describe('the warm-restart unit, played as systemd would', () => {
  it('plays the rolling patch twice: each reboot comes back warm with the data of before it; a backup beside a live asd is refused', { timeout: 120_000 }, async () => {
    const root = join(scratch.fresh(), 'backups');
    const unit = await generate('cold', root);
    assert.equal(unit.start.prefix, '-', 'policy cold: ExecStart=-');
    assert.deepEqual(unit.start.argv.slice(2, 4), ['systemd', 'boot-restore']);
    assert.deepEqual(unit.stop.argv.slice(2, 5), ['backup', '--to', `${root}/{host}/{instance}/{timestamp}`]);

    // The first boot: nothing anywhere, and asd starts (cold).
    const first = await exec(unit.start);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /boot restore of instance 0: nothing to restore: no backup of this host and instance at all \(a first boot\); aerospike\.service starts cold/);
    let asd = await startAsd();
    assert.equal(asd.line, 'asd: cold start generation=1 (no segments)');

    const alive = await exec(unit.stop);
    assert.equal(alive.status, 3, 'ExecStop beside a live asd');
    assert.match(alive.stderr, /^shmsnap: ASD_RUNNING: an Aerospike server is running for instance 0 \(pid \d+/);

    let generation = 1;
    for (const round of [1, 2]) {
      const stopped = await asd.stop();
      assert.deepEqual(stopped, { code: 0, line: `asd: clean shutdown generation=${generation}` });
      await nextSecond();
      const backup = await exec(unit.stop);
      assert.equal(backup.status, 0, `round ${round} backup: ${backup.stderr}`);
      assert.match(backup.stdout, /backup: committed shmsnap-manifest-i0-n1\.json/);
      await reboot();
      assert.deepEqual(aerospikeKeys(), []);
      const boot = await exec(unit.start);
      assert.equal(boot.status, 0, `round ${round} restore: ${boot.stderr}`);
      assert.match(boot.stdout, /restore: marked the backup consumed/);
      assert.match(boot.stdout, /boot restore of instance 0: restored: aerospike\.service can warm-start/);
      asd = await startAsd();
      assert.equal(asd.line, `asd: warm start generation=${generation + 1}`, `round ${round}: the data of before the reboot`);
      generation += 1;
    }
    const dirs = await readdir(join(root, hostname(), '0'));
    assert.equal(dirs.length, 2, 'one backup per shutdown');
    const ls = await runShmsnap(['ls', root, '--depth', '3', '--json']);
    assert.deepEqual(
      JSON.parse(ls.stdout).backups.map((b: { status: string; consumed: unknown }) => [b.status, b.consumed !== null]),
      [
        ['complete', true],
        ['complete', true],
      ],
    );
    assert.equal((await asd.stop()).code, 0);
  });

  it('a crash leaves only consumed backups, and a stale backup: policy cold starts asd cold, keep-stopped keeps it stopped', { timeout: 120_000 }, async () => {
    const root = join(scratch.fresh(), 'backups');
    const cold = await generate('cold', root);
    const keep = await generate('keep-stopped', root);
    assert.equal(keep.start.prefix, '', 'policy keep-stopped: the status counts');
    assert.deepEqual(unitSettings(keep.text, 'RequiredBy'), ['aerospike.service']);
    assert.deepEqual(unitSettings(cold.text, 'WantedBy'), ['aerospike.service']);

    // A first boot starts asd under keep-stopped too.
    const first = await exec(keep.start);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(asdStartsAfter(keep, first.status), true);
    let asd = await startAsd();
    assert.equal(asd.line, 'asd: cold start generation=1 (no segments)');
    // One good cycle, so the location holds a consumed backup of this host.
    await asd.stop();
    assert.equal((await exec(keep.stop)).status, 0);
    await reboot();
    assert.equal((await exec(keep.start)).status, 0);
    asd = await startAsd();
    assert.equal(asd.line, 'asd: warm start generation=2');

    // asd crashes (SIGKILL: its base stays "not cleanly shut down"): the shutdown backup refuses it.
    assert.equal((await asd.stop('SIGKILL')).code, null);
    await nextSecond();
    const dirty = await exec(keep.stop);
    assert.equal(dirty.status, 3);
    assert.match(dirty.stderr, /SEGMENT_NOT_CLEAN/);
    await reboot();
    // Only a consumed backup is left: restoring it would bring back an index older than the node.
    const consumedOnly = await exec(keep.start);
    assert.equal(consumedOnly.status, 3, consumedOnly.stdout);
    assert.match(consumedOnly.stderr, /BACKUP_NOT_FOUND: .*no complete, unconsumed backup of host/);
    assert.match(consumedOnly.stderr, /policy keep-stopped, aerospike\.service does not start/);
    assert.equal(asdStartsAfter(keep, consumedOnly.status), false);
    assert.deepEqual(aerospikeKeys(), [], 'nothing restored');
    const again = await runShmsnap(['restore', '--from', join(root, hostname(), '0', (await readdir(join(root, hostname(), '0')))[0]!), '--lock-dir', paths().lockDir, '--asd-pid-file', paths().pidFile]);
    assert.equal(again.status, 3);
    assert.match(again.stderr, /^shmsnap: BACKUP_CONSUMED: /, 'the consumed backup itself is refused');
    const coldStart = await exec(cold.start);
    assert.equal(coldStart.status, 0);
    assert.match(coldStart.stderr, /BACKUP_NOT_FOUND[^\n]*\n.*policy cold, aerospike\.service starts cold/);
    assert.equal(asdStartsAfter(cold, coldStart.status), true);
    asd = await startAsd();
    assert.equal(asd.line, 'asd: cold start generation=1 (no segments)');

    // A backup older than the 24-hour limit (its manifest says so).
    await asd.stop();
    await nextSecond();
    assert.equal((await exec(cold.stop)).status, 0);
    const dirs = (await readdir(join(root, hostname(), '0'))).sort();
    const newest = join(root, hostname(), '0', dirs.at(-1)!, manifestName(0, [1]));
    const manifest = JSON.parse(await readFile(newest, 'utf8'));
    await writeFile(newest, JSON.stringify({ ...manifest, createdAt: new Date(Date.now() - 2 * 86_400_000).toISOString() }));
    await reboot();
    const staleKept = await exec(keep.start);
    assert.equal(staleKept.status, 3);
    assert.match(staleKept.stderr, /^shmsnap: BACKUP_STALE: /);
    assert.equal(asdStartsAfter(keep, staleKept.status), false);
    assert.deepEqual(aerospikeKeys(), []);
    const staleCold = await exec(cold.start);
    assert.equal(staleCold.status, 0);
    assert.match(staleCold.stderr, /BACKUP_STALE[^\n]*\n.*policy cold, aerospike\.service starts cold/);
    asd = await startAsd();
    assert.equal(asd.line, 'asd: cold start generation=1 (no segments)');

    // A restart without a reboot (systemctl restart of the unit: asd stopped, the backup, the start again): the
    // segments are in place, asd starts from them under either policy, and the backup just taken is consumed,
    await asd.stop();
    await nextSecond();
    assert.equal((await exec(keep.stop)).status, 0);
    const inPlace = await exec(keep.start);
    assert.equal(inPlace.status, 0, inPlace.stderr);
    assert.match(inPlace.stdout, /segment\(s\) of it in shared memory: nothing to restore/);
    assert.match(inPlace.stdout, /systemd: marked \S+ consumed: asd goes on from the segments it copied/);
    asd = await startAsd();
    assert.equal(asd.line, 'asd: warm start generation=2');
    // so a crash after it does not make that backup the next boot's: asd went on from it.
    await asd.stop('SIGKILL');
    await reboot();
    const afterCrash = await exec(cold.start);
    assert.equal(afterCrash.status, 0);
    assert.match(afterCrash.stderr, /BACKUP_NOT_FOUND: .*no complete, unconsumed backup/);
    assert.deepEqual(aerospikeKeys(), []);
    asd = await startAsd();
    assert.equal(asd.line, 'asd: cold start generation=1 (no segments)');
    assert.equal((await asd.stop()).code, 0);
  });
});
