// Third-party plugins through the built CLI, as an operator loads them: the example sink of docs/writing-a-sink.md
// (docs/examples/shmsnap-sink-dir), installed the way npm would put it (its own node_modules, its own copy of
// @shmsnap/core), loaded by --plugin, by SHMSNAP_PLUGINS and by the configuration file, backing up and restoring
// real shared memory to real files; its own conformance tests run against that installed copy. Plugins that
// cannot load are one line each and break nothing that does not need them; a secret option is never printed.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { execFile } = await import('node:child_process');
const { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } = await import('node:fs/promises');
const { tmpdir } = await import('node:os');
const { join } = await import('node:path');
const { fileURLToPath } = await import('node:url');
const { promisify } = await import('node:util');
const { after, afterEach, before, describe, it } = await import('node:test');
const { Ajv2020 } = await import('ajv/dist/2020.js');
const { PLUGIN_API_VERSION } = await import('@shmsnap/core');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { runShmsnap } = await import('./support/cli.js');
const { clearSegments } = await import('./support/shm.js');
const { useScratch } = await import('./support/scratch.js');

const EXAMPLE = fileURLToPath(new URL('../docs/examples/shmsnap-sink-dir/', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/plugins/', import.meta.url));
const CORE = fileURLToPath(new URL('../packages/core/', import.meta.url));
const SCHEMAS = fileURLToPath(new URL('../packages/cli/schemas/', import.meta.url));

const scratch = useScratch('plugins');
afterEach(clearSegments);

/** A tree like `npm i --prefix <root> shmsnap-sink-dir` leaves: the plugin and its peer, a copy of core's build. */
let prefix = '';
let pluginDir = '';
/** No configuration file and no plugins from the host running the tests. */
const clean = { SHMSNAP_CONFIG: '', SHMSNAP_PLUGINS: '', NODE_PATH: '' };

// Its own directory: the top-level hooks of the scratch helper may not have run yet when this one does.
let installRoot = '';
after(() => rm(installRoot, { recursive: true, force: true }));
before(async () => {
  installRoot = await mkdtemp(join(tmpdir(), 'shmsnap-plugins-install-'));
  prefix = join(installRoot, 'prefix');
  pluginDir = join(prefix, 'node_modules', 'shmsnap-sink-dir');
  await cp(EXAMPLE, pluginDir, { recursive: true });
  const core = join(prefix, 'node_modules', '@shmsnap', 'core');
  await mkdir(core, { recursive: true });
  await cp(join(CORE, 'package.json'), join(core, 'package.json'));
  await cp(join(CORE, 'dist'), join(core, 'dist'), { recursive: true });
});

const fixtureOptions = { owner: { uid: 1234, gid: 0, mode: 0o640 }, namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 1024 * 1024 + 4096, secondary: { stages: 1, stageBytes: 65536 } }] };

function oneLine(text: string): void {
  assert.equal(text.split('\n').filter((line) => line !== '').length, 1, `one line: ${text}`);
  assert.doesNotMatch(text, /^\s+at /m, 'no stack trace');
}

