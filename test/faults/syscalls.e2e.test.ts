// Every failure point of a small backup and a small restore, for each codec
// on the local sink: each I/O call the run makes (harness.ts: which calls,
// and how they are counted) fails once with EIO (ENOSPC too for writes), or
// the process is killed there. After each run the invariants of issue 16:
// - the location is a complete backup that verifies, its CRC-32s those of
//   the segments, or it reads as interrupted or absent: never segment files
//   without a manifest or a pending marker (ASMT would restore them);
// - shared memory holds the complete set restored, nothing this run created,
//   or a set that inspect marks unusable (restore and backup refuse it);
// - files and segments that were there before are untouched;
// - a failed run exits non-zero with one coded line; a kill is only a kill;
// - nothing hangs (60 s).
// `npm test` tries SHMSNAP_FAULTS_SAMPLE cases (default 6) per operation and
// codec, evenly spread over every (point, mode); `npm run faults`
// (SHMSNAP_FAULTS=all) tries them all.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { existsSync } = await import('node:fs');
const { mkdir, readdir, readFile, rm, writeFile } = await import('node:fs/promises');
const { join } = await import('node:path');
const { after, before, describe, it } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { listShmSegments, removeShm } = await import('@shmsnap/shm-native');
const { decodeKey, parseManifest, parseSegmentObjectName } = await import('@shmsnap/core');
const { useScratch } = await import('../support/scratch.js');
const { runShmsnap } = await import('../support/cli.js');
const { failurePoints, modesFor, ofInterest, sampleEvenly, STRACE, tracedRun } = await import('./harness.js');

type TracedRun = import('./harness.js').TracedRun;
type FaultMode = import('./harness.js').FaultMode;
type Fixture = import('@shmsnap/shm-native/fixture').Fixture;

const FULL = process.env.SHMSNAP_FAULTS === 'all';
const SAMPLE = Number(process.env.SHMSNAP_FAULTS_SAMPLE ?? 6);
const CODECS = (process.env.SHMSNAP_FAULTS_CODECS ?? 'none,gzip,zstd').split(',');
const TINY = { namespaces: [{ name: 'test', nsid: 1, stages: 1, stageBytes: 64 * 1024 }] };
const OTHER = { namespaces: [{ name: 'other', nsid: 2, stages: 1, stageBytes: 64 * 1024 }] };
const MANIFEST = 'shmsnap-manifest-i0-n1.json';
const PENDING = 'shmsnap-pending-i0-n1.json';
const CONSUMED = 'shmsnap-consumed-i0-n1.json';

const scratch = useScratch('faults');
const skip = existsSync(STRACE) ? false : `${STRACE} is not installed (apt-get install strace)`;

interface Case {
  readonly syscall: string;
  readonly n: number;
  readonly mode: FaultMode;
}

/** Problems with how the run ended (the message), given what the injection hit. */
function endProblems(run: TracedRun, paths: readonly string[], mode: FaultMode): string[] {
  if (run.timedOut) return ['the run hung (killed after 60 s)'];
  const interesting = run.hit !== undefined && ofInterest(run.hit, paths);
  if (run.hit === undefined) return run.status === 0 ? [] : [`no call was failed, yet it exited ${run.status ?? run.signal}: ${run.stderr}`];
  if (run.signal === 'SIGKILL') return mode === 'SIGKILL' ? [] : ['killed without a kill injected'];
  if (run.signal !== null) return interesting ? [`died of ${run.signal} after a failed call of its own: ${run.hit.line}`] : [];
  if (run.status === 0 || !interesting) return [];
  const lines = run.stderr.trimEnd().split('\n');
  return lines.length === 1 && /^shmsnap: [A-Z][A-Z_]+: \S/.test(lines[0]!) ? [] : [`not one coded line: ${JSON.stringify(run.stderr)}`];
}

function nsidSegments(nsid: number): { shmid: number; key: number }[] {
  return listShmSegments().filter((s) => decodeKey(s.key)?.nsid === nsid);
}

async function removeNamespace(nsid: number): Promise<void> {
  for (const s of nsidSegments(nsid)) await removeShm(s.shmid, s.key);
}

interface Tally {
  points: number;
  cases: number;
  tried: number;
  elsewhere: number;
  notHit: number;
  byMode: Record<string, number>;
}

