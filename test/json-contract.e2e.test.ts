// The --json contract (docs/json.md): every command, on success and on
// failure (usage errors included), prints exactly one JSON document on
// stdout that names its schema and validates against the JSON Schema files
// shipped in packages/cli/schemas/, checked with ajv. The schemas are
// closed (no undocumented field passes), so a shape that drifts from the
// documentation fails here.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { readdir, readFile, writeFile } = await import('node:fs/promises');
const { join } = await import('node:path');
const { fileURLToPath } = await import('node:url');
const { afterEach, before, describe, it } = await import('node:test');
const { Ajv2020 } = await import('ajv/dist/2020.js');
const { ERROR_CODES } = await import('@shmsnap/core');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { runShmsnap } = await import('./support/cli.js');
const { clearSegments } = await import('./support/shm.js');
const { useScratch } = await import('./support/scratch.js');

type CliRun = Awaited<ReturnType<typeof runShmsnap>>;

const SCHEMAS = fileURLToPath(new URL('../packages/cli/schemas/', import.meta.url));
const scratch = useScratch('json');
afterEach(clearSegments);

// RFC 3339, as Date#toISOString writes it (and any offset): ajv knows no formats by itself.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

const ajv = new Ajv2020({ allErrors: true, strict: true });
ajv.addFormat('date-time', DATE_TIME);
const documents = new Map<string, object>();

before(async () => {
  for (const file of (await readdir(SCHEMAS)).filter((f) => f.endsWith('.json')).sort()) {
    const schema = JSON.parse(await readFile(join(SCHEMAS, file), 'utf8'));
    ajv.addSchema(schema);
    if (file !== 'defs.json') documents.set(`shmsnap.${file.replace(/\.json$/, '')}/1`, schema);
  }
});

/** The run's stdout as its one JSON document, validated against the schema it names; the exit status as the document says. */
function validDocument(run: CliRun, expected: string): Record<string, unknown> {
  assert.doesNotMatch(run.stderr, /^\s+at /m, `no stack trace: ${run.stderr}`);
  let document: Record<string, unknown>;
  try {
    document = JSON.parse(run.stdout);
  } catch {
    assert.fail(`stdout is not one JSON document (status ${run.status}): ${run.stdout}${run.stderr}`);
  }
  assert.equal(document.schema, expected, run.stdout);
  const validate = ajv.getSchema(`urn:shmsnap:schema:${expected.replace(/^shmsnap\.|\/1$/g, '')}`);
  assert.ok(validate, `a schema file for ${expected}`);
  assert.ok(validate(document), `${expected}: ${ajv.errorsText(validate.errors, { separator: '\n' })}\n${run.stdout}`);
  if (expected === 'shmsnap.error/1') assert.equal(run.status, document.exitStatus, 'the exit status is the one the document gives');
  return document;
}

function failed(run: CliRun, code: string, status: number): Record<string, unknown> {
  const document = validDocument(run, 'shmsnap.error/1');
  const error = document.error as { code: string; message: string };
  assert.deepEqual([error.code, run.status], [code, status], run.stdout);
  return document;
}

const indexed = { owner: { uid: 1234, gid: 0, mode: 0o640 }, namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 256 * 1024, secondary: { stages: 1, stageBytes: 8192 }, data: { stages: 1, stageBytes: 8192, lows: [1] } }] };

