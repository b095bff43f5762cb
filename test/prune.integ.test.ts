// prune and status on real locations: a directory holding several hosts' and instances' backups (real
// backups through core, with fake host names and dates), and the same on every S3 store the run covers.
// Checked: what goes and what stays (the newest unconsumed backup of each host and instance always
// stays, interrupted backups go only when stale, other objects stay), that a dry run changes nothing,
// that a prune stopped at any step leaves nothing that reads as complete and a rerun finishes, and that
// stale multipart uploads of the prefix (and only those) are aborted.
import assert from 'node:assert/strict';
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { codecNone, createRegistry, isShmsnapError, listBackups, preparePrune, prepareRestore, readStatus, type PrunePlan, type Sink } from '@shmsnap/core';
import { createMemoryTarget } from '@shmsnap/core/testkit';
import { createLocalSink } from '@shmsnap/sink-local';
import { createS3Sink } from '@shmsnap/sink-s3';
import { s3TestClientOptions, startS3TestStores } from '@shmsnap/sink-s3/testing';
import { filesBelow, hostIdentity, markConsumed, subLocation, tool, writeBackup, writeInterrupted } from './support/fleet.js';
import { useScratch } from './support/scratch.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
// Whole seconds: the backups' times are written to the second ({timestamp}), ages then come out exact.
const now = new Date(Math.floor(Date.now() / 1000) * 1000);
const ago = (ms: number): Date => new Date(now.getTime() - ms);
const registry = createRegistry();
registry.registerCodec(codecNone);
const scratch = useScratch('prune');
const pruner = hostIdentity('pruner');

const tree = (dir: string): Promise<string[]> => filesBelow(dir, { emptyDirectories: true });

/** The fleet: node-a instance 0 (4 backups, the newest consumed), node-a instance 1 (1, old), node-b instance 0 (2), interrupted ones, foreign files. */
async function fleet(open: (sub: string) => Promise<Sink>): Promise<Record<string, string>> {
  const at: Record<string, string> = {};
  const backup = async (id: string, host: string, instance: number, createdAt: Date) => {
    at[id] = subLocation(host, instance, createdAt);
    await writeBackup(await open(at[id]!), host, instance, createdAt);
  };
  await backup('a0-1d', 'node-a', 0, ago(1 * DAY));
  await markConsumed(await open(at['a0-1d']!), 'node-a', 0, ago(1 * DAY));
  await backup('a0-2d', 'node-a', 0, ago(2 * DAY));
  await backup('a0-3d', 'node-a', 0, ago(3 * DAY));
  await backup('a0-9d', 'node-a', 0, ago(9 * DAY));
  await backup('a1-30d', 'node-a', 1, ago(30 * DAY));
  await backup('b0-1h', 'node-b', 0, ago(1 * HOUR));
  await backup('b0-5d', 'node-b', 0, ago(5 * DAY));
  at['b0-stale'] = subLocation('node-b', 0, ago(4 * DAY));
  await writeInterrupted(await open(at['b0-stale']!), 'node-b', 0, ago(4 * DAY));
  at['b0-running'] = subLocation('node-b', 0, ago(10 * 60_000));
  await writeInterrupted(await open(at['b0-running']!), 'node-b', 0, ago(10 * 60_000));
  return at;
}

function decisionsOf(plan: PrunePlan): Record<string, string> {
  return Object.fromEntries(plan.decisions.map((d) => [d.candidate.listing.prefix.replace(/\/$/, ''), `${d.action}:${d.reasons.join('+')}`]));
}

