// Run records and metrics as logic: the record's shape and outcome, the
// metrics merged across runs (counters that survive, several operations and
// instances in one file), the previous file read back strictly (a corrupt
// one starts over with a warning), and the atomic write (mode 0644, no
// temporary file left, the old file kept when the write fails).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errBackupConsumed, errNoSpace } from '@shmsnap/core';
import { emptyMetrics, mergeRun, METRIC_FAMILIES, MetricsFileCorrupt, parseMetrics, renderMetrics, writeFileAtomic, type MetricsState } from './metrics.js';
import { appendRunRecord, outcomeOf, RECORD_MESSAGE_MAX, runRecord, type ObservedRun, type RunRecord } from './record.js';
import { observeRun, parseReportFile, reportRun, updateMetricsFile, type MetricsLock } from './report.js';

let root = '';
let counter = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'shmsnap-run-report-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});
const fresh = () => join(root, `t${++counter}`);

const tool = { name: 'shmsnap', version: '9.9.9' };
const started = new Date('2026-12-02T01:00:00.000Z');
const ended = new Date('2026-12-02T01:00:12.500Z');

function backupRun(overrides: Partial<ObservedRun> = {}): ObservedRun {
  return {
    operation: 'backup',
    exitStatus: 0,
    instance: 0,
    namespaces: ['test'],
    codec: { name: 'zstd', level: 1 },
    location: '/var/backups/shm',
    hostname: 'node-1',
    transfer: { segments: 5, rawBytes: 8_000_000, storedBytes: 2_000_000, seconds: 10 },
    startedAt: started,
    endedAt: ended,
    pid: 4242,
    tool,
    ...overrides,
  };
}

/** A lock that is always free (the flock one is for real runs). */
const freeLock: MetricsLock = async () => async () => undefined;