describe('the example sink of docs/writing-a-sink.md', () => {
  it("passes core's conformance kit from its own tests, against its own copy of core", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--test', join(pluginDir, 'test', 'conformance.test.js')], {
      cwd: pluginDir,
      maxBuffer: 1 << 24,
      // Not as a child of this test run (which would change how it reports): as the plugin's author runs it.
      env: Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_TEST_CONTEXT')),
    });
    assert.match(stdout, /# fail 0/);
    assert.match(stdout, /# pass [1-9]/);
  });

  it('loaded by --plugin (a package directory): backup, restore, verify and ls of dir:// locations', async () => {
    const fixture = await createFixture(fixtureOptions);
    const dir = scratch.fresh();
    const to = `dir://${dir}`;
    const backup = await runShmsnap(['backup', '--to', to, '--plugin', pluginDir], { env: clean });
    assert.equal(backup.status, 0, backup.stderr);
    assert.doesNotMatch(backup.stderr, /warning|PLUGIN_INVALID/);
    const files = (await readdir(dir)).sort();
    assert.ok(files.includes('shmsnap-manifest-i0-n1.json') && files.some((f) => f.endsWith('.dat')), files.join(' '));
    assert.ok(!files.some((f) => f.startsWith('.')), 'no temp file left');

    const ls = await runShmsnap(['--plugin', pluginDir, 'ls', to, '--json'], { env: clean });
    assert.equal(ls.status, 0, ls.stderr);
    assert.equal((JSON.parse(ls.stdout) as { backups: unknown[] }).backups.length, 1);

    await fixture.remove();
    const restore = await runShmsnap(['restore', '--from', to, '--plugin', pluginDir], { env: clean });
    assert.equal(restore.status, 0, restore.stderr);
    assert.deepEqual(await fixture.compare(), [], 'every segment restored byte for byte');
    const verify = await runShmsnap(['verify', to, '--plugin', pluginDir], { env: clean });
    assert.equal(verify.status, 0, verify.stderr);
  });

  it('loaded by SHMSNAP_PLUGINS (a package name, found on NODE_PATH), with its option as a flag', async () => {
    await createFixture(fixtureOptions);
    const dir = scratch.fresh();
    const env = { ...clean, SHMSNAP_PLUGINS: 'shmsnap-sink-dir', NODE_PATH: join(prefix, 'node_modules') };
    const help = await runShmsnap(['backup', '--help'], { env });
    assert.match(help.stdout, /DIR options \(an example: a directory, dir:\/\/\/absolute\/path\):/);
    assert.match(help.stdout, /--no-dir-fsync/);
    const backup = await runShmsnap(['backup', '--to', `dir://${dir}`, '--no-dir-fsync'], { env });
    assert.equal(backup.status, 0, backup.stderr);
    const wrongScheme = await runShmsnap(['backup', '--to', scratch.fresh(), '--no-dir-fsync'], { env });
    assert.equal(wrongScheme.status, 2);
    assert.match(wrongScheme.stderr, /^shmsnap: CONFIG_INVALID: --no-dir-fsync: applies only to dir:\/\/ locations, not to \//);
    const plugins = await runShmsnap(['plugins', '--json'], { env });
    const row = (JSON.parse(plugins.stdout) as { plugins: { name: string; from: string; schemes: string[]; options: string[] }[] }).plugins.find((p) => p.name === 'shmsnap-sink-dir');
    assert.deepEqual([row?.from, row?.schemes, row?.options], [join(pluginDir, 'index.js'), ['dir'], ['--dir-fsync']]);
  });

  it('loaded by the configuration file (plugins and pluginPaths)', async () => {
    await createFixture(fixtureOptions);
    const dir = scratch.fresh();
    const config = join(scratch.root(), 'config-plugins.json');
    await writeFile(config, JSON.stringify({ plugins: ['shmsnap-sink-dir'], pluginPaths: [prefix], 'dir-fsync': false }));
    const backup = await runShmsnap(['backup', '--to', `dir://${dir}`, '--json'], { env: { ...clean, SHMSNAP_CONFIG: config } });
    assert.equal(backup.status, 0, backup.stderr);
    assert.equal((JSON.parse(backup.stdout) as { ok: boolean }).ok, true);
    // The same policy on a local backup: its dir setting is for dir:// locations, not an error here.
    const local = await runShmsnap(['backup', '--to', scratch.fresh()], { env: { ...clean, SHMSNAP_CONFIG: config } });
    assert.equal(local.status, 0, local.stderr);
    const shown = await runShmsnap(['config', 'backup'], { env: { ...clean, SHMSNAP_CONFIG: config } });
    assert.match(shown.stdout, /--dir-fsync\s+false\s+file /);
  });

  it('its flags are in the completion scripts and the man page', async () => {
    const bash = await runShmsnap(['--plugin', pluginDir, 'completion', 'bash'], { env: clean });
    assert.equal(bash.status, 0, bash.stderr);
    assert.match(bash.stdout, /--dir-fsync/);
    const man = await runShmsnap(['man', '--plugin', pluginDir], { env: clean });
    assert.match(man.stdout, /dir\\-fsync/, 'roff escapes the hyphen');
    const without = await runShmsnap(['completion', 'bash'], { env: clean });
    assert.doesNotMatch(without.stdout, /--dir-fsync/, 'nothing loads implicitly');
  });
});