describe('prune and status on a local directory of many backups', () => {
  let root = '';
  let at: Record<string, string> = {};
  before(async () => {
    root = scratch.fresh();
    at = await fleet(async (sub) => createLocalSink(join(root, sub)));
    // The stale interrupted backup's files were last written 4 days ago; local mtimes say so.
    for (const name of await readdir(join(root, at['b0-stale']!))) await utimes(join(root, at['b0-stale']!, name), ago(4 * DAY), ago(4 * DAY));
    // Another tool's file, and a temp file a killed writer left two days ago.
    await writeFile(join(root, 'node-a', 'README.txt'), 'not ours\n');
    await mkdir(join(root, 'node-c', '0', 'x'), { recursive: true });
    const temp = join(root, at['a0-9d']!, '.ae001100.dat.0123456789ab.shmsnap-tmp');
    await writeFile(temp, 'partial');
    await utimes(temp, ago(2 * DAY), ago(2 * DAY));
  });

  const plan = (more: { keepLast?: number; keepWithinMs?: number } = {}) =>
    preparePrune({ sink: createLocalSink(root), codecs: registry, openSubLocation: async (sub) => createLocalSink(join(root, sub)), host: pruner, tool, now, ...more });

  it('status: per host and instance, the newest complete backup, its age, consumed or not, size and counts', async () => {
    const status = await readStatus(createLocalSink(root), { codecs: registry, now });
    const rows = status.hosts.map((h) => [h.hostname, h.instance, h.newest?.location.slice(root.length + 1), h.newest?.consumed !== null, h.newestUnconsumed?.location.slice(root.length + 1), h.counts]);
    assert.deepEqual(rows, [
      ['node-a', 0, at['a0-1d'], true, at['a0-2d'], { complete: 4, consumed: 1, interrupted: 0, invalid: 0, asmt: 0, older: 3 }],
      ['node-a', 1, at['a1-30d'], false, at['a1-30d'], { complete: 1, consumed: 0, interrupted: 0, invalid: 0, asmt: 0, older: 0 }],
      ['node-b', 0, at['b0-1h'], false, at['b0-1h'], { complete: 2, consumed: 0, interrupted: 2, invalid: 0, asmt: 0, older: 1 }],
    ]);
    const newest = status.hosts[2]!.newest!;
    assert.equal(newest.ageMs, HOUR);
    assert.deepEqual([newest.rawBytes, newest.storedBytes], [4096 + 8192 + 65536, 4096 + 8192 + 65536]);
  });

  it('refuses to run without --keep-last or --keep-within (no accidental "delete all")', async () => {
    await assert.rejects(plan(), (error: unknown) => isShmsnapError(error, 'CONFIG_INVALID') && /keepLast or keepWithin/.test(error.message));
  });

  it('a dry run decides per host and instance, with reasons, and changes nothing', async () => {
    const before = await tree(root);
    const dry = await plan({ keepLast: 2 });
    assert.deepEqual(decisionsOf(dry), {
      [at['a0-1d']!]: 'keep:keep-last',
      [at['a0-2d']!]: 'keep:keep-last+newest-unconsumed',
      [at['a0-3d']!]: 'remove:outside-rules',
      [at['a0-9d']!]: 'remove:outside-rules',
      [at['a1-30d']!]: 'keep:keep-last+newest-unconsumed',
      [at['b0-1h']!]: 'keep:keep-last+newest-unconsumed',
      [at['b0-5d']!]: 'keep:keep-last',
      [at['b0-stale']!]: 'remove:interrupted-stale',
      [at['b0-running']!]: 'keep:interrupted-recent',
    });
    assert.deepEqual(dry.leftAlone.map((l) => [relative(root, l.location), l.kind, l.objects]), [['node-a', 'unknown', ['README.txt']]]);
    assert.deepEqual(dry.sweep?.entries.map((e) => [e.kind, e.name, e.removed]), [['write', `${at['a0-9d']}/ae001100.dat`, false], ['directory', 'node-c/0/x', false], ['directory', 'node-c/0', false], ['directory', 'node-c', false]]);
    assert.deepEqual(await tree(root), before, 'a dry run removes nothing');
  });

  it('removes what the rules do not keep, stale interrupted backups, temp files and empty directories; keeps the rest intact; a rerun removes nothing', async () => {
    const run = await (await plan({ keepLast: 1, keepWithinMs: 2 * DAY + HOUR })).run();
    assert.deepEqual(run.removed.map((d) => d.candidate.listing.prefix.replace(/\/$/, '')).sort(), [at['a0-3d'], at['a0-9d'], at['b0-5d'], at['b0-stale']].sort());
    const left = await tree(root);
    for (const gone of ['a0-3d', 'a0-9d', 'b0-5d', 'b0-stale']) assert.ok(!left.some((f) => f.startsWith(`${at[gone]}`)), `${gone} is gone with its directory: ${left.join(' ')}`);
    assert.ok(!left.some((f) => f.startsWith('node-c')), 'empty directories went');
    assert.ok(left.includes('node-a/README.txt'), "another tool's file stays");
    const rows = await listBackups(createLocalSink(root), { codecs: registry, depth: 3 });
    assert.deepEqual(rows.map((r) => [relative(root, r.location), r.status, r.problems.length]).sort(), [
      [at['a0-1d'], 'complete', 0], [at['a0-2d'], 'complete', 0], [at['a1-30d'], 'complete', 0], [at['b0-1h'], 'complete', 0], [at['b0-running'], 'interrupted', 0],
    ].sort());
    assert.ok(rows.find((r) => r.prefix === `${at['a0-1d']}/`)?.consumed, 'the consumed marker of a kept backup stays');
    const again = await (await plan({ keepLast: 1, keepWithinMs: 2 * DAY + HOUR })).run();
    assert.deepEqual(again.removed, []);
    assert.deepEqual(await tree(root), left);
  });
});