/** The samples of `text` as `name{labels} value` strings, for comparisons. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('the run record', () => {
  it('says what ran, where, how much, how long and how it ended', () => {
    const record = runRecord(backupRun());
    assert.deepEqual(record, {
      schema: 'shmsnap.run-record/1',
      operation: 'backup',
      outcome: 'ok',
      exitStatus: 0,
      error: null,
      instance: 0,
      namespaces: ['test'],
      codec: { name: 'zstd', level: 1 },
      location: '/var/backups/shm',
      hostname: 'node-1',
      segments: 5,
      rawBytes: 8_000_000,
      storedBytes: 2_000_000,
      transferSeconds: 10,
      seconds: 12.5,
      startedAt: '2026-12-02T01:00:00.000Z',
      endedAt: '2026-12-02T01:00:12.500Z',
      pid: 4242,
      tool,
    } satisfies RunRecord);
  });

  it('takes its outcome from the exit status, as the shell sees it', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 130].map(outcomeOf), ['ok', 'failed', 'failed', 'refused', 'failed', 'interrupted']);
  });

  it('keeps the error code and one line of message, cut short when long', () => {
    const record = runRecord(backupRun({ exitStatus: 3, error: { code: 'BACKUP_CONSUMED', message: `first\nsecond ${'x'.repeat(3000)}` }, transfer: undefined }));
    assert.equal(record.outcome, 'refused');
    assert.equal(record.error!.code, 'BACKUP_CONSUMED');
    assert.doesNotMatch(record.error!.message, /\n/);
    assert.ok(record.error!.message.startsWith('first second xxx'));
    assert.equal(record.error!.message.length, RECORD_MESSAGE_MAX);
    assert.deepEqual([record.segments, record.rawBytes, record.storedBytes, record.transferSeconds], [null, null, null, null]);
  });

  it('is built from the result document, else from the flags and the error', () => {
    const fromResult = observeRun({
      operation: 'restore',
      exitStatus: 0,
      result: { location: 's3://bucket/p', instance: 2, namespaces: [{ name: 'test', nsid: 1 }, { name: null, nsid: 3 }], segments: 4, rawBytes: 100, seconds: 0.5 },
      fallback: { location: 'ignored' },
      startedAt: started,
      endedAt: ended,
      tool,
    });
    assert.deepEqual([fromResult.instance, fromResult.namespaces, fromResult.location, fromResult.codec, fromResult.transfer], [2, ['test', 'nsid 3'], 's3://bucket/p', null, { segments: 4, rawBytes: 100, seconds: 0.5 }]);
    const refused = observeRun({
      operation: 'restore',
      exitStatus: 3,
      error: errBackupConsumed('/b', 'shmsnap-manifest-i0-n1.json', { at: null, hostname: null, pid: null, marker: 'm' }),
      message: 'as printed',
      fallback: { location: '/b', instance: 0 },
      startedAt: started,
      endedAt: ended,
      tool,
    });
    assert.deepEqual([refused.instance, refused.namespaces, refused.location, refused.transfer, refused.error], [0, null, '/b', undefined, { code: 'BACKUP_CONSUMED', message: 'as printed' }]);
    const foreign = observeRun({ operation: 'backup', exitStatus: 1, error: new Error('boom'), fallback: { location: null, codec: { name: 'gzip', level: null } }, startedAt: started, endedAt: ended, tool });
    assert.deepEqual([foreign.error, foreign.codec, foreign.instance], [{ code: 'INTERNAL', message: 'boom' }, { name: 'gzip', level: null }, null]);
  });

  it('is appended as one line per run, the directory created', async () => {
    const file = join(fresh(), 'deeper', 'runs.jsonl');
    await appendRunRecord(file, runRecord(backupRun()));
    await appendRunRecord(file, runRecord(backupRun({ operation: 'restore', exitStatus: 130, error: { code: 'ABORTED', message: 'interrupted' } })));
    const lines = (await readFile(file, 'utf8')).split('\n');
    assert.equal(lines.pop(), '', 'ends with a newline');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as RunRecord).outcome), ['ok', 'interrupted']);
    assert.equal((await stat(file)).mode & 0o777, 0o644);
  });
});

describe('the metrics', () => {
  it('describe one run: last run, last success, bytes, duration, throughput, and every outcome counted from zero', async () => {
    const text = await renderMetrics(mergeRun(emptyMetrics(), runRecord(backupRun())));
    const got = samples(text);
    const run = 'operation="backup",instance="0"';
    assert.equal(got.get(`shmsnap_last_run_timestamp_seconds{${run}}`), ended.getTime() / 1000);
    assert.equal(got.get(`shmsnap_last_success_timestamp_seconds{${run}}`), ended.getTime() / 1000);
    assert.equal(got.get(`shmsnap_last_run_duration_seconds{${run}}`), 12.5);
    assert.equal(got.get(`shmsnap_last_success_raw_bytes{${run}}`), 8_000_000);
    assert.equal(got.get(`shmsnap_last_success_stored_bytes{${run}}`), 2_000_000);
    assert.equal(got.get(`shmsnap_last_success_segments{${run}}`), 5);
    assert.equal(got.get(`shmsnap_last_success_throughput_bytes_per_second{${run}}`), 800_000, 'raw bytes over the transfer seconds');
    for (const outcome of ['ok', 'refused', 'failed', 'interrupted']) {
      assert.equal(got.get(`shmsnap_runs_total{${run},outcome="${outcome}"}`), outcome === 'ok' ? 1 : 0);
      assert.equal(got.get(`shmsnap_last_run_outcome{${run},outcome="${outcome}"}`), outcome === 'ok' ? 1 : 0);
    }
    for (const family of METRIC_FAMILIES.filter((f) => !['shmsnap_refusals_total', 'shmsnap_failures_total'].includes(f.name))) {
      assert.match(text, new RegExp(`^# HELP ${family.name} \\S.*\\n# TYPE ${family.name} ${family.type}$`, 'm'), family.name);
    }
    assert.doesNotMatch(text, /refusals_total|failures_total/, 'no refusal yet: no series');
  });

  it('count refusals and failures by code across runs; a refusal keeps the last success', async () => {
    let state: MetricsState = emptyMetrics();
    state = mergeRun(state, runRecord(backupRun()));
    for (let i = 0; i < 2; i++) {
      // Each run reads back what the last one wrote, as the file does.
      state = parseMetrics(await renderMetrics(state)).state;
      state = mergeRun(state, runRecord(backupRun({ exitStatus: 3, error: { code: 'BACKUP_EXISTS', message: 'x' }, transfer: undefined, endedAt: new Date(ended.getTime() + 60_000) })));
    }
    state = mergeRun(state, runRecord(backupRun({ exitStatus: 1, error: { code: 'NO_SPACE', message: 'x' }, transfer: undefined })));
    const got = samples(await renderMetrics(state));
    const run = 'operation="backup",instance="0"';
    assert.equal(got.get(`shmsnap_refusals_total{${run},code="BACKUP_EXISTS"}`), 2);
    assert.equal(got.get(`shmsnap_failures_total{${run},code="NO_SPACE"}`), 1);
    assert.equal(got.get(`shmsnap_runs_total{${run},outcome="refused"}`), 2);
    assert.equal(got.get(`shmsnap_runs_total{${run},outcome="failed"}`), 1);
    assert.equal(got.get(`shmsnap_runs_total{${run},outcome="ok"}`), 1);
    assert.equal(got.get(`shmsnap_last_run_outcome{${run},outcome="failed"}`), 1);
    assert.equal(got.get(`shmsnap_last_run_outcome{${run},outcome="refused"}`), 0);
    assert.equal(got.get(`shmsnap_last_success_timestamp_seconds{${run}}`), ended.getTime() / 1000, 'the last success stays');
    assert.equal(got.get(`shmsnap_last_success_raw_bytes{${run}}`), 8_000_000);
  });

  it('keep backup and restore and several instances apart in one file', async () => {
    let state = mergeRun(emptyMetrics(), runRecord(backupRun()));
    state = mergeRun(state, runRecord(backupRun({ instance: 1, transfer: { segments: 2, rawBytes: 10, storedBytes: 5, seconds: 1 } })));
    state = mergeRun(state, runRecord(backupRun({ operation: 'restore', codec: null, transfer: { segments: 5, rawBytes: 8_000_000, seconds: 4 } })));
    state = mergeRun(state, runRecord(backupRun({ operation: 'restore', instance: null, exitStatus: 3, error: { code: 'LOCATION_NOT_FOUND', message: 'x' }, transfer: undefined })));
    const got = samples(await renderMetrics(parseMetrics(await renderMetrics(state)).state));
    assert.equal(got.get('shmsnap_last_success_raw_bytes{operation="backup",instance="0"}'), 8_000_000);
    assert.equal(got.get('shmsnap_last_success_raw_bytes{operation="backup",instance="1"}'), 10);
    assert.equal(got.get('shmsnap_last_success_throughput_bytes_per_second{operation="restore",instance="0"}'), 2_000_000);
    assert.equal(got.has('shmsnap_last_success_stored_bytes{operation="restore",instance="0"}'), false, 'a restore stores nothing');
    assert.equal(got.get('shmsnap_refusals_total{operation="restore",instance="unknown",code="LOCATION_NOT_FOUND"}'), 1);
    assert.equal(got.get('shmsnap_runs_total{operation="backup",instance="1",outcome="ok"}'), 1);
  });

  it('read back escaped label values exactly', async () => {
    const record = runRecord(backupRun({ exitStatus: 1, error: { code: 'WEIRD"\\\nCODE', message: 'x' } }));
    const text = await renderMetrics(mergeRun(emptyMetrics(), record));
    const back = parseMetrics(text).state.get('shmsnap_failures_total')!;
    assert.deepEqual([...back.values()].map((s) => s.labels.code), ['WEIRD"\\\nCODE']);
    assert.equal(await renderMetrics(parseMetrics(text).state), text, 'a round trip changes nothing');
  });

  it('refuse a previous file they would not have written', async () => {
    const good = await renderMetrics(mergeRun(emptyMetrics(), runRecord(backupRun())));
    const bad: [string, string][] = [
      ['garbage', 'not a metrics file at all\n'],
      ['cut short', good.slice(0, good.length - 7)],
      ['a counter typed as a gauge', good.replace('# TYPE shmsnap_runs_total counter', '# TYPE shmsnap_runs_total gauge')],
      ['other labels', good.replace('shmsnap_last_run_duration_seconds{operation="backup",instance="0"}', 'shmsnap_last_run_duration_seconds{operation="backup"}')],
      ['a bad value', good.replace(/(shmsnap_last_success_segments\{[^}]*\}) 5/, '$1 five')],
      ['a negative counter', good.replace(/(shmsnap_runs_total\{[^}]*outcome="ok"\}) 1/, '$1 -1')],
      ['a duplicate series', `${good}shmsnap_last_success_segments{operation="backup",instance="0"} 6\n`],
      ['an unclosed label', good.replace('instance="0"} 5', 'instance="0} 5')],
      ['a sample without TYPE', `shmsnap_last_success_segments{operation="backup",instance="0"} 6\n${good}`],
      ['a foreign comment', `# hello\n${good}`],
    ];
    for (const [what, text] of bad) assert.throws(() => parseMetrics(text), MetricsFileCorrupt, what);
    const foreign = `${good}# HELP other_metric x\n# TYPE other_metric gauge\nother_metric 1\n`;
    assert.deepEqual(parseMetrics(foreign).unknown, ['other_metric'], 'a family that is not ours is named, not fatal');
    assert.deepEqual(parseMetrics('').unknown, []);
  });
});

describe('the metrics file', () => {
  it('is replaced atomically: mode 0644 whatever the umask, no temporary file left', async () => {
    const dir = fresh();
    const file = join(dir, 'shmsnap.prom');
    const umask = process.umask(0o077);
    try {
      await updateMetricsFile(file, runRecord(backupRun()), () => assert.fail('no warning'), freeLock);
      await updateMetricsFile(file, runRecord(backupRun()), () => assert.fail('no warning'), freeLock);
    } finally {
      process.umask(umask);
    }
    assert.deepEqual(await readdir(dir), ['shmsnap.prom']);
    assert.equal((await stat(file)).mode & 0o777, 0o644);
    assert.equal(samples(await readFile(file, 'utf8')).get('shmsnap_runs_total{operation="backup",instance="0",outcome="ok"}'), 2, 'the second run read the first back');
  });

  it('keeps the old file and leaves no temporary file when the write fails', async () => {
    const dir = fresh();
    await mkdir(dir);
    const file = join(dir, 'shmsnap.prom');
    await writeFile(file, 'old\n');
    // A directory where the file goes: rename() fails after the temporary file was written.
    const blocked = join(dir, 'blocked.prom');
    await mkdir(blocked);
    await writeFile(join(blocked, 'x'), '');
    await assert.rejects(writeFileAtomic(blocked, 'new\n'));
    assert.deepEqual((await readdir(dir)).sort(), ['blocked.prom', 'shmsnap.prom']);
    assert.equal(await readFile(file, 'utf8'), 'old\n');
  });

  it('starts over from a corrupt previous file, with a warning naming it', async () => {
    const dir = fresh();
    await mkdir(dir);
    const file = join(dir, 'shmsnap.prom');
    await writeFile(file, 'shmsnap_runs_total{operation="backup",instance="0",outcome="ok"} 41\n');
    const warnings: string[] = [];
    await updateMetricsFile(file, runRecord(backupRun()), (w) => warnings.push(w), freeLock);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, new RegExp(`^the metrics file ${file} is not one shmsnap wrote \\(line 1: .*\\): its counters start over$`));
    assert.equal(samples(await readFile(file, 'utf8')).get('shmsnap_runs_total{operation="backup",instance="0",outcome="ok"}'), 1);
  });

  it('takes the lock beside the file, and gives the lock back whether the update worked or not', async () => {
    const dir = fresh();
    const file = join(dir, 'shmsnap.prom');
    const taken: string[] = [];
    const lock: MetricsLock = async (path) => {
      taken.push(`take ${path}`);
      return async () => void taken.push('release');
    };
    await updateMetricsFile(file, runRecord(backupRun()), () => undefined, lock);
    // A directory in the file's place: the rename fails (a mode would not stop root).
    await rm(file);
    await mkdir(file);
    await writeFile(join(file, 'x'), '');
    await assert.rejects(updateMetricsFile(file, runRecord(backupRun()), () => undefined, lock));
    assert.deepEqual(taken, [`take ${file}.lock`, 'release', `take ${file}.lock`, 'release']);
  });
});

describe('reportRun', () => {
  it('warns, and does not throw, when neither file can be written', async () => {
    const dir = fresh();
    await mkdir(dir);
    const plain = join(dir, 'plain');
    await writeFile(plain, '');
    const warnings: string[] = [];
    const record = await reportRun({ runLog: join(plain, 'runs.jsonl'), metricsFile: join(plain, 'm.prom'), lock: freeLock }, backupRun(), (w) => warnings.push(w));
    assert.equal(record.outcome, 'ok');
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /^the run record could not be appended to .*runs\.jsonl: .*(ENOTDIR|EEXIST).*; the run's exit status is unchanged$/);
    assert.match(warnings[1]!, /^the metrics file .*m\.prom could not be written: .*(ENOTDIR|EEXIST).*; the run's exit status is unchanged$/);
  });

  it('records a refused run too (outcome refused, its code)', async () => {
    const file = join(fresh(), 'runs.jsonl');
    await reportRun({ runLog: file }, backupRun({ exitStatus: 3, error: { code: 'NO_SPACE', message: errNoSpace('x', 'y').message }, transfer: undefined }), () => assert.fail('no warning'));
    const record = JSON.parse(await readFile(file, 'utf8')) as RunRecord;
    assert.deepEqual([record.outcome, record.error?.code], ['refused', 'NO_SPACE']);
  });
});

describe('--run-log and --metrics-file values', () => {
  it('refuse an empty name and a directory, and take any other path', () => {
    assert.throws(() => parseReportFile(' '), /the file name is empty/);
    assert.throws(() => parseReportFile('/var/lib/node_exporter/textfile/'), /names a directory; give a file in it/);
    assert.equal(parseReportFile('metrics/shmsnap.prom'), 'metrics/shmsnap.prom');
  });
});
