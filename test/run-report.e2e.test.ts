// Run records (--run-log) and Prometheus textfile metrics (--metrics-file)
// on real shared memory (a private IPC namespace) and real files: a backup
// and a restore write records that validate against the shipped schema and
// carry the numbers --json printed; the .prom file, read by a strict parser
// of the exposition format written here (not shmsnap's own), has HELP and
// TYPE for every family and the values of both runs; a refused restore (a
// consumed backup) adds one refusal by code and a record saying so; a
// metrics path that cannot be written is a warning and changes no exit
// status; Ctrl-C is an interrupted run; the configuration (SHMSNAP_RUN_LOG)
// and asmt report the same way.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { mkdir, readdir, readFile, stat, writeFile } = await import('node:fs/promises');
const { hostname } = await import('node:os');
const { join } = await import('node:path');
const { fileURLToPath } = await import('node:url');
const { afterEach, before, describe, it } = await import('node:test');
const { Ajv2020 } = await import('ajv/dist/2020.js');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { useScratch } = await import('./support/scratch.js');
const { runAsmt, runShmsnap, startCli } = await import('./support/cli.js');
const { clearSegments } = await import('./support/shm.js');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;
interface Record_ {
  [key: string]: unknown;
  operation: string;
  outcome: string;
  exitStatus: number;
  error: { code: string; message: string } | null;
  instance: number | null;
  segments: number | null;
  rawBytes: number | null;
  storedBytes: number | null;
}

const small: FixtureOptions = { namespaces: [{ name: 'test', nsid: 1, stages: 3, stageBytes: 256 * 1024 }] };
const scratch = useScratch('run-report');
afterEach(clearSegments);

const env = () => ({ SHMSNAP_LOCK_DIR: join(scratch.root(), 'locks'), SHMSNAP_ASD_PID_FILE: join(scratch.root(), 'no-asd.pid'), SHMSNAP_AEROSPIKE_CONF: join(scratch.root(), 'no.conf'), SHMSNAP_CONFIG: '' });
const shmsnap = (args: string[], extra: NodeJS.ProcessEnv = {}) => runShmsnap(args, { env: { ...env(), ...extra } });

const ajv = new Ajv2020({ allErrors: true, strict: true });
ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
before(async () => {
  const schemas = fileURLToPath(new URL('../packages/cli/schemas/', import.meta.url));
  for (const file of ['defs.json', 'run-record.json']) ajv.addSchema(JSON.parse(await readFile(join(schemas, file), 'utf8')));
});

async function records(file: string): Promise<Record_[]> {
  const text = await readFile(file, 'utf8');
  assert.ok(text.endsWith('\n'), 'whole lines');
  const validate = ajv.getSchema('urn:shmsnap:schema:run-record')!;
  return text.slice(0, -1).split('\n').map((line) => {
    const record = JSON.parse(line) as Record_;
    assert.ok(validate(record), `${ajv.errorsText(validate.errors)}\n${line}`);
    return record;
  });
}

interface Family {
  help?: string;
  type?: string;
  samples: Map<string, number>;
}

/**
 * The text exposition format, strictly: `# HELP name text`, `# TYPE name
 * gauge|counter` before the family's samples, `name{label="value",...} value`
 * with label values in double quotes, blank lines between families; anything
 * else fails the test.
 */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    if (!families.has(name)) families.set(name, { samples: new Map() });
    return families.get(name)!;
  };
  assert.ok(text.endsWith('\n'));
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    let match = /^# HELP ([a-z_:][a-z0-9_:]*) (.+)$/.exec(line);
    if (match) {
      assert.equal(family(match[1]!).help, undefined, `one HELP for ${match[1]}`);
      family(match[1]!).help = match[2]!;
      continue;
    }
    match = /^# TYPE ([a-z_:][a-z0-9_:]*) (gauge|counter)$/.exec(line);
    if (match) {
      assert.equal(family(match[1]!).type, undefined, `one TYPE for ${match[1]}`);
      family(match[1]!).type = match[2]!;
      continue;
    }
    match = /^([a-z_:][a-z0-9_:]*)\{((?:[a-z_]+="(?:[^"\\]|\\.)*",?)*)\} (-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)$/.exec(line);
    assert.ok(match, `a sample line: ${line}`);
    const f = families.get(match[1]!);
    assert.ok(f?.type && f.help, `HELP and TYPE before the samples of ${match[1]}`);
    assert.equal(f.samples.has(match[2]!), false, `one sample per series: ${line}`);
    f.samples.set(match[2]!.replace(/,$/, ''), Number(match[3]));
  }
  return families;
}