/** A sink whose `n`-th write or removal fails, as a crash there would stop the prune. */
function failingAt(sink: Sink, n: number, count: { calls: number }): Sink {
  const step = <T>(fn: () => Promise<T>): Promise<T> => {
    count.calls += 1;
    if (count.calls === n) return Promise.reject(new Error(`stopped at step ${n}`));
    return fn();
  };
  return { ...sink, remove: (name, options) => step(() => sink.remove(name, options)), openWriter: (name, options) => step(() => sink.openWriter(name, options)) };
}

describe('a prune stopped at any step', () => {
  it('never leaves a backup that reads as complete with objects missing, and a rerun finishes it', async () => {
    // One backup to remove: marker write, manifest, 3 segment objects, consumed marker, an untidied pending marker before all that, the marker: 8 steps.
    for (let n = 1; n <= 8; n++) {
      const root = scratch.fresh();
      const old = subLocation('node-a', 0, ago(9 * DAY));
      await writeBackup(createLocalSink(join(root, old)), 'node-a', 0, ago(9 * DAY));
      await markConsumed(createLocalSink(join(root, old)), 'node-a', 0, ago(9 * DAY));
      await writeFile(join(root, old, 'shmsnap-pending-i0-n1.json'), '{}\n'); // a backup that committed but died before tidying up
      await writeBackup(createLocalSink(join(root, subLocation('node-a', 0, ago(1 * DAY)))), 'node-a', 0, ago(1 * DAY));
      const count = { calls: 0 };
      const first = await preparePrune({ sink: createLocalSink(root), codecs: registry, openSubLocation: async (sub) => failingAt(createLocalSink(join(root, sub)), n, count), host: pruner, tool, now, keepLast: 1 });
      await assert.rejects(first.run(), /stopped at step/, `step ${n} fails`);
      const rows = await listBackups(createLocalSink(root), { codecs: registry, depth: 3 });
      const row = rows.find((r) => r.prefix === `${old}/`);
      if (row) {
        assert.ok(row.status === 'interrupted' || (row.status === 'complete' && row.problems.length === 0 && row.objects.length >= 5), `after step ${n}: ${row.status}, ${row.objects.join(',')}`);
        if (row.status === 'interrupted') {
          await assert.rejects(
            prepareRestore({ sink: createLocalSink(join(root, old)), codecs: registry, target: createMemoryTarget(), host: hostIdentity('node-a'), now, allowOlder: true, allowConsumed: true }),
            (error: unknown) => isShmsnapError(error, 'BACKUP_INCOMPLETE'),
            `after step ${n} restore refuses it as interrupted`,
          );
        }
      }
      // A rerun at the same time (the marker the prune wrote is young) finishes the job.
      const rerun = await preparePrune({ sink: createLocalSink(root), codecs: registry, openSubLocation: async (sub) => createLocalSink(join(root, sub)), host: pruner, tool, now, keepLast: 1 });
      const going = rerun.decisions.filter((d) => d.action === 'remove').map((d) => d.reasons.join('+'));
      if (row) assert.deepEqual(going, [row.status === 'interrupted' ? 'prune-unfinished' : 'outside-rules'], `after step ${n}`);
      await rerun.run();
      assert.equal(await stat(join(root, old)).then(() => 'there', () => 'gone'), 'gone', `after step ${n} the rerun removed it`);
      assert.equal((await listBackups(createLocalSink(root), { codecs: registry, depth: 3 })).map((r) => r.status).join(), 'complete', 'the newest stays');
    }
  });
});

