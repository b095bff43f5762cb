// Pre-flight, on real shared memory (a private IPC namespace) and a local
// directory, through the built CLI: a backup records aerospike.conf's values
// and the asd build (a stand-in `asd` on PATH that prints one); `preflight`
// then says warm for the unchanged conf (exit 0), cold for changed sprigs,
// crash risk for a changed data-size (exit 5), each with both values; restore's
// dry run carries the same assessment and a real restore warns and restores;
// a backup in ASMT's layout (no manifest) gives unknowns and is never refused;
// every --json document validates against packages/cli/schemas/.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } = await import('node:fs/promises');
const { tmpdir } = await import('node:os');
const { join } = await import('node:path');
const { fileURLToPath } = await import('node:url');
const { after, afterEach, before, describe, it } = await import('node:test');
const { Ajv2020 } = await import('ajv/dist/2020.js');
const { manifestName } = await import('@shmsnap/core');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { runAsmt, runShmsnap } = await import('./support/cli.js');
const { aerospikeKeys, clearSegments } = await import('./support/shm.js');

type CliRun = Awaited<ReturnType<typeof runShmsnap>>;
type Finding = { what: string; expect: string; backup: string | null; now: string | null; reason: string; derived: boolean };
type NamespaceJson = { name: string; expect: string; findings: Finding[] };
type Check = { check: string; status: string; code: string | null; message: string };

const MiB = 1024 * 1024;
const BUILD = 'Aerospike Community Edition build 7.1.0.0';
// Made here, not in a hook: top-level hooks of this runner may start before another one's await ends.
const root = await mkdtemp(join(tmpdir(), 'shmsnap-preflight-'));
let counter = 0;
const scratch = { root: () => root, fresh: () => join(root, `d${++counter}`) };
after(() => rm(root, { recursive: true, force: true }));
afterEach(clearSegments);

const SCHEMAS = fileURLToPath(new URL('../packages/cli/schemas/', import.meta.url));
const ajv = new Ajv2020({ allErrors: true, strict: true });
ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
before(async () => {
  for (const file of (await readdir(SCHEMAS)).filter((f) => f.endsWith('.json'))) ajv.addSchema(JSON.parse(await readFile(join(SCHEMAS, file), 'utf8')));
});

/** The run's stdout as one JSON document valid against the schema it names. */
function documentOf(run: CliRun, schema: string): Record<string, unknown> {
  const document = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.equal(document.schema, `shmsnap.${schema}/1`, run.stdout);
  const validate = ajv.getSchema(`urn:shmsnap:schema:${schema}`)!;
  assert.ok(validate(document), `${ajv.errorsText(validate.errors)}\n${run.stdout}`);
  return document;
}

/** 8 data stripes of 8 MiB: what Aerospike makes of `data-size 64M` (max(8, ...) stripes rounded to 8 MiB). */
const withData = { namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 256 * 1024, data: { stages: 8, stageBytes: 8 * MiB } }] };
const small = { namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 256 * 1024 }] };
const memoryConf = (dataSize: string, sprigs: string) =>
  `service {\n  user root\n}\n# the namespace\nnamespace test {\n  replication-factor 1\n  partition-tree-sprigs ${sprigs}\n  storage-engine memory {\n    data-size ${dataSize}\n  }\n}\n`;
const deviceConf = 'namespace test {\n  storage-engine device {\n    device /dev/null-disk\n  }\n}\n';

let env: Record<string, string> = {};
let backupDir = '';
const conf = (name: string): string => join(scratch.root(), name);
const shmsnap = (args: string[]) => runShmsnap(args, { env });

before(async () => {
  // A stand-in asd that only answers --version: no server is ever started.
  const bin = join(scratch.root(), 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'asd'), `#!/bin/sh\n[ "$1" = --version ] && echo '${BUILD}' && exit 0\nexit 1\n`);
  await chmod(join(bin, 'asd'), 0o755);
  env = { SHMSNAP_LOCK_DIR: join(scratch.root(), 'locks'), SHMSNAP_ASD_PID_FILE: join(scratch.root(), 'no-asd.pid'), PATH: `${bin}:${process.env.PATH ?? ''}` };
  await writeFile(conf('same.conf'), memoryConf('64M', '256'));
  await writeFile(conf('sprigs.conf'), memoryConf('64M', '512'));
  await writeFile(conf('data-size.conf'), memoryConf('128M', '256'));
  await writeFile(conf('device.conf'), deviceConf);
  await createFixture(withData);
  backupDir = scratch.fresh();
  const backup = await shmsnap(['backup', '--to', backupDir, '--aerospike-conf', conf('same.conf')]);
  assert.equal(backup.status, 0, backup.stderr);
  await clearSegments();
});