describe('the schema files', () => {
  it('cover every document and every error code', () => {
    assert.deepEqual([...documents.keys()].sort(), ['backup', 'clear', 'config', 'demo', 'error', 'inspect', 'ls', 'plugins', 'preflight', 'prune', 'rekey', 'restore', 'run-record', 'status', 'verify'].map((d) => `shmsnap.${d}/1`));
    const defs = ajv.getSchema('urn:shmsnap:schema:defs')!.schema as { $defs: { error: { properties: { code: { enum: string[] } } } } };
    assert.deepEqual(defs.$defs.error.properties.code.enum, [...ERROR_CODES], 'a new error code is documented');
  });

  it('are closed: a field the documentation does not name fails', () => {
    const validate = ajv.getSchema('urn:shmsnap:schema:error')!;
    const error = { code: 'INTERNAL', message: 'x', retryable: false, fault: 'system', details: {} };
    assert.equal(validate({ schema: 'shmsnap.error/1', ok: false, command: null, exitStatus: 1, error }), true);
    assert.equal(validate({ schema: 'shmsnap.error/1', ok: false, command: null, exitStatus: 1, error, extra: 1 }), false);
    assert.equal(validate({ schema: 'shmsnap.error/1', ok: false, command: null, exitStatus: 1, error: { ...error, code: 'NO_SUCH_CODE' } }), false);
  });
});