describe('a backup with a stale consumed marker beside it', () => {
  it('goes with the marker (written for an earlier manifest of that name), leaving no directory behind', async () => {
    const root = scratch.fresh();
    const old = subLocation('node-a', 0, ago(9 * DAY));
    await writeBackup(createLocalSink(join(root, old)), 'node-a', 0, ago(9 * DAY));
    await markConsumed(createLocalSink(join(root, old)), 'node-a', 0, ago(20 * DAY));
    await writeBackup(createLocalSink(join(root, subLocation('node-a', 0, ago(DAY)))), 'node-a', 0, ago(DAY));
    const plan = await preparePrune({ sink: createLocalSink(root), codecs: registry, openSubLocation: async (sub) => createLocalSink(join(root, sub)), host: pruner, tool, now, keepLast: 1 });
    assert.deepEqual(plan.leftAlone, [], 'the stale marker is claimed by its backup');
    assert.equal(plan.decisions.find((d) => d.candidate.listing.prefix === `${old}/`)?.candidate.consumed, false, 'a stale marker does not mark it consumed');
    await plan.run();
    assert.equal(await stat(join(root, old)).then(() => 'there', () => 'gone'), 'gone');
  });
});

// ---- S3 -------------------------------------------------------------------------------------

const { stores, skipped } = await startS3TestStores();
after(async () => {
  for (const store of stores) await store.stop();
});
for (const skip of skipped) describe(`prune on ${skip.kind}`, { skip: skip.reason }, () => {});

for (const store of stores) {
  describe(`prune and status on ${store.kind}`, () => {
    before(() => store.useCredentials());
    const base = `prune-${process.pid}-${store.kind}`;
    const opened: Sink[] = [];
    after(async () => {
      for (const sink of opened) await sink.close?.();
    });
    const open = async (sub: string): Promise<Sink> => {
      const sink = await createS3Sink(`s3://${store.bucket}/${base}/fleet${sub ? `/${sub}` : ''}`, s3TestClientOptions(store.endpoint));
      opened.push(sink);
      return sink;
    };

    it('decides as on a directory, removes every object of what goes, and aborts only the prefix’s stale multipart uploads', async () => {
      const at = await fleet(open);
      // A killed writer's upload under the prefix, and one under a sibling prefix (fleet2) that must stay.
      for (const key of [`${base}/fleet/${at['a0-9d']}/ae001101.dat`, `${base}/fleet2/x/ae001100.dat`]) await store.rawStartUpload(key);
      const status = await readStatus(await open(''), { codecs: registry, now });
      assert.deepEqual(status.hosts.map((h) => [h.hostname, h.instance, h.counts.complete, h.counts.interrupted]), [['node-a', 0, 4, 0], ['node-a', 1, 1, 0], ['node-b', 0, 2, 2]]);

      // Two days on: the interrupted backups (and the uploads) are older than the 24 hours by then.
      const later = new Date(now.getTime() + 2 * DAY);
      const plan = await preparePrune({ sink: await open(''), codecs: registry, openSubLocation: (sub) => open(sub.replace(/\/$/, '')), host: pruner, tool, now: later, keepLast: 2 });
      assert.deepEqual(Object.values(decisionsOf(plan)).filter((d) => d.startsWith('remove')).sort(), ['remove:interrupted-stale', 'remove:interrupted-stale', 'remove:outside-rules', 'remove:outside-rules']);
      const result = await plan.run();
      assert.equal(result.removed.length, 4);
      const keys = (await store.rawList(`${base}/fleet/`)).map((o) => o.key.slice(`${base}/fleet/`.length));
      for (const gone of ['a0-3d', 'a0-9d', 'b0-stale', 'b0-running']) assert.ok(!keys.some((k) => k.startsWith(`${at[gone]}/`)), `${gone}: every object removed (${keys.join(' ')})`);
      for (const kept of ['a0-1d', 'a0-2d', 'a1-30d', 'b0-1h', 'b0-5d']) assert.ok(keys.includes(`${at[kept]}/shmsnap-manifest-i${kept.startsWith('a1') ? 1 : 0}-n1.json`), `${kept} kept`);

      const left = await store.rawListUploads(`${base}/`);
      if (store.kind === 's3rver') {
        // s3rver implements no ListMultipartUploads: the prune says so instead of failing.
        assert.match(result.sweep?.unsupported ?? '', /does not list multipart uploads/);
        assert.equal(left, undefined);
      } else {
        assert.deepEqual(result.sweep?.entries.map((e) => [e.name, e.removed]), [[`${at['a0-9d']}/ae001101.dat`, true]]);
        assert.deepEqual(left, [`${base}/fleet2/x/ae001100.dat`], 'the sibling prefix’s upload stays');
      }
    });
  });
}
