// The command line as scripts and pipelines meet it: usage errors are one
// coded line (exit 2) naming the real mistake; output survives a reader that
// closes its pipe early (exit status unchanged, no stack trace, a committed
// backup is a success); a path that does not exist is said as such.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { spawn } = await import('node:child_process');
const { mkdir, readdir, writeFile } = await import('node:fs/promises');
const { join } = await import('node:path');
const { afterEach, describe, it } = await import('node:test');
const { manifestName } = await import('@shmsnap/core');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { runShmsnap, SHMSNAP_BIN } = await import('./support/cli.js');
const { clearSegments } = await import('./support/shm.js');
const { useScratch } = await import('./support/scratch.js');

const scratch = useScratch('cli');
afterEach(clearSegments);

const fixtureOptions = { namespaces: [{ name: 'test', nsid: 1, stages: 4, stageBytes: 8 * 1024 * 1024 }] };

/** One line on stderr, `shmsnap: USAGE_INVALID: …`, nothing on stdout, exit 2. */
function usageLine(run: Awaited<ReturnType<typeof runShmsnap>>): string {
  assert.equal(run.status, 2, run.stderr);
  assert.equal(run.stdout, '');
  const lines = run.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0]!, /^shmsnap: USAGE_INVALID: /);
  return lines[0]!.slice('shmsnap: USAGE_INVALID: '.length);
}

describe('usage errors', () => {
  it('are one line in the shmsnap: CODE: message form, exit 2', async () => {
    assert.equal(usageLine(await runShmsnap(['backup'])), "--to is required; see 'shmsnap backup --help'");
    assert.equal(usageLine(await runShmsnap(['ls'])), "missing required argument 'location'; see 'shmsnap ls --help'");
    assert.equal(usageLine(await runShmsnap(['backup', '--to', '/x', '--threads', 'many'])), "--threads 'many': must be a positive integer; see 'shmsnap backup --help'");
    assert.equal(usageLine(await runShmsnap(['backup', '--to', '/x', '--codec', 'lz4'])), "--codec 'lz4': allowed choices are none, gzip, zstd; see 'shmsnap backup --help'");
    assert.match(usageLine(await runShmsnap(['restor', '--from', '/x'])), /^unknown command 'restor' \(did you mean restore\?\)/);
  });

  it('name a misspelled flag as unknown, not the required one it missed', async () => {
    assert.equal(usageLine(await runShmsnap(['backup', '--too', '/backups'])), "unknown option '--too' (did you mean --to?); see 'shmsnap backup --help'");
    assert.equal(usageLine(await runShmsnap(['restore', '--form', '/backups'])), "unknown option '--form' (did you mean --from?); see 'shmsnap restore --help'");
    assert.equal(usageLine(await runShmsnap(['verify', '/backups', '--thread', '2'])), "unknown option '--thread' (did you mean --threads?); see 'shmsnap verify --help'");
    assert.equal(usageLine(await runShmsnap(['ls', '/backups', '--frobnicate'])), "unknown option '--frobnicate'; see 'shmsnap ls --help'", 'no far-fetched suggestion');
  });
});

/** Runs `script` with bash -o pipefail off and reports each stage's status (PIPESTATUS). */
function bash(script: string): Promise<{ stdout: string; stderr: string; statuses: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `${script}; echo "statuses: \${PIPESTATUS[*]}" >&2`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const statuses = /statuses: ([\d ]+)/.exec(stderr)?.[1]!.trim().split(' ').map(Number) ?? [];
      resolve({ stdout, stderr: stderr.replace(/statuses: .*\n/, ''), statuses });
    });
  });
}

/**
 * Runs the CLI with its stdout (or stderr) on a pipe whose reading end is
 * closed before the CLI writes anything: every write it makes there fails
 * with EPIPE, deterministically.
 */
function withClosedPipe(args: readonly string[], closed: 'stdout' | 'stderr'): Promise<{ status: number | null; other: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SHMSNAP_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child[closed].destroy();
    let other = '';
    child[closed === 'stdout' ? 'stderr' : 'stdout'].on('data', (c: Buffer) => (other += c.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, other }));
  });
}

const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;

