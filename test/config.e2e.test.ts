// One policy for many hosts: the configuration file and SHMSNAP_<OPTION>
// variables, checked on real backups by the built CLI (the codec is visible in
// the files written): flag > environment > file > default; a bad value or key
// is a one-line CONFIG_INVALID with nothing written; `shmsnap config` shows
// where each value comes from, secrets redacted; the S3 options' own
// variables and parsers still apply, and reach the S3 sink from the file.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { readdir, writeFile } = await import('node:fs/promises');
const { join } = await import('node:path');
const { after, afterEach, before, describe, it } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { startFaultProxy, startS3Server } = await import('@shmsnap/sink-s3/testing');
const { useScratch } = await import('./support/scratch.js');
const { runShmsnap } = await import('./support/cli.js');
const { clearSegments } = await import('./support/shm.js');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;

const layout: FixtureOptions = { namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 1024 * 1024 }] };
const scratch = useScratch('config');
afterEach(clearSegments);

/** Writes a configuration file; the environment that points the CLI at it. */
async function withConfig(values: unknown): Promise<{ path: string; env: NodeJS.ProcessEnv }> {
  const path = join(scratch.root(), `config-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(path, typeof values === 'string' ? values : JSON.stringify(values));
  return { path, env: { SHMSNAP_CONFIG: path } };
}

/** The stage files' suffix in `dir`: what codec the backup used. */
async function codecOf(dir: string): Promise<string> {
  const stage = (await readdir(dir)).find((n) => n.startsWith('ae001100'));
  assert.ok(stage, `a stage file in ${dir}`);
  return { '.dat': 'none', '.dat.gz': 'gzip', '.dat.zst': 'zstd' }[stage.slice('ae001100'.length)]!;
}

describe('precedence: flag > environment > file > default', () => {
  it('each layer wins over the ones below it, on a real backup', async () => {
    const fromFile = scratch.fresh();
    const { env } = await withConfig({ to: fromFile, backup: { codec: 'gzip' } });

    await createFixture(layout);
    const file = await runShmsnap(['backup'], { env });
    assert.equal(file.status, 0, file.stderr);
    assert.equal(await codecOf(fromFile), 'gzip', 'the file gave --to (a required option) and the codec');

    await clearSegments();
    await createFixture(layout);
    const envDir = scratch.fresh();
    const fromEnv = await runShmsnap(['backup'], { env: { ...env, SHMSNAP_TO: envDir, SHMSNAP_CODEC: 'zstd' } });
    assert.equal(fromEnv.status, 0, fromEnv.stderr);
    assert.equal(await codecOf(envDir), 'zstd', 'the environment over the file');

    await clearSegments();
    await createFixture(layout);
    const flagDir = scratch.fresh();
    const fromFlag = await runShmsnap(['backup', '--to', flagDir, '--codec', 'none'], { env: { ...env, SHMSNAP_CODEC: 'zstd' } });
    assert.equal(fromFlag.status, 0, fromFlag.stderr);
    assert.equal(await codecOf(flagDir), 'none', 'the flag over the environment');

    await clearSegments();
    await createFixture(layout);
    const plainDir = scratch.fresh();
    const plain = await runShmsnap(['backup', '--to', plainDir], { env: { SHMSNAP_CONFIG: '' } });
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(await codecOf(plainDir), 'none', 'the default without configuration');
  });

  it('output settings too: SHMSNAP_EVENTS=ndjson and "quiet": true', async () => {
    await createFixture(layout);
    const events = await runShmsnap(['backup', '--to', scratch.fresh()], { env: { SHMSNAP_CONFIG: '', SHMSNAP_EVENTS: 'ndjson' } });
    assert.equal(events.status, 0, events.stderr);
    assert.equal(JSON.parse(events.stdout.trim().split('\n').at(-1)!).type, 'result');
    await clearSegments();
    await createFixture(layout);
    const { env } = await withConfig({ quiet: true });
    const quiet = await runShmsnap(['backup', '--to', scratch.fresh()], { env });
    assert.equal(quiet.status, 0, quiet.stderr);
    assert.equal(quiet.stdout + quiet.stderr, '');
  });
});

describe('refusals: one line, CONFIG_INVALID, exit 2, nothing written', () => {
  it('a malformed variable names the variable', async () => {
    await createFixture(layout);
    const dir = scratch.fresh();
    const run = await runShmsnap(['backup', '--to', dir], { env: { SHMSNAP_CONFIG: '', SHMSNAP_THREADS: 'lots' } });
    assert.equal(run.status, 2);
    assert.equal(run.stderr, 'shmsnap: CONFIG_INVALID: SHMSNAP_THREADS: --threads must be a positive integer.\n');
    assert.equal(await readdir(dir).then(() => 'exists', (e: NodeJS.ErrnoException) => e.code), 'ENOENT');
  });

  it("an S3 option's own variable, refused by that option's parser, in the same form", async () => {
    await createFixture(layout);
    const dir = scratch.fresh();
    const run = await runShmsnap(['backup', '--to', dir], { env: { SHMSNAP_CONFIG: '', SHMSNAP_S3_SSE: 'rot13' } });
    assert.equal(run.status, 2);
    assert.equal(run.stderr, 'shmsnap: CONFIG_INVALID: SHMSNAP_S3_SSE: --s3-sse must be AES256 or aws:kms, got "rot13".\n');
    const json = await runShmsnap(['backup', '--to', dir, '--json'], { env: { SHMSNAP_CONFIG: '', SHMSNAP_S3_PART_SIZE_MIB: '0' } });
    assert.equal(json.status, 2);
    assert.equal(JSON.parse(json.stdout).error.message, 'SHMSNAP_S3_PART_SIZE_MIB: --s3-part-size-mib must be a positive integer, got "0".');
    assert.equal(await readdir(dir).then(() => 'exists', (e: NodeJS.ErrnoException) => e.code), 'ENOENT');
  });

  it('an unknown key names the file and the key, in JSON under --json; --help still works', async () => {
    await createFixture(layout);
    const dir = scratch.fresh();
    const { path, env } = await withConfig({ threads: 2, 'max-agee': '12h' });
    const run = await runShmsnap(['backup', '--to', dir], { env });
    assert.equal(run.status, 2);
    assert.match(run.stderr, new RegExp(`^shmsnap: CONFIG_INVALID: ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: max-agee: unknown key[^\\n]*\\n$`));
    const json = await runShmsnap(['verify', dir, '--json'], { env });
    assert.equal(json.status, 2);
    assert.deepEqual(
      (({ code, details }) => ({ code, key: details.key }))(JSON.parse(json.stdout).error),
      { code: 'CONFIG_INVALID', key: 'max-agee' },
    );
    const help = await runShmsnap(['backup', '--help'], { env });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Usage: shmsnap backup/);
    assert.equal(await readdir(dir).then(() => 'exists', (e: NodeJS.ErrnoException) => e.code), 'ENOENT');
  });

  it('a bad value for another command is found by whatever command runs', async () => {
    const { path, env } = await withConfig({ restore: { 'max-age': 'yesterday' } });
    const run = await runShmsnap(['inspect'], { env });
    assert.equal(run.status, 2);
    assert.equal(run.stderr, `shmsnap: CONFIG_INVALID: ${path}: restore.max-age: 'yesterday' is not a duration like 90s, 30m, 12h, 7d or 1h30m.\n`);
  });

  it('SHMSNAP_CONFIG naming a file that is not there', async () => {
    const run = await runShmsnap(['inspect'], { env: { SHMSNAP_CONFIG: '/nonexistent/shmsnap.json' } });
    assert.equal(run.status, 2);
    assert.equal(run.stderr, 'shmsnap: CONFIG_INVALID: SHMSNAP_CONFIG=/nonexistent/shmsnap.json: no such file\n');
  });
});

describe('shmsnap config', () => {
  it('shows each value and where it comes from; credentials redacted', async () => {
    const { path, env } = await withConfig({ threads: 3, restore: { 'max-age': '12h' }, 's3-endpoint': 'https://key:hunter2@minio.internal:9000' });
    const run = await runShmsnap(['config', 'restore'], {
      env: { ...env, SHMSNAP_INSTANCE: '2', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI', AWS_SESSION_TOKEN: 'FwoGZXIvYXdz', AWS_REGION: 'eu-west-1' },
    });
    assert.equal(run.status, 0, run.stderr);
    const row = (flag: string) => run.stdout.split('\n').find((l) => l.trim().startsWith(`${flag} `))?.trim().split(/\s{2,}/);
    assert.deepEqual(row('--threads')?.slice(0, 3), ['--threads', '3', `file ${path}: threads`]);
    assert.deepEqual(row('--max-age')?.slice(0, 3), ['--max-age', '12h', `file ${path}: restore.max-age`]);
    assert.deepEqual(row('--instance')?.slice(0, 3), ['--instance', '2', 'env SHMSNAP_INSTANCE']);
    assert.deepEqual(row('--progress-interval')?.slice(0, 3), ['--progress-interval', '5s', 'default']);
    assert.match(run.stdout, /^configuration file: .* \(from SHMSNAP_CONFIG\)$/m);
    assert.match(run.stdout, /https:\/\/<redacted>@minio\.internal:9000/);
    assert.match(run.stdout, /AWS_SECRET_ACCESS_KEY +<redacted>/);
    assert.match(run.stdout, /AWS_REGION +eu-west-1/);
    for (const secret of ['hunter2', 'wJalrXUtnFEMI', 'FwoGZXIvYXdz']) assert.ok(!run.stdout.includes(secret), `${secret} is not printed`);
    assert.doesNotMatch(run.stdout, /^backup:/m, 'only the command asked for');

    const json = await runShmsnap(['config', '--json'], { env: { ...env, AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI' } });
    assert.equal(json.status, 0, json.stderr);
    const document = JSON.parse(json.stdout);
    assert.equal(document.schema, 'shmsnap.config/1');
    const threads = document.commands.backup.find((o: { key: string }) => o.key === 'threads');
    assert.deepEqual([threads.value, threads.source, threads.env], [3, 'file', ['SHMSNAP_THREADS']]);
    assert.ok(document.commands.demo, 'every command');
    assert.equal(document.environment.AWS_SECRET_ACCESS_KEY, '<redacted>');
    assert.ok(!json.stdout.includes('hunter2') && !json.stdout.includes('wJalrXUtnFEMI'));
  });

  it('reports a broken configuration as every command would', async () => {
    const run = await runShmsnap(['config'], { env: { SHMSNAP_CONFIG: '', SHMSNAP_S3_PART_SIZE_MIB: 'big' } });
    assert.equal(run.status, 2);
    assert.equal(run.stderr, 'shmsnap: CONFIG_INVALID: SHMSNAP_S3_PART_SIZE_MIB: --s3-part-size-mib must be a positive integer, got "big".\n');
  });
});

describe('the S3 options through the configuration', () => {
  const BUCKET = 'shmsnap-config';
  const credentials = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
  let server: Awaited<ReturnType<typeof startS3Server>>;
  before(async () => {
    server = await startS3Server({ buckets: [BUCKET] });
  });
  after(async () => {
    await server.stop();
  });

  it('endpoint and part size from the file, upload concurrency from its SHMSNAP_S3_ variable, reach the S3 sink', async () => {
    await createFixture({ namespaces: [{ name: 'test', nsid: 1, stages: 1, stageBytes: 12 * 1024 * 1024 }] });
    const proxy = await startFaultProxy(server.endpoint);
    try {
      const { env } = await withConfig({ 's3-endpoint': proxy.endpoint, backup: { 's3-part-size-mib': 5 } });
      const run = await runShmsnap(['backup', '--to', `s3://${BUCKET}/policy`, '--json'], { env: { ...credentials, ...env, SHMSNAP_S3_UPLOAD_CONCURRENCY: '1' } });
      assert.equal(run.status, 0, run.stderr);
      // 12 MiB in parts of 5 MiB: 3 parts (the default 8 MiB would make 2), through the endpoint the file named.
      const parts = proxy.log.filter((r) => r.method === 'PUT' && r.query.has('partNumber') && r.path.includes('ae001100'));
      assert.equal(parts.length, 3, proxy.log.map((r) => `${r.method} ${r.path}?${r.query}`).join('\n'));
    } finally {
      await proxy.stop();
    }
  });
});
