// The Azure sink as an operator gets it: a package the CLI has no code for (plugins/sink-azure), loaded only by
// --plugin or the configuration file, backing up real shared memory to Azurite (Microsoft's Blob emulator, started
// here on 127.0.0.1 and stopped by PID) and restoring it byte for byte. Credentials come from the standard Azure
// variable and are never printed; a wrong key and a missing container are one line each.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { mkdir, writeFile } = await import('node:fs/promises');
const { join } = await import('node:path');
const { fileURLToPath } = await import('node:url');
const { after, afterEach, before, describe, it } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { startAzurite } = await import('shmsnap-sink-azure/testing');
const { runShmsnap } = await import('./support/cli.js');
const { clearSegments } = await import('./support/shm.js');
const { useScratch } = await import('./support/scratch.js');

type Azurite = Awaited<ReturnType<typeof startAzurite>>;

const PLUGIN_DIR = fileURLToPath(new URL('../plugins/sink-azure/', import.meta.url));
/** A directory holding node_modules/shmsnap-sink-azure (this package's own dependency): a `pluginPaths` entry. */
const TEST_DIR = fileURLToPath(new URL('.', import.meta.url));
const CONTAINER = 'backups';

const scratch = useScratch('azure-plugin');
afterEach(clearSegments);

let azurite: Azurite;
before(async () => {
  azurite = await startAzurite();
  await azurite.createContainer(CONTAINER);
});
after(() => azurite?.stop());

const fixtureOptions = { owner: { uid: 1234, gid: 0, mode: 0o640 }, namespaces: [{ name: 'az', nsid: 1, stages: 2, stageBytes: 3 * 1024 * 1024 + 4096, secondary: { stages: 1, stageBytes: 65536 } }] };

/** No configuration file or plugins of the host; the account key only in the standard Azure variable. */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { SHMSNAP_CONFIG: '', SHMSNAP_PLUGINS: '', NODE_PATH: '', AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString, ...extra };
}

function noSecret(...texts: string[]): void {
  for (const text of texts) assert.ok(!text.includes(azurite.accountKey), `the account key was printed: ${text}`);
}

function oneLine(text: string): void {
  assert.equal(text.split('\n').filter((line) => line !== '').length, 1, `one line: ${text}`);
  assert.doesNotMatch(text, /^\s+at /m, 'no stack trace');
}

describe('shmsnap-sink-azure through the CLI', () => {
  it('--plugin <dir>: backup, ls, restore byte for byte, verify of an azblob:// location', async () => {
    const fixture = await createFixture(fixtureOptions);
    const to = `azblob://${azurite.accountName}/${CONTAINER}/node-a`;
    const backup = await runShmsnap(['--plugin', PLUGIN_DIR, 'backup', '--to', to, '--codec', 'zstd', '--azblob-block-size-mib', '1'], { env: env() });
    assert.equal(backup.status, 0, backup.stderr);
    const ls = await runShmsnap(['--plugin', PLUGIN_DIR, 'ls', to, '--json'], { env: env() });
    assert.equal(ls.status, 0, ls.stderr);
    const listed = JSON.parse(ls.stdout) as { backups: { complete?: boolean; status?: string }[] };
    assert.equal(listed.backups.length, 1, ls.stdout);
    await fixture.remove();
    const restore = await runShmsnap(['restore', '--from', to, '--plugin', PLUGIN_DIR], { env: env() });
    assert.equal(restore.status, 0, restore.stderr);
    assert.deepEqual(await fixture.compare(), [], 'every segment restored byte for byte');
    const verify = await runShmsnap(['verify', to, '--plugin', PLUGIN_DIR], { env: env() });
    assert.equal(verify.status, 0, verify.stderr);
    noSecret(backup.stdout, backup.stderr, ls.stdout, restore.stdout, restore.stderr, verify.stdout);
  });

  it('by the configuration file alone (plugins, pluginPaths, a block size); plugins lists it', async () => {
    const fixture = await createFixture(fixtureOptions);
    const dir = scratch.fresh();
    await mkdir(dir, { recursive: true });
    const config = join(dir, 'config.json');
    await writeFile(config, JSON.stringify({ plugins: ['shmsnap-sink-azure'], pluginPaths: [TEST_DIR], 'azblob-block-size-mib': 2 }));
    const to = `azblob://${azurite.accountName}/${CONTAINER}/node-b`;
    const backup = await runShmsnap(['backup', '--to', to], { env: env({ SHMSNAP_CONFIG: config }) });
    assert.equal(backup.status, 0, backup.stderr);
    assert.doesNotMatch(backup.stderr, /warning/);
    await fixture.remove();
    const restore = await runShmsnap(['restore', '--from', to], { env: env({ SHMSNAP_CONFIG: config }) });
    assert.equal(restore.status, 0, restore.stderr);
    assert.deepEqual(await fixture.compare(), []);
    const plugins = await runShmsnap(['plugins', '--json'], { env: env({ SHMSNAP_CONFIG: config }) });
    assert.equal(plugins.status, 0, plugins.stderr);
    const azure = (JSON.parse(plugins.stdout) as { plugins: { name: string; schemes: string[]; status: string }[] }).plugins.find((p) => p.name === 'shmsnap-sink-azure');
    assert.ok(azure, plugins.stdout);
    assert.deepEqual(azure.schemes, ['azblob']);
    assert.equal(azure.status, 'loaded');
    const config2 = await runShmsnap(['config'], { env: env({ SHMSNAP_CONFIG: config, SHMSNAP_AZBLOB_CONNECTION_STRING: azurite.connectionString }) });
    noSecret(backup.stderr, restore.stderr, plugins.stdout, config2.stdout, config2.stderr);
  });

  it('a wrong account key: one line, exit 1, nothing written, the key not shown', async () => {
    await createFixture(fixtureOptions);
    const wrong = azurite.connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${Buffer.alloc(64, 7).toString('base64')}`);
    const to = `azblob://${azurite.accountName}/${CONTAINER}/node-c`;
    const backup = await runShmsnap(['--plugin', PLUGIN_DIR, 'backup', '--to', to], { env: env({ AZURE_STORAGE_CONNECTION_STRING: wrong }) });
    assert.equal(backup.status, 1, backup.stderr);
    oneLine(backup.stderr);
    assert.match(backup.stderr, /PERMISSION_DENIED/);
    assert.ok(!backup.stderr.includes(Buffer.alloc(64, 7).toString('base64')), backup.stderr);
    const ls = await runShmsnap(['--plugin', PLUGIN_DIR, 'ls', to, '--json'], { env: env() });
    assert.equal(ls.status, 0, ls.stderr);
    assert.deepEqual((JSON.parse(ls.stdout) as { backups: unknown[] }).backups, [], 'nothing was written');
  });

  it('a missing container: one line naming it, exit 3', async () => {
    await createFixture(fixtureOptions);
    const backup = await runShmsnap(['--plugin', PLUGIN_DIR, 'backup', '--to', `azblob://${azurite.accountName}/no-such-container/x`], { env: env() });
    assert.equal(backup.status, 3, backup.stderr);
    oneLine(backup.stderr);
    assert.match(backup.stderr, /LOCATION_NOT_FOUND/);
    assert.match(backup.stderr, /no-such-container/);
  });

  it('without the plugin, an azblob:// location is an unknown scheme (exit 2), and local backups are unaffected', async () => {
    const run = await runShmsnap(['ls', `azblob://${azurite.accountName}/${CONTAINER}/node-a`], { env: env() });
    assert.equal(run.status, 2, run.stderr);
    oneLine(run.stderr);
    assert.match(run.stderr, /azblob/);
  });
});