describe('a reader that closes the pipe early', () => {
  it('backup | head -1: the backup commits and exits 0, no stack trace', async () => {
    await createFixture(fixtureOptions);
    const dir = scratch.fresh();
    const run = await bash(`${quote(process.execPath)} ${quote(SHMSNAP_BIN)} backup --to ${quote(dir)} --codec gzip --threads 1 | head -1`);
    assert.match(run.stdout, /^backup: instance 0, namespace 'test'/);
    assert.equal(run.stdout.split('\n').filter(Boolean).length, 1);
    assert.deepEqual(run.statuses, [0, 0], run.stderr);
    assert.doesNotMatch(run.stderr, /EPIPE|^\s+at /m);
    assert.ok((await readdir(dir)).includes(manifestName(0, [1])), 'committed');
  });

  it('demo | head -1: lines written after head left (between the steps) change nothing', async () => {
    const run = await bash(`${quote(process.execPath)} ${quote(SHMSNAP_BIN)} demo --size-mib 8 --stages 2 | head -1`);
    assert.match(run.stdout, /^demo: creating an Aerospike-shaped index/);
    assert.deepEqual(run.statuses, [0, 0], run.stderr);
    assert.doesNotMatch(run.stderr, /EPIPE|^\s+at /m);
    assert.match(run.stderr, /^restore: 100%/m, 'it ran to the end');
  });

  it('backup with stdout closed before its first line: committed, exit 0', async () => {
    await createFixture(fixtureOptions);
    const dir = scratch.fresh();
    const run = await withClosedPipe(['backup', '--to', dir], 'stdout');
    assert.equal(run.status, 0, run.other);
    assert.doesNotMatch(run.other, /EPIPE|^\s+at /m);
    assert.ok((await readdir(dir)).includes(manifestName(0, [1])));
    const json = await withClosedPipe(['backup', '--to', scratch.fresh(), '--json'], 'stdout');
    assert.equal(json.status, 0, json.other);
  });

  it('ls | head -1 and ls with stdout closed: exit 0; a refusal keeps its status with stderr closed', async () => {
    await createFixture(fixtureOptions);
    const top = scratch.fresh();
    for (const node of ['n1', 'n2', 'n3']) assert.equal((await runShmsnap(['backup', '--to', join(top, node)])).status, 0);
    const head = await bash(`${quote(process.execPath)} ${quote(SHMSNAP_BIN)} ls ${quote(top)} | head -1`);
    assert.deepEqual(head.statuses, [0, 0], head.stderr);
    assert.match(head.stdout, /^location +status/);
    assert.doesNotMatch(head.stderr, /^\s+at /m);
    const closed = await withClosedPipe(['ls', top], 'stdout');
    assert.equal(closed.status, 0, closed.other);
    assert.doesNotMatch(closed.other, /EPIPE|^\s+at /m);
    const refused = await withClosedPipe(['restore', '--from', join(top, 'none')], 'stderr');
    assert.equal(refused.status, 3, 'LOCATION_NOT_FOUND, though nobody reads the line');
    const usage = await withClosedPipe(['backup', '--too', top], 'stderr');
    assert.equal(usage.status, 2);
  });
});

describe('words', () => {
  it('a path that does not exist is said as such, for restore, verify and ls; an empty directory holds no backup', async () => {
    const missing = join(scratch.root(), 'typo', 'backups');
    for (const args of [['restore', '--from', missing], ['verify', missing], ['ls', missing]]) {
      const run = await runShmsnap(args);
      assert.equal(run.status, 3, run.stderr);
      assert.equal(run.stderr, `shmsnap: LOCATION_NOT_FOUND: ${missing}: the path does not exist\n`);
    }
    const file = join(scratch.root(), 'a-file');
    await writeFile(file, 'x');
    // A file where a directory should be is a mistake in the location given (exit 2), named.
    assert.equal((await runShmsnap(['restore', '--from', file])).stderr, `shmsnap: CONFIG_INVALID: location: ${file} is a file, not a directory\n`);
    assert.equal((await runShmsnap(['ls', join(file, 'below')])).stderr, `shmsnap: CONFIG_INVALID: location: ${join(file, 'below')}: ${file} is a file, not a directory\n`);
    const empty = scratch.fresh();
    await mkdir(empty);
    assert.match((await runShmsnap(['restore', '--from', empty])).stderr, /^shmsnap: BACKUP_NOT_FOUND: .*: no backup found \(no shmsnap manifest and no ASMT segment files\)$/m);
    const ls = await runShmsnap(['ls', empty]);
    assert.deepEqual([ls.status, ls.stdout], [0, `ls: no backups at ${empty} or 1 level below\n`]);
  });

  it('a destination that cannot be made says what was being done, not the name of a step', async () => {
    await createFixture(fixtureOptions);
    const file = join(scratch.root(), 'in-the-way');
    await writeFile(file, 'x');
    const run = await runShmsnap(['backup', '--to', join(file, 'sub')]);
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr, `shmsnap: CONFIG_INVALID: location: ${join(file, 'sub')}: ${file} is a file, not a directory\n`);
  });
});
