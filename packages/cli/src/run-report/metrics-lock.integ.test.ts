// The metrics file's lock on the real kernel (the addon's flock): runs
// updating one file at once lose none of each other's counts, and a run
// that cannot get the lock gives up after its wait instead of hanging.
import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadFileLock } from '@shmsnap/shm-native';
import { parseMetrics } from './metrics.js';
import { runRecord } from './record.js';
import { flockMetricsLock, updateMetricsFile } from './report.js';

let root = '';
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'shmsnap-metrics-lock-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const record = (instance: number) =>
  runRecord({
    operation: 'backup',
    exitStatus: 0,
    instance,
    namespaces: ['test'],
    codec: { name: 'none', level: null },
    location: '/b',
    hostname: 'h',
    transfer: { segments: 1, rawBytes: 1, seconds: 1 },
    startedAt: new Date(),
    endedAt: new Date(),
    pid: process.pid,
    tool: { name: 'shmsnap', version: '0' },
  });

describe('the metrics lock', () => {
  it('serialises updates of one file: 16 at once, 16 counted, across two instances', async () => {
    const file = join(root, 'shmsnap.prom');
    const lock = flockMetricsLock(loadFileLock());
    // flock locks belong to open files, so updates in one process exclude each other as separate runs would.
    await Promise.all(Array.from({ length: 16 }, (_, i) => updateMetricsFile(file, record(i % 2), () => assert.fail('no warning'), lock)));
    const runs = parseMetrics(await readFile(file, 'utf8')).state.get('shmsnap_runs_total')!;
    const ok = [...runs.values()].filter((s) => s.labels.outcome === 'ok').map((s) => [s.labels.instance, s.value]);
    assert.deepEqual(ok.sort(), [['0', 8], ['1', 8]]);
    assert.deepEqual((await readdir(root)).sort(), ['shmsnap.prom', 'shmsnap.prom.lock']);
  });

  it('gives up after its wait while another holds it', async () => {
    const tryLock = loadFileLock();
    const path = join(root, 'held.prom.lock');
    const holder = await open(path, 'a');
    try {
      assert.equal(tryLock(holder.fd), true);
      await assert.rejects(flockMetricsLock(tryLock, 200)(path), /another shmsnap run held .*held\.prom\.lock for more than 0\.2 s/);
    } finally {
      await holder.close();
    }
    const release = await flockMetricsLock(tryLock, 200)(path);
    await release();
  });
});