describe('every command, --json, on success', () => {
  it('status, prune (dry run and run)', async () => {
    const { createLocalSink } = await import('@shmsnap/sink-local');
    const { subLocation, writeBackup } = await import('./support/fleet.js');
    const dir = scratch.fresh();
    for (const days of [1, 2]) {
      const at = new Date(Math.floor(Date.now() / 1000 - days * 86_400) * 1000);
      await writeBackup(createLocalSink(join(dir, subLocation('node-a', 0, at))), 'node-a', 0, at);
    }
    const status = validDocument(await runShmsnap(['status', dir, '--json']), 'shmsnap.status/1');
    assert.equal((status.hosts as unknown[]).length, 1);
    const plan = validDocument(await runShmsnap(['prune', dir, '--keep-last', '1', '--dry-run', '--json']), 'shmsnap.prune/1');
    assert.deepEqual([plan.dryRun, plan.summary], [true, { kept: 1, removed: 1, removedStoredBytes: 4096 + 8192 + 65536 }]);
    const prune = validDocument(await runShmsnap(['prune', dir, '--keep-last', '1', '--json']), 'shmsnap.prune/1');
    assert.deepEqual([prune.dryRun, prune.summary], [false, plan.summary], 'the same things in the same shape, plan or run');
  });

  it('inspect, backup (plan and run), ls, verify, restore (plan and run) and clear', async () => {
    const fixture = await createFixture(indexed);
    await createFixture({ namespaces: [{ name: 'bar', nsid: 2, stages: 1, stageBytes: 65536 }], damage: { shutdownStatus: 0 } });
    const inspect = validDocument(await runShmsnap(['inspect', '--json']), 'shmsnap.inspect/1');
    const namespaces = (inspect.instances as { namespaces: { name: string; problems: { code: string }[] }[] }[])[0]!.namespaces;
    assert.deepEqual(namespaces.map((n) => [n.name, n.problems.map((p) => p.code)]), [['test', []], ['bar', ['SEGMENT_NOT_CLEAN']]]);

    const dir = scratch.fresh();
    const plan = validDocument(await runShmsnap(['backup', '--to', dir, '--namespace', 'test', '--codec', 'gzip', '--dry-run', '--json']), 'shmsnap.backup/1');
    assert.deepEqual([plan.dryRun, plan.codec, plan.namespaces], [true, { name: 'gzip', level: 1 }, [{ name: 'test', nsid: 1 }]]);
    const backup = validDocument(await runShmsnap(['backup', '--to', dir, '--namespace', 'test', '--codec', 'gzip', '--json']), 'shmsnap.backup/1');
    assert.deepEqual([backup.dryRun, backup.codec, backup.namespaces], [false, { name: 'gzip', level: 1 }, [{ name: 'test', nsid: 1 }]], 'the same things in the same shape, plan or run');

    const ls = validDocument(await runShmsnap(['ls', dir, '--json']), 'shmsnap.ls/1');
    const [row] = ls.backups as { codecs: unknown; namespaces: unknown; host: { hostname: string } }[];
    assert.deepEqual([row!.codecs, row!.namespaces], [[{ name: 'gzip', level: 1 }], [{ name: 'test', nsid: 1 }]], 'as backup says them');
    validDocument(await runShmsnap(['verify', dir, '--json']), 'shmsnap.verify/1');

    await fixture.remove();
    const restorePlan = validDocument(await runShmsnap(['restore', '--from', dir, '--dry-run', '--json']), 'shmsnap.restore/1');
    // No aerospike.conf on a test host: every comparison unknown, a document all the same (exit 5: not a warm start).
    const preflight = await runShmsnap(['preflight', '--from', dir, '--json']);
    assert.deepEqual([validDocument(preflight, 'shmsnap.preflight/1').expect, preflight.status], ['unknown', 5]);
    assert.deepEqual(restorePlan.namespaces, [{ name: 'test', nsid: 1 }]);
    const restore = validDocument(await runShmsnap(['restore', '--from', dir, '--json']), 'shmsnap.restore/1');
    assert.deepEqual((restore.sources as { namespaces: unknown }[])[0]!.namespaces, [{ name: 'test', nsid: 1 }]);
    assert.deepEqual(await fixture.compare(), []);

    // 'bar' was never cleanly shut down: a leftover by its status.
    const clearPlan = validDocument(await runShmsnap(['clear', '--instance', '0', '--namespace', 'bar', '--dry-run', '--json']), 'shmsnap.clear/1');
    assert.deepEqual([clearPlan.namespace, clearPlan.removed], [{ name: 'bar', nsid: 2 }, []]);
    const clear = validDocument(await runShmsnap(['clear', '--instance', '0', '--namespace', 'bar', '--json']), 'shmsnap.clear/1');
    assert.deepEqual(clear.removed, ['0xae002001', '0xae002100', '0xae002000'], 'every segment of the set, the base last');
  });

  it('verify that found damage is its own document with ok: false, each failure an error', async () => {
    await createFixture(indexed);
    const dir = scratch.fresh();
    assert.equal((await runShmsnap(['backup', '--to', dir])).status, 0);
    const stage = join(dir, 'ae001100.dat');
    const bytes = await readFile(stage);
    bytes[10]! ^= 1;
    await writeFile(stage, bytes);
    const run = await runShmsnap(['verify', dir, '--json']);
    const verify = validDocument(run, 'shmsnap.verify/1');
    assert.equal(verify.ok, false);
    assert.equal(run.status, 4);
    assert.deepEqual((verify.failures as { object: string; error: { code: string } }[]).map((f) => [f.object, f.error.code]), [['ae001100.dat', 'CHECKSUM_MISMATCH']]);
  });

  it('config', async () => {
    const config = validDocument(await runShmsnap(['config', '--json'], { env: { SHMSNAP_THREADS: '3', SHMSNAP_CONFIG: '' } }), 'shmsnap.config/1');
    const threads = (config.commands as Record<string, { key: string; source: string; value: unknown }[]>).backup!.find((o) => o.key === 'threads');
    assert.deepEqual([threads?.source, threads?.value], ['env', 3]);
  });

  it('plugins', async () => {
    const plugins = validDocument(await runShmsnap(['plugins', '--json'], { env: { SHMSNAP_CONFIG: '', SHMSNAP_PLUGINS: '' } }), 'shmsnap.plugins/1');
    assert.ok((plugins.plugins as { status: string }[]).every((p) => p.status === 'loaded'));
  });

  it('encrypted: backup, ls, verify, rekey, and a wrong key as the error document', async () => {
    await createFixture(indexed);
    const dir = scratch.fresh();
    const keys = scratch.fresh();
    await (await import('node:fs/promises')).mkdir(keys, { recursive: true });
    const [a, b] = [join(keys, 'a.key'), join(keys, 'b.key')];
    await writeFile(a, 'a'.repeat(64), { mode: 0o600 });
    await writeFile(b, 'b'.repeat(64), { mode: 0o600 });
    const backup = validDocument(await runShmsnap(['backup', '--to', dir, '--codec', 'zstd', '--key-file', a, '--json']), 'shmsnap.backup/1');
    assert.equal(backup.encrypted, true);
    const ls = validDocument(await runShmsnap(['ls', dir, '--json']), 'shmsnap.ls/1');
    assert.deepEqual((ls.backups as { encrypted: boolean }[]).map((r) => r.encrypted), [true]);
    validDocument(await runShmsnap(['verify', dir, '--key-file', a, '--json']), 'shmsnap.verify/1');
    const rekey = validDocument(await runShmsnap(['rekey', dir, '--old-key-file', a, '--new-key-file', b, '--json']), 'shmsnap.rekey/1');
    assert.deepEqual(rekey.rekeyed, [backup.manifest]);
    failed(await runShmsnap(['restore', '--from', dir, '--key-file', a, '--json']), 'KEY_MISMATCH', 3);
    failed(await runShmsnap(['restore', '--from', dir, '--json']), 'KEY_REQUIRED', 2);
  });

  it('demo', async () => {
    const demo = validDocument(await runShmsnap(['demo', '--size-mib', '8', '--stages', '2', '--codec', 'zstd', '--json']), 'shmsnap.demo/1');
    assert.deepEqual(demo.codec, { name: 'zstd', level: 1 });
  });
});