const preflight = (conf: string, ...more: string[]) => shmsnap(['preflight', '--from', backupDir, '--aerospike-conf', conf, '--json', ...more]);
const findingOf = (doc: Record<string, unknown>, what: string): Finding | undefined => (doc.namespaces as NamespaceJson[])[0]!.findings.find((f) => f.what === what);

describe('shmsnap preflight', () => {
  it("the backup's manifest records aerospike.conf's values, the asd build and the base header", async () => {
    const manifest = JSON.parse(await readFile(join(backupDir, manifestName(0, [1])), 'utf8'));
    assert.deepEqual(manifest.aerospike.conf, { path: conf('same.conf'), error: null });
    assert.equal(manifest.aerospike.build, BUILD);
    const [ns] = manifest.aerospike.namespaces;
    assert.equal(ns.name, 'test');
    assert.deepEqual([ns.conf.partitionTreeSprigs, ns.conf.storageEngine], ['256', { type: 'memory', dataSize: '64M', filesize: null, files: [], devices: [] }]);
    assert.deepEqual(ns.base, { version: 12, shutdownStatus: 1, primaryStageCount: 2, stageSize: 256 * 1024 });
  });

  it('the conf unchanged: a warm start for every namespace and every check passes, exit 0', async () => {
    const run = await preflight(conf('same.conf'));
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const doc = documentOf(run, 'preflight');
    assert.deepEqual([doc.ok, doc.warmStart, doc.expect, doc.build], [true, true, 'warm', { backup: BUILD, now: BUILD }]);
    assert.deepEqual((doc.namespaces as NamespaceJson[]).map((n) => [n.name, n.expect]), [['test', 'warm']]);
    assert.deepEqual(findingOf(doc, 'stripes'), { what: 'stripes', expect: 'warm', backup: '8 stripes of 8388608 bytes (8.0 MiB)', now: '8 stripes of 8388608 bytes (8.0 MiB)', reason: 'data-size 64M gives the stripes the backup holds', derived: true });
    const checks = doc.checks as Check[];
    assert.deepEqual(checks.map((c) => [c.check, c.status]), [['asd', 'pass'], ['restore', 'pass'], ['age', 'pass'], ['host', 'pass'], ['consumed', 'pass'], ['index-checkpoint', 'pass']]);
    assert.deepEqual(aerospikeKeys(), [], 'nothing was created');
  });

  it('partition-tree-sprigs changed: a cold start with both values (exit 5); the text names them too', async () => {
    const run = await preflight(conf('sprigs.conf'));
    assert.equal(run.status, 5, run.stderr);
    const doc = documentOf(run, 'preflight');
    assert.deepEqual([doc.ok, doc.warmStart, doc.expect], [false, false, 'cold']);
    const f = findingOf(doc, 'partition-tree-sprigs')!;
    assert.deepEqual([f.expect, f.backup, f.now, f.derived], ['cold', '256', '512', false]);
    const text = await shmsnap(['preflight', '--from', backupDir, '--aerospike-conf', conf('sprigs.conf')]);
    assert.equal(text.status, 5);
    assert.match(text.stdout, /^preflight: namespace 'test' \(nsid 1\): COLD START expected$/m);
    assert.match(text.stdout, /^ {2}cold +partition-tree-sprigs +256 +512 +partition-tree-sprigs changed from 256 to 512/m);
    assert.match(text.stdout, /^preflight: NO warm start expected: 'test' COLD START expected$/m);
  });

  it('data-size changed: a crash risk (exit 5); restore --dry-run shows it, a real restore warns and restores', async () => {
    const run = await preflight(conf('data-size.conf'));
    assert.equal(run.status, 5, run.stderr);
    const doc = documentOf(run, 'preflight');
    assert.equal(doc.expect, 'crash-risk');
    const f = findingOf(doc, 'data-size')!;
    assert.deepEqual([f.expect, f.backup, f.now, f.derived], ['crash-risk', '64M', '128M', false]);

    const warning = /^restore: warning: namespace 'test': crash risk at the next start: data-size changed from 64M to 128M: asd computes the data stripes from it and crashes/m;
    const dry = await shmsnap(['restore', '--from', backupDir, '--aerospike-conf', conf('data-size.conf'), '--dry-run', '--json']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stderr, warning);
    const plan = documentOf(dry, 'restore') as { preflight: { expect: string; namespaces: NamespaceJson[] } };
    assert.equal(plan.preflight.expect, 'crash-risk');
    assert.deepEqual(plan.preflight.namespaces[0]!.findings, (doc.namespaces as NamespaceJson[])[0]!.findings, 'the same findings as preflight');
    const dryText = await shmsnap(['restore', '--from', backupDir, '--aerospike-conf', conf('data-size.conf'), '--dry-run']);
    assert.match(dryText.stdout, /^restore: pre-flight: namespace 'test' \(nsid 1\): CRASH RISK$/m);

    const restore = await shmsnap(['restore', '--from', backupDir, '--aerospike-conf', conf('data-size.conf')]);
    assert.equal(restore.status, 0, restore.stderr);
    assert.match(restore.stderr, warning, 'a warning, not a refusal');
    assert.equal(aerospikeKeys().length, 12);

    // Now the backup is consumed and its segments are in the way: the conf is fine, the checks are not.
    const after = await preflight(conf('same.conf'));
    assert.equal(after.status, 5);
    const afterDoc = documentOf(after, 'preflight');
    assert.equal(afterDoc.expect, 'warm');
    const failed = (afterDoc.checks as Check[]).filter((c) => c.status === 'fail').map((c) => [c.check, c.code]);
    assert.deepEqual(failed, [['segments', 'SEGMENT_EXISTS'], ['consumed', 'BACKUP_CONSUMED']]);
    const configOnly = documentOf(await preflight(conf('same.conf'), '--config-only'), 'preflight');
    assert.deepEqual((configOnly.checks as Check[]).filter((c) => c.status !== 'pass').map((c) => [c.check, c.status]), [['restore', 'skipped'], ['consumed', 'fail']]);
  });

  it("a backup in ASMT's layout (no manifest): unknown where nothing was recorded, exit 5, and restore is not refused", async () => {
    await createFixture(small);
    const dir = scratch.fresh();
    assert.equal((await runAsmt(['-b', '-p', dir, '-n', 'test'], { env })).status, 0);
    await rm(join(dir, manifestName(0, [1])), { force: true });
    await clearSegments();
    const run = await shmsnap(['preflight', '--from', dir, '--aerospike-conf', conf('device.conf'), '--json']);
    assert.equal(run.status, 5, run.stderr);
    const doc = documentOf(run, 'preflight');
    assert.deepEqual([doc.expect, (doc.build as { backup: unknown }).backup], ['unknown', null]);
    const f = findingOf(doc, 'partition-tree-sprigs')!;
    assert.deepEqual([f.expect, f.backup, f.now], ['unknown', null, '256']);
    assert.match(f.reason, /records no Aerospike settings/);
    assert.deepEqual((doc.checks as Check[]).filter((c) => c.status === 'fail'), [], 'no check fails for the missing record');
    const restore = await shmsnap(['restore', '--from', dir, '--aerospike-conf', conf('device.conf'), '--dry-run', '--json']);
    assert.equal(restore.status, 0, restore.stderr);
    assert.equal((documentOf(restore, 'restore').preflight as { expect: string }).expect, 'unknown');
  });

  it('the conf missing at backup: recorded as such with a warning line, and the backup goes on; pre-flight then says why it cannot compare', async () => {
    await createFixture(small);
    const dir = scratch.fresh();
    const missing = conf('nowhere.conf');
    const backup = await shmsnap(['backup', '--to', dir, '--aerospike-conf', missing]);
    assert.equal(backup.status, 0, backup.stderr);
    assert.match(backup.stderr, new RegExp(`^backup: warning: ${missing.replace(/[.]/g, '\\.')} could not be read \\(ENOENT\\)`, 'm'));
    const manifest = JSON.parse(await readFile(join(dir, manifestName(0, [1])), 'utf8'));
    assert.deepEqual([manifest.aerospike.conf.error, manifest.aerospike.namespaces[0].conf], ['ENOENT', null]);
    await clearSegments();
    const doc = documentOf(await shmsnap(['preflight', '--from', dir, '--aerospike-conf', conf('device.conf'), '--json']), 'preflight');
    assert.match(findingOf(doc, 'partition-tree-sprigs')!.reason, /aerospike\.conf could not be read at backup time \(ENOENT\)/);
  });

  it('a location that does not exist: one coded line, exit 3 (the error document with --json)', async () => {
    const missing = join(scratch.root(), 'no-such-dir');
    const run = await shmsnap(['preflight', '--from', missing]);
    assert.equal(run.status, 3);
    assert.equal(run.stderr.split('\n').filter((l) => l !== '').length, 1, run.stderr);
    assert.match(run.stderr, /^shmsnap: LOCATION_NOT_FOUND: /);
    const json = await shmsnap(['preflight', '--from', missing, '--json']);
    assert.equal((documentOf(json, 'error').error as { code: string }).code, 'LOCATION_NOT_FOUND');
  });
});