function casesOf(points: readonly { syscall: string; n: number }[]): Case[] {
  return points.flatMap((p) => modesFor(p.syscall).map((mode) => ({ syscall: p.syscall, n: p.n, mode })));
}

function summary(what: string, tally: Tally): string {
  return `failure points (${what}): ${tally.points} syscalls × up to 3 modes = ${tally.cases} cases; ${FULL ? 'all' : 'evenly sampled'} ${tally.tried} tried (${Object.entries(tally.byMode).map(([m, c]) => `${c} ${m}`).join(', ')}; ${tally.elsewhere} hit a call outside the run's own I/O, ${tally.notHit} were not reached), all held`;
}

describe('syscall fault injection', { skip }, () => {
  let lockDir = '';
  let other: Fixture;
  before(async () => {
    lockDir = join(scratch.root(), 'lock');
    other = await createFixture(OTHER);
  });
  after(async () => {
    await other.remove();
  });

  for (const codec of CODECS) {
    it(`backup, codec ${codec}: every failure point leaves a verified backup or an interrupted one, the segments untouched`, async (t) => {
      const fixture = await createFixture(TINY);
      const expected = new Map<number, number>();
      try {
        const root = scratch.root();
        const args = (to: string): string[] => ['backup', '--to', to, '--namespace', 'test', '--codec', codec, '--threads', '1', '--no-progress', '--lock-dir', lockDir];
        const plainParent = join(root, `plain-backup-${codec}`);
        const plain = await tracedRun({ args: args(join(plainParent, 'loc')), traceFile: join(root, `plain-backup-${codec}.trace`) });
        assert.equal(plain.status, 0, plain.stderr);
        for (const s of parseManifest(await readFile(join(plainParent, 'loc', MANIFEST)), { where: 'plain' }).segments) expected.set(s.key, s.rawCrc32);
        const points = failurePoints(plain.calls, [root]);
        assert.ok(points.some((p) => p.syscall === 'fsync') && points.some((p) => p.syscall.startsWith('link')), 'the plain run fsyncs and links in the location');
        const all = casesOf(points);
        const tried = FULL ? all : sampleEvenly(all, SAMPLE);
        const tally: Tally = { points: points.length, cases: all.length, tried: 0, elsewhere: 0, notHit: 0, byMode: {} };
        const problems: string[] = [];
        for (const [i, c] of tried.entries()) {
          const parent = join(root, `b-${codec}-${i}`);
          await mkdir(parent, { recursive: true });
          await writeFile(join(parent, 'keep.txt'), 'was here before');
          const loc = join(parent, 'loc');
          const run = await tracedRun({ args: args(loc), traceFile: join(root, 'point.trace'), inject: c });
          const where = `${c.syscall}#${c.n} ${c.mode} (${run.hit?.line.slice(0, 160) ?? 'not reached'})`;
          const found = endProblems(run, [root], c.mode);
          if ((await readFile(join(parent, 'keep.txt'), 'utf8')) !== 'was here before') found.push('keep.txt changed');
          const differences = await fixture.compare();
          if (differences.length > 0) found.push(`segments changed: ${JSON.stringify(differences)}`);
          if (!listShmSegments().every((s) => s.nattch === 0)) found.push('a segment is still attached');
          const entries = await readdir(loc).catch(() => [] as string[]);
          const visible = entries.filter((e) => !e.startsWith('.'));
          if (visible.includes(MANIFEST)) {
            const verify = await runShmsnap(['verify', loc]);
            if (verify.status !== 0) found.push(`a manifest that does not verify: ${verify.stderr}`);
            const manifest = parseManifest(await readFile(join(loc, MANIFEST)), { where: loc });
            for (const s of manifest.segments) if (expected.get(s.key) !== s.rawCrc32) found.push(`0x${s.key.toString(16)}: CRC-32 differs from the segment's`);
            if (manifest.segments.length !== expected.size) found.push('the manifest misses segments');
          } else {
            if (run.status === 0 && run.signal === null) found.push('exit 0 without a manifest');
            if (visible.some((e) => parseSegmentObjectName(e)) && !visible.includes(PENDING)) found.push(`segment files without a manifest or pending marker: ${visible.join(', ')}`);
          }
          tally.tried++;
          tally.byMode[c.mode] = (tally.byMode[c.mode] ?? 0) + 1;
          if (run.hit === undefined) tally.notHit++;
          else if (!ofInterest(run.hit, [root])) tally.elsewhere++;
          for (const problem of found) problems.push(`${where}: ${problem}`);
          await rm(parent, { recursive: true, force: true });
        }
        assert.deepEqual(problems, []);
        t.diagnostic(summary(`backup, ${codec}`, tally));
      } finally {
        await fixture.remove();
      }
    });

    it(`restore, codec ${codec}: every failure point leaves the whole set, nothing of its own, or a set that is refused; the backup and other segments untouched`, async (t) => {
      const root = scratch.root();
      const fixture = await createFixture(TINY);
      const from = join(root, `backup-${codec}`);
      const made = await runShmsnap(['backup', '--to', from, '--namespace', 'test', '--codec', codec, '--lock-dir', lockDir]);
      assert.equal(made.status, 0, made.stderr);
      await fixture.remove();
      const manifestBytes = await readFile(join(from, MANIFEST));
      const args = ['restore', '--from', from, '--threads', '1', '--no-progress', '--allow-consumed', '--lock-dir', lockDir];
      const plain = await tracedRun({ args, traceFile: join(root, `plain-restore-${codec}.trace`) });
      assert.equal(plain.status, 0, plain.stderr);
      assert.deepEqual(await fixture.compare(), []);
      const points = failurePoints(plain.calls, [root]);
      assert.ok(points.some((p) => p.syscall === 'shmget') && points.some((p) => p.syscall === 'shmat'), 'the plain run creates and attaches segments');
      const all = casesOf(points);
      const tried = FULL ? all : sampleEvenly(all, SAMPLE);
      const tally: Tally = { points: points.length, cases: all.length, tried: 0, elsewhere: 0, notHit: 0, byMode: {} };
      const problems: string[] = [];
      try {
        for (const c of tried) {
          await removeNamespace(1);
          await rm(join(from, CONSUMED), { force: true });
          const listing = (await readdir(from)).filter((e) => e !== CONSUMED).sort();
          const run = await tracedRun({ args, traceFile: join(root, 'point.trace'), inject: c });
          const where = `${c.syscall}#${c.n} ${c.mode} (${run.hit?.line.slice(0, 160) ?? 'not reached'})`;
          const found = endProblems(run, [root], c.mode);
          const otherDiff = await other.compare();
          if (otherDiff.length > 0) found.push(`another namespace's segments changed: ${JSON.stringify(otherDiff)}`);
          if (!(await readFile(join(from, MANIFEST))).equals(manifestBytes)) found.push('the manifest changed');
          const after = (await readdir(from)).filter((e) => e !== CONSUMED && !e.startsWith('.')).sort();
          if (JSON.stringify(after) !== JSON.stringify(listing.filter((e) => !e.startsWith('.')))) found.push(`the backup's objects changed: ${after.join(', ')}`);
          const present = nsidSegments(1);
          const complete = present.length > 0 && (await fixture.compare()).length === 0;
          if (present.length > 0 && !complete) {
            const inspect = await runShmsnap(['inspect', '--json']);
            const instance = JSON.parse(inspect.stdout).instances.find((x: { instance: number }) => x.instance === 0);
            const groups = [...(instance?.namespaces ?? []), ...(instance?.orphans ?? [])].filter((g: { nsid?: number; name?: string }) => g.nsid === 1 || g.name === 'test');
            if (groups.length === 0 || groups.some((g: { backupAllowed: boolean }) => g.backupAllowed)) found.push(`a partial set that reads as usable: ${JSON.stringify(groups)}`);
          }
          if (run.status === 0 && run.signal === null && !complete) found.push('exit 0 without the complete set');
          if (existsSync(join(from, CONSUMED)) && !complete) found.push('a consumed marker without a completed restore');
          tally.tried++;
          tally.byMode[c.mode] = (tally.byMode[c.mode] ?? 0) + 1;
          if (run.hit === undefined) tally.notHit++;
          else if (!ofInterest(run.hit, [root])) tally.elsewhere++;
          for (const problem of found) problems.push(`${where}: ${problem}`);
        }
      } finally {
        await removeNamespace(1);
      }
      assert.deepEqual(problems, []);
      t.diagnostic(summary(`restore, ${codec}`, tally));
    });
  }
});