describe('every command, --json, on failure: the error document', () => {
  it('usage errors, before anything runs (exit 2)', async () => {
    const missing = failed(await runShmsnap(['backup', '--json']), 'USAGE_INVALID', 2);
    assert.equal(missing.command, 'backup');
    assert.match((missing.error as { message: string }).message, /^--to is required/);
    const misspelled = failed(await runShmsnap(['backup', '--too', '/x', '--json']), 'USAGE_INVALID', 2);
    assert.match((misspelled.error as { message: string }).message, /^unknown option '--too' \(did you mean --to\?\)/);
    failed(await runShmsnap(['restore', '--form', '/x', '--json']), 'USAGE_INVALID', 2);
    failed(await runShmsnap(['verify', '--json']), 'USAGE_INVALID', 2);
    failed(await runShmsnap(['ls', '/x', '--depth', '12', '--json']), 'USAGE_INVALID', 2);
    failed(await runShmsnap(['inspect', '--instance', '16', '--json']), 'USAGE_INVALID', 2);
    failed(await runShmsnap(['clear', '--namespace', 'x', '--json']), 'USAGE_INVALID', 2);
    failed(await runShmsnap(['demo', '--size-mib', '0', '--json']), 'USAGE_INVALID', 2);
    const unknown = failed(await runShmsnap(['bakup', '--json']), 'USAGE_INVALID', 2);
    assert.equal(unknown.command, null);
    assert.match((unknown.error as { message: string }).message, /^unknown command 'bakup' \(did you mean backup\?\)/);
  });

  it('refusals and failures of each command', async () => {
    const missing = join(scratch.root(), 'no', 'such');
    failed(await runShmsnap(['backup', '--to', scratch.fresh(), '--json']), 'NOTHING_SELECTED', 3);
    failed(await runShmsnap(['restore', '--from', missing, '--json']), 'LOCATION_NOT_FOUND', 3);
    failed(await runShmsnap(['verify', missing, '--json']), 'LOCATION_NOT_FOUND', 3);
    failed(await runShmsnap(['ls', missing, '--json']), 'LOCATION_NOT_FOUND', 3);
    failed(await runShmsnap(['inspect', '--namespace', 'nosuch', '--json']), 'NAMESPACE_NOT_FOUND', 3);
    failed(await runShmsnap(['clear', '--instance', '0', '--namespace', 'nosuch', '--json']), 'NAMESPACE_NOT_FOUND', 3);
    failed(await runShmsnap(['demo', '--codec', 'nosuch', '--size-mib', '8', '--json']), 'CODEC_UNKNOWN', 2);
    await createFixture(indexed);
    const refused = failed(await runShmsnap(['clear', '--instance', '0', '--namespace', 'test', '--json']), 'SEGMENT_IN_USE', 3);
    assert.equal(refused.command, 'clear');
  });
});
