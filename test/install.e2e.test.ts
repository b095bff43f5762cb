// The operator's install: `npm run dist`'s artifact installed with
// `npm i -g` into an empty prefix, offline, with no compiler, make or python
// on PATH, then a backup and a restore (raw and zstd) through its bins. And
// what a host where an addon did not install is told: one line, only by the
// commands that need it.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { spawn, spawnSync } = await import('node:child_process');
const { existsSync } = await import('node:fs');
const { mkdir, readFile, rename, rm, symlink, writeFile } = await import('node:fs/promises');
const { join } = await import('node:path');
const { fileURLToPath } = await import('node:url');
const { describe, it, before, after } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { aerospikeKeys, clearSegments, differencesFrom } = await import('./support/shm.js');
const { useScratch } = await import('./support/scratch.js');
const { startAzurite } = await import('shmsnap-sink-azure/testing');

const repo = fileURLToPath(new URL('..', import.meta.url));
// What a production host has: no cc, gcc, g++, c++, make or python3.
const TOOLS = ['node', 'npm', 'sh', 'bash', 'env', 'cat', 'ls', 'mkdir', 'rm', 'cp', 'mv', 'ln', 'chmod', 'uname', 'tar', 'gzip', 'id', 'sed', 'grep', 'dirname', 'readlink'];
const COMPILERS = ['cc', 'gcc', 'g++', 'c++', 'make', 'python3', 'python'];

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}
function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('the installable artifact (npm run dist)', () => {
  const scratch = useScratch('install');
  let env: NodeJS.ProcessEnv = {};
  let prefix = '';
  let installed = '';
  const shmsnap = (...args: string[]): Promise<Run> => run(join(prefix, 'bin', 'shmsnap'), args, env);

  before(async () => {
    const out = join(scratch.root(), 'out');
    const dist = spawnSync(process.execPath, [join(repo, 'scripts', 'dist.mjs'), '--out', out, '--no-cross'], { encoding: 'utf8' });
    assert.equal(dist.status, 0, dist.stderr);
    const artifact = dist.stdout.trim().split('\n').pop()!;
    assert.match(artifact, /shmsnap-\d+\.\d+\.\d+\.tgz$/);

    const bin = join(scratch.root(), 'bin');
    await mkdir(bin);
    for (const tool of TOOLS) {
      const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      if (found) await symlink(found, join(bin, tool));
    }
    prefix = join(scratch.root(), 'prefix');
    env = { PATH: `${join(prefix, 'bin')}:${bin}`, HOME: join(scratch.root(), 'home'), LANG: 'C' };
    for (const compiler of COMPILERS) assert.notEqual(spawnSync('sh', ['-c', `command -v ${compiler}`], { env }).status, 0, `${compiler} is hidden`);
    const install = await run(join(bin, 'npm'), ['install', '--global', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', artifact], env);
    assert.equal(install.status, 0, `npm i -g failed without a compiler: ${install.stdout}${install.stderr}`);
    installed = join(prefix, 'lib', 'node_modules', 'shmsnap', 'node_modules');
  });
  after(clearSegments);

  it('installs the prebuilt addons: nothing was compiled', () => {
    assert.ok(existsSync(join(installed, '@shmsnap', 'shm-native', 'prebuilds', `${process.platform}-${process.arch}`, 'shmsnap_shm.node')));
    assert.equal(existsSync(join(installed, '@shmsnap', 'shm-native', 'build')), false, 'no source build of the shm addon');
    assert.ok(existsSync(join(installed, 'zstd-napi', 'build', 'Release', 'binding.node')));
  });

  it('installs the man page where man finds it', async () => {
    const page = await readFile(join(prefix, 'share', 'man', 'man1', 'shmsnap.1'), 'utf8');
    assert.match(page, /^\.TH SHMSNAP 1 /m);
    for (const command of ['backup', 'restore', 'verify', 'ls', 'inspect', 'clear']) assert.match(page, new RegExp(`shmsnap ${command}\\b`), command);
  });

  it('backs up and restores, raw and zstd, with the installed bins; asmt reads the raw backup', async () => {
    const fixture = await createFixture({ namespaces: [{ name: 'inst', nsid: 1, stages: 2, stageBytes: 1 << 20, treexBytes: 1 << 20 }] });
    try {
      for (const codec of ['none', 'zstd']) {
        const to = join(scratch.root(), `backup-${codec}`);
        const backup = await shmsnap('backup', '--to', to, '--codec', codec);
        assert.equal(backup.status, 0, backup.stderr);
        await fixture.remove();
        const restore = await shmsnap('restore', '--from', to);
        assert.equal(restore.status, 0, restore.stderr);
        assert.deepEqual(await differencesFrom(fixture.segments), [], `restored from ${codec}`);
        const verify = await shmsnap('verify', to);
        assert.equal(verify.status, 0, verify.stderr);
      }
      await fixture.remove();
      const asmt = await run(join(prefix, 'bin', 'asmt'), ['-r', '-p', join(scratch.root(), 'backup-none'), '-n', 'inst'], env);
      assert.equal(asmt.status, 0, asmt.stderr);
      assert.deepEqual(await differencesFrom(fixture.segments), [], 'restored by the installed asmt');
    } finally {
      await fixture.remove();
    }
  });

  it('loads a third-party plugin by its configuration file alone: the Azure sink backs up to and restores from Azurite', async () => {
    // The plugin brings its own copy of @shmsnap/core (the workspace's); the installed CLI has the one it bundles.
    const azurite = await startAzurite();
    const fixture = await createFixture({ namespaces: [{ name: 'plug', nsid: 3, stages: 1, stageBytes: 1 << 20, treexBytes: 1 << 20 }] });
    try {
      await azurite.createContainer('released');
      const config = join(scratch.root(), 'plugin-config.json');
      await writeFile(config, JSON.stringify({ plugins: [join(repo, 'plugins', 'sink-azure')] }));
      const pluginEnv = { ...env, SHMSNAP_CONFIG: config, AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString };
      const to = `azblob://${azurite.accountName}/released/host-1`;
      const plugins = await run(join(prefix, 'bin', 'shmsnap'), ['plugins', '--json'], pluginEnv);
      assert.equal(plugins.status, 0, plugins.stderr);
      const azure = (JSON.parse(plugins.stdout) as { plugins: { name: string; status: string }[] }).plugins.find((p) => p.name === 'shmsnap-sink-azure');
      assert.equal(azure?.status, 'loaded', plugins.stdout);
      const backup = await run(join(prefix, 'bin', 'shmsnap'), ['backup', '--to', to, '--namespace', 'plug'], pluginEnv);
      assert.equal(backup.status, 0, backup.stderr);
      await fixture.remove();
      const restore = await run(join(prefix, 'bin', 'shmsnap'), ['restore', '--from', to, '--namespace', 'plug'], pluginEnv);
      assert.equal(restore.status, 0, restore.stderr);
      assert.deepEqual(await differencesFrom(fixture.segments), [], 'restored from Azure by the installed CLI');
      assert.ok(!`${backup.stderr}${restore.stderr}${plugins.stdout}`.includes(azurite.accountKey), 'the key is never printed');
    } finally {
      await fixture.remove();
      await azurite.stop();
    }
  });

  it('without the zstd addon: --help, ls and verify of a raw backup work; a zstd backup is one ADDON_MISSING line', async () => {
    const binary = join(installed, 'zstd-napi', 'build', 'Release', 'binding.node');
    await rename(binary, `${binary}.gone`);
    try {
      assert.equal((await shmsnap('--help')).status, 0);
      const raw = join(scratch.root(), 'backup-none');
      const ls = await shmsnap('ls', raw);
      assert.equal(ls.status, 0, ls.stderr);
      assert.equal((await shmsnap('verify', raw)).status, 0);
      const fixture = await createFixture({ namespaces: [{ name: 'nozstd', nsid: 2, stages: 1, stageBytes: 1 << 20, treexBytes: 1 << 20 }] });
      try {
        const backup = await shmsnap('backup', '--to', join(scratch.root(), 'no-zstd'), '--codec', 'zstd', '--namespace', 'nozstd');
        assert.equal(backup.status, 1);
        const lines = backup.stderr.trim().split('\n');
        assert.equal(lines.length, 1, backup.stderr);
        assert.match(lines[0]!, /^shmsnap: ADDON_MISSING: the zstd addon \(zstd-napi\) is not installed .*--codec gzip/);
        assert.equal(existsSync(join(scratch.root(), 'no-zstd', 'shmsnap-manifest-i0-n2.json')), false);
      } finally {
        await fixture.remove();
      }
      // Restored by an earlier test, so consumed: without its marker, the addon is what refuses.
      await rm(join(scratch.root(), 'backup-zstd', 'shmsnap-consumed-i0-n1.json'));
      const restore = await shmsnap('restore', '--from', join(scratch.root(), 'backup-zstd'));
      assert.equal(restore.status, 1);
      assert.match(restore.stderr.trim(), /^shmsnap: ADDON_MISSING: the zstd addon/);
      assert.equal(restore.stderr.trim().split('\n').length, 1, restore.stderr);
      assert.deepEqual(aerospikeKeys(), [], 'nothing restored, nothing left');
    } finally {
      await rename(`${binary}.gone`, binary);
    }
  });

  it('without the shm addon: --help and ls work; inspect says what is missing and how to fix it', async () => {
    const prebuilt = join(installed, '@shmsnap', 'shm-native', 'prebuilds');
    await rename(prebuilt, `${prebuilt}.gone`);
    try {
      assert.equal((await shmsnap('--help')).status, 0);
      assert.equal((await shmsnap('ls', join(scratch.root(), 'backup-none'))).status, 0);
      const inspect = await shmsnap('inspect');
      assert.equal(inspect.status, 1);
      const platform = `${process.platform}-${process.arch}`;
      assert.match(inspect.stderr.trim(), new RegExp(`^shmsnap: ADDON_MISSING: the shared-memory addon of @shmsnap/shm-native is not installed .*no prebuilt addon for ${platform}.*python3, make and g\\+\\+`));
      assert.equal(inspect.stderr.trim().split('\n').length, 1, inspect.stderr);
    } finally {
      await rename(`${prebuilt}.gone`, prebuilt);
    }
  });
});