describe('a plugin that cannot be loaded', () => {
  it('a wrong API version named by --plugin: one line naming it, its version and both API versions; nothing runs', async () => {
    const path = join(FIXTURES, 'wrong-api.mjs');
    const run = await runShmsnap(['ls', scratch.root(), '--plugin', path], { env: clean });
    assert.equal(run.status, 2);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, `shmsnap: PLUGIN_INVALID: plugin ${path}: shmsnap-sink-future 9.0.0 is built for plugin API version 999; this shmsnap speaks version ${PLUGIN_API_VERSION}\n`);
    const json = await runShmsnap(['ls', scratch.root(), '--plugin', path, '--json'], { env: clean });
    const document = JSON.parse(json.stdout) as { exitStatus: number; error: { code: string; details: { apiVersion: number } } };
    assert.deepEqual([json.status, document.exitStatus, document.error.code, document.error.details.apiVersion], [2, 2, 'PLUGIN_INVALID', 999]);
  });

  it('a missing plugin in SHMSNAP_PLUGINS: one warning line, and a local ls still works; its scheme then gets the error', async () => {
    const env = { ...clean, SHMSNAP_PLUGINS: 'shmsnap-sink-nowhere' };
    const dir = scratch.fresh();
    await mkdir(dir);
    const ls = await runShmsnap(['ls', dir], { env });
    assert.equal(ls.status, 0, ls.stderr);
    oneLine(ls.stderr);
    assert.match(ls.stderr, /^shmsnap: warning: PLUGIN_INVALID: plugin shmsnap-sink-nowhere: not found \(looked in .*node_modules\)\n$/);
    const asked = await runShmsnap(['ls', 'nowhere://x'], { env });
    assert.equal(asked.status, 2);
    assert.match(asked.stderr, /shmsnap: PLUGIN_INVALID: plugin shmsnap-sink-nowhere: not found/);
  });

  it('a plugin throwing on import, named by the configuration file: one line, no stack trace; the rest works', async () => {
    const config = join(scratch.root(), 'config-throws.json');
    // With a key for the options the plugin would have declared: no command has it now, and that is not a second error.
    await writeFile(config, JSON.stringify({ plugins: [join(FIXTURES, 'throws.mjs')], 'acme-bucket': 'b1' }));
    const dir = scratch.fresh();
    await mkdir(dir);
    const ls = await runShmsnap(['ls', dir], { env: { ...clean, SHMSNAP_CONFIG: config } });
    assert.equal(ls.status, 0, ls.stderr);
    oneLine(ls.stderr);
    assert.equal(ls.stderr, `shmsnap: warning: PLUGIN_INVALID: plugin ${join(FIXTURES, 'throws.mjs')}: importing ${join(FIXTURES, 'throws.mjs')} failed: cannot find module @acme/storage-sdk\n`);
  });

  it('shmsnap plugins --json lists loaded and failed plugins, valid against its schema, exit status 2 when one failed', async () => {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    ajv.addSchema(JSON.parse(await readFile(join(SCHEMAS, 'defs.json'), 'utf8')));
    const validate = ajv.compile(JSON.parse(await readFile(join(SCHEMAS, 'plugins.json'), 'utf8')));
    const run = await runShmsnap(['plugins', '--json', '--plugin', pluginDir], { env: { ...clean, SHMSNAP_PLUGINS: join(FIXTURES, 'wrong-api.mjs') } });
    assert.equal(run.stderr, '', 'listed, not warned about');
    const document = JSON.parse(run.stdout) as { ok: boolean; plugins: { name: string | null; status: string; requested: string; error: { code: string } | null }[] };
    assert.ok(validate(document), ajv.errorsText(validate.errors));
    assert.equal(run.status, 2);
    assert.equal(document.ok, false);
    assert.deepEqual(
      document.plugins.map((p) => [p.name, p.status]),
      [['@shmsnap/sink-local', 'loaded'], ['@shmsnap/sink-s3', 'loaded'], ['@shmsnap/core', 'loaded'], ['@shmsnap/codec-gzip', 'loaded'], ['@shmsnap/codec-zstd', 'loaded'], ['shmsnap-sink-dir', 'loaded'], [null, 'failed']],
    );
    assert.equal(document.plugins.at(-1)?.error?.code, 'PLUGIN_INVALID');
    const named = await runShmsnap(['plugins', '--plugin', join(FIXTURES, 'throws.mjs')], { env: clean });
    assert.equal(named.status, 2, 'listed, not fatal, even when named by --plugin');
    assert.match(named.stdout, /throws\.mjs: PLUGIN_INVALID: plugin .*throws\.mjs: importing .* failed: cannot find module @acme\/storage-sdk\n/);
    const fine = await runShmsnap(['plugins', '--json'], { env: clean });
    assert.equal(fine.status, 0);
    assert.ok(validate(JSON.parse(fine.stdout)), ajv.errorsText(validate.errors));
  });
});