function value(metrics: Map<string, Family>, name: string, labels: string): number | undefined {
  return metrics.get(name)?.samples.get(labels);
}

describe('--run-log and --metrics-file', () => {
  it('record a backup and a restore, and a refused restore of the consumed backup; the metrics count all three', { timeout: 120_000 }, async () => {
    const dir = scratch.fresh();
    const log = join(scratch.fresh(), 'log', 'runs.jsonl');
    const textfiles = join(scratch.fresh(), 'textfile');
    const prom = join(textfiles, 'shmsnap.prom');
    const report = ['--run-log', log, '--metrics-file', prom];
    await createFixture(small);

    const backup = await shmsnap(['backup', '--to', dir, '--codec', 'gzip', '--json', ...report]);
    assert.equal(backup.status, 0, backup.stderr);
    const backupDoc = JSON.parse(backup.stdout);
    await clearSegments();
    const restore = await shmsnap(['restore', '--from', dir, '--json', ...report]);
    assert.equal(restore.status, 0, restore.stderr);
    const restoreDoc = JSON.parse(restore.stdout);
    assert.equal(restore.stderr, '', 'no warning');
    await clearSegments();
    // Consumed: refused inside planning, without --instance (the record learns it from the host lock).
    const refused = await shmsnap(['restore', '--from', dir, ...report]);
    assert.equal(refused.status, 3, refused.stderr);
    assert.match(refused.stderr, /^shmsnap: BACKUP_CONSUMED: /);

    const [b, r, x] = await records(log);
    assert.equal((await records(log)).length, 3);
    assert.deepEqual(
      { operation: b!.operation, outcome: b!.outcome, exitStatus: b!.exitStatus, error: b!.error, instance: b!.instance, namespaces: b!.namespaces, codec: b!.codec, location: b!.location, hostname: b!.hostname, tool: (b!.tool as { name: string }).name },
      { operation: 'backup', outcome: 'ok', exitStatus: 0, error: null, instance: 0, namespaces: ['test'], codec: { name: 'gzip', level: 1 }, location: dir, hostname: hostname(), tool: 'shmsnap' },
    );
    assert.deepEqual([b!.segments, b!.rawBytes, b!.storedBytes, b!.transferSeconds], [backupDoc.segments, backupDoc.rawBytes, backupDoc.storedBytes, backupDoc.seconds], 'the numbers --json printed');
    const stored = (await readdir(dir)).filter((f) => /^[0-9a-f]{8}\.dat(\.gz)?$/.test(f));
    let storedSize = 0;
    for (const f of stored) storedSize += (await stat(join(dir, f))).size;
    assert.equal(b!.storedBytes, storedSize, 'stored bytes are the objects\' sizes');
    assert.ok((b!.seconds as number) >= (b!.transferSeconds as number));
    assert.ok(Date.parse(b!.endedAt as string) >= Date.parse(b!.startedAt as string));
    assert.notEqual(b!.pid, r!.pid);
    assert.deepEqual([r!.operation, r!.outcome, r!.instance, r!.codec, r!.storedBytes, r!.segments, r!.rawBytes], ['restore', 'ok', 0, null, null, restoreDoc.segments, restoreDoc.rawBytes]);
    assert.deepEqual([x!.operation, x!.outcome, x!.exitStatus, x!.error?.code, x!.instance, x!.segments, x!.location], ['restore', 'refused', 3, 'BACKUP_CONSUMED', 0, null, dir]);
    assert.equal(`shmsnap: BACKUP_CONSUMED: ${x!.error!.message}\n`, refused.stderr, 'the message printed');

    assert.deepEqual((await readdir(textfiles)).sort(), ['shmsnap.prom', 'shmsnap.prom.lock'], 'no temporary file left beside it');
    assert.equal((await stat(prom)).mode & 0o777, 0o644);
    const metrics = parseExposition(await readFile(prom, 'utf8'));
    for (const [name, type] of [
      ['shmsnap_last_run_timestamp_seconds', 'gauge'],
      ['shmsnap_last_run_outcome', 'gauge'],
      ['shmsnap_last_run_duration_seconds', 'gauge'],
      ['shmsnap_last_success_timestamp_seconds', 'gauge'],
      ['shmsnap_last_success_raw_bytes', 'gauge'],
      ['shmsnap_last_success_stored_bytes', 'gauge'],
      ['shmsnap_last_success_throughput_bytes_per_second', 'gauge'],
      ['shmsnap_runs_total', 'counter'],
      ['shmsnap_refusals_total', 'counter'],
    ]) {
      assert.equal(metrics.get(name!)?.type, type, name);
      assert.ok((metrics.get(name!)?.help ?? '').length > 10, `${name} has HELP`);
    }
    const backup0 = 'operation="backup",instance="0"';
    const restore0 = 'operation="restore",instance="0"';
    assert.equal(value(metrics, 'shmsnap_last_success_raw_bytes', backup0), backupDoc.rawBytes);
    assert.equal(value(metrics, 'shmsnap_last_success_stored_bytes', backup0), backupDoc.storedBytes);
    assert.equal(value(metrics, 'shmsnap_last_success_raw_bytes', restore0), restoreDoc.rawBytes);
    assert.equal(value(metrics, 'shmsnap_last_success_timestamp_seconds', backup0), Date.parse(b!.endedAt as string) / 1000);
    assert.equal(value(metrics, 'shmsnap_last_success_timestamp_seconds', restore0), Date.parse(r!.endedAt as string) / 1000, 'the refusal did not move the last success');
    assert.equal(value(metrics, 'shmsnap_last_run_timestamp_seconds', restore0), Date.parse(x!.endedAt as string) / 1000);
    assert.equal(value(metrics, 'shmsnap_last_run_outcome', `${restore0},outcome="refused"`), 1);
    assert.equal(value(metrics, 'shmsnap_last_run_outcome', `${restore0},outcome="ok"`), 0);
    assert.equal(value(metrics, 'shmsnap_runs_total', `${restore0},outcome="ok"`), 1);
    assert.equal(value(metrics, 'shmsnap_runs_total', `${restore0},outcome="refused"`), 1);
    assert.equal(value(metrics, 'shmsnap_runs_total', `${backup0},outcome="ok"`), 1);
    assert.equal(value(metrics, 'shmsnap_refusals_total', `${restore0},code="BACKUP_CONSUMED"`), 1);
    const throughput = value(metrics, 'shmsnap_last_success_throughput_bytes_per_second', backup0)!;
    assert.ok(Math.abs(throughput - backupDoc.rawBytes / backupDoc.seconds) < 1e-6 * throughput, 'raw bytes over the transfer seconds');

    // Once more: the counter goes on from the file's value.
    const again = await shmsnap(['restore', '--from', dir, '--metrics-file', prom]);
    assert.equal(again.status, 3);
    const after = parseExposition(await readFile(prom, 'utf8'));
    assert.equal(value(after, 'shmsnap_refusals_total', `${restore0},code="BACKUP_CONSUMED"`), 2);
    assert.equal(value(after, 'shmsnap_last_success_raw_bytes', backup0), backupDoc.rawBytes, 'the backup\'s series are kept');
    assert.equal((await records(log)).length, 3, 'no --run-log: no record');
  });

  it('warn when the metrics file cannot be written, and keep the exit status and the record', { timeout: 60_000 }, async () => {
    const plain = join(scratch.root(), 'plain-file');
    await writeFile(plain, '');
    const log = join(scratch.fresh(), 'runs.jsonl');
    await createFixture(small);
    // An aerospike.conf that reads (empty): the one warning left is the metrics file's.
    const conf = join(scratch.root(), 'empty-aerospike.conf');
    await writeFile(conf, '');
    const run = await shmsnap(['backup', '--to', scratch.fresh(), '--no-progress', '--metrics-file', join(plain, 'shmsnap.prom'), '--run-log', log], { SHMSNAP_AEROSPIKE_CONF: conf });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`^backup: warning: the metrics file ${plain}/shmsnap\\.prom could not be written: .+; the run's exit status is unchanged\\n$`));
    assert.deepEqual((await records(log)).map((r) => r.outcome), ['ok']);

    // Under --events the warning goes to stderr: the last event line still says how the run ended.
    await clearSegments();
    await createFixture(small);
    const events = await shmsnap(['backup', '--to', scratch.fresh(), '--events', 'ndjson', '--metrics-file', join(plain, 'shmsnap.prom')], { SHMSNAP_AEROSPIKE_CONF: conf });
    assert.equal(events.status, 0, events.stderr);
    assert.equal(JSON.parse(events.stdout.trim().split('\n').at(-1)!).type, 'result');
    assert.match(events.stderr, /^backup: warning: the metrics file .* could not be written: /);

    // And a run that failed keeps its own status (2, a usage error found after parsing) with the same warning.
    const bad = await shmsnap(['backup', '--to', `${scratch.fresh()}/{nope}`, '--metrics-file', join(plain, 'shmsnap.prom'), '--run-log', log]);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /could not be written/);
    const last = (await records(log)).at(-1)!;
    assert.deepEqual([last.outcome, last.exitStatus, last.error?.code], ['failed', 2, 'CONFIG_INVALID']);
  });

  it('record and count a backup interrupted by Ctrl-C as interrupted', { timeout: 120_000 }, async () => {
    // Slow enough to be caught mid-way: 64 MiB at gzip level 9 on one thread.
    await createFixture({ namespaces: [{ name: 'test', nsid: 1, stages: 4, stageBytes: 16 * 1024 * 1024 }] });
    const log = join(scratch.fresh(), 'runs.jsonl');
    const prom = join(scratch.fresh(), 'm.prom');
    const running = startCli(['backup', '--to', scratch.fresh(), '--codec', 'gzip', '--level', '9', '--threads', '1', '--run-log', log, '--metrics-file', prom], { env: env() });
    await running.waitFor(/backup: [1-9]0%/);
    running.child.kill('SIGINT');
    const result = await running.done;
    assert.equal(result.status, 130, result.stderr);
    const [record] = await records(log);
    assert.deepEqual([record!.outcome, record!.exitStatus, record!.error?.code, record!.segments], ['interrupted', 130, 'ABORTED', null]);
    const metrics = parseExposition(await readFile(prom, 'utf8'));
    const run = 'operation="backup",instance="0"';
    assert.equal(value(metrics, 'shmsnap_runs_total', `${run},outcome="interrupted"`), 1);
    assert.equal(value(metrics, 'shmsnap_last_run_outcome', `${run},outcome="interrupted"`), 1);
    assert.equal(metrics.get('shmsnap_failures_total'), undefined, 'an interrupt is not a failure');
    assert.equal(metrics.get('shmsnap_last_success_timestamp_seconds'), undefined, 'nor a success');
  });

  it('take the log from SHMSNAP_RUN_LOG, and asmt reports its runs through the same code', { timeout: 60_000 }, async () => {
    const log = join(scratch.fresh(), 'runs.jsonl');
    const prom = join(scratch.fresh(), 'm.prom');
    await createFixture(small);
    const dir = scratch.fresh();
    const backup = await shmsnap(['backup', '--to', dir, '--no-progress', '--codec', 'none'], { SHMSNAP_RUN_LOG: log });
    assert.equal(backup.status, 0, backup.stderr);
    await clearSegments();
    const asmtDir = scratch.fresh();
    await mkdir(asmtDir);
    await createFixture(small);
    const asmt = await runAsmt(['-b', '-p', asmtDir, '-n', 'test'], { env: { ...env(), SHMSNAP_RUN_LOG: log, SHMSNAP_METRICS_FILE: prom } });
    assert.equal(asmt.status, 0, asmt.stderr);
    // Again into the same directory: ASMT's rule refuses it (the files exist).
    const twice = await runAsmt(['-b', '-p', asmtDir, '-n', 'test'], { env: { ...env(), SHMSNAP_RUN_LOG: log, SHMSNAP_METRICS_FILE: prom } });
    assert.equal(twice.status, 1);
    const [fromEnv, fromAsmt, refused] = await records(log);
    assert.deepEqual([fromEnv!.operation, fromEnv!.outcome, fromEnv!.codec], ['backup', 'ok', { name: 'none', level: null }]);
    assert.deepEqual([fromAsmt!.outcome, (fromAsmt!.tool as { name: string }).name, fromAsmt!.location, fromAsmt!.codec, fromAsmt!.namespaces, fromAsmt!.segments], ['ok', 'shmsnap-asmt', asmtDir, { name: 'none', level: null }, ['test'], 5]);
    assert.deepEqual([refused!.outcome, refused!.exitStatus, refused!.error?.code], ['refused', 3, 'BACKUP_EXISTS']);
    const metrics = parseExposition(await readFile(prom, 'utf8'));
    assert.equal(value(metrics, 'shmsnap_runs_total', 'operation="backup",instance="0",outcome="ok"'), 1);
    assert.equal(value(metrics, 'shmsnap_refusals_total', 'operation="backup",instance="0",code="BACKUP_EXISTS"'), 1);
  });
});