describe('a secret option', () => {
  const vault = join(FIXTURES, 'vault-sink.mjs');
  const SECRET = 'hunter2-do-not-print';

  it('is marked in help and never printed by config (text or JSON), errors or --json', async () => {
    const env = { ...clean, SHMSNAP_PLUGINS: vault, VAULT_TOKEN: SECRET };
    const help = await runShmsnap(['ls', '--help'], { env });
    assert.match(help.stdout.replace(/\s+/g, ' '), /--vault-token <value> access token \(env: SHMSNAP_VAULT_TOKEN, VAULT_TOKEN; secret\)/);
    const config = await runShmsnap(['config', 'ls'], { env });
    assert.equal(config.status, 0, config.stderr);
    assert.match(config.stdout, /--vault-token\s+<redacted>\s+env VAULT_TOKEN/);
    const configJson = await runShmsnap(['config', '--json'], { env });
    assert.equal(configJson.status, 0);
    for (const run of [help, config, configJson]) assert.ok(!`${run.stdout}${run.stderr}`.includes(SECRET), 'the secret is not printed');

    const ok = await runShmsnap(['ls', 'vault://x'], { env: { ...env, VAULT_TOKEN: 'open-sesame' } });
    assert.equal(ok.status, 0, ok.stderr);
    const refused = await runShmsnap(['ls', 'vault://x', '--json'], { env });
    assert.equal(refused.status, 2);
    assert.equal((JSON.parse(refused.stdout) as { error: { message: string } }).error.message, 'VAULT_TOKEN: refused by the vault');
    const byFlag = await runShmsnap(['ls', 'vault://x', '--vault-token', SECRET], { env: { ...clean, SHMSNAP_PLUGINS: vault } });
    assert.equal(byFlag.stderr, 'shmsnap: CONFIG_INVALID: --vault-token: refused by the vault\n');
    const misplaced = await runShmsnap(['ls', scratch.root(), '--vault-token', SECRET, '--json'], { env: { ...clean, SHMSNAP_PLUGINS: vault } });
    assert.equal(misplaced.status, 2);
    for (const run of [refused, byFlag, misplaced]) assert.ok(!`${run.stdout}${run.stderr}`.includes(SECRET), 'the secret is not printed');
  });

  it('is refused in the configuration file, without quoting it', async () => {
    const config = join(scratch.root(), 'config-secret.json');
    await writeFile(config, JSON.stringify({ plugins: [vault], 'vault-token': SECRET }));
    const run = await runShmsnap(['ls', 'vault://x'], { env: { ...clean, SHMSNAP_CONFIG: config } });
    assert.equal(run.status, 2);
    assert.equal(run.stderr, `shmsnap: CONFIG_INVALID: ${config}: vault-token: a secret: never in the configuration file; give it in the environment (SHMSNAP_VAULT_TOKEN, VAULT_TOKEN)\n`);
  });
});
