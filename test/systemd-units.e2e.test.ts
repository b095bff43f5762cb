// `shmsnap systemd print|install` as an operator runs them: the generated
// units pass `systemd-analyze verify` (beside a stub aerospike.service, for
// both policies and a location systemd would split or expand), install
// writes atomically and refuses to replace a different unit without
// --force, and only what the operator typed is carried into the unit
// (plugins and paths made absolute, secrets refused).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { parseExecLine, unitSettings } from '@shmsnap/core';
import { runShmsnap, SHMSNAP_BIN } from './support/cli.js';
import { useScratch } from './support/scratch.js';

const scratch = useScratch('systemd-units');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const AZURE_PLUGIN = fileURLToPath(new URL('../plugins/sink-azure/', import.meta.url));
/** No configuration file of the host's. */
const env = () => ({ SHMSNAP_CONFIG: '' });

/** systemd-analyze verify on `units` in a directory of their own, with a stub asd unit; its status and everything it printed. */
async function verify(units: Record<string, string>): Promise<{ status: number; output: string }> {
  const dir = scratch.fresh();
  await mkdir(dir);
  await writeFile(join(dir, 'aerospike.service'), '[Unit]\nDescription=stub asd\n[Service]\nExecStart=/bin/true\n');
  for (const [name, text] of Object.entries(units)) await writeFile(join(dir, name), text);
  try {
    const { stdout, stderr } = await promisify(execFile)(SYSTEMD_ANALYZE, ['verify', '--man=no', ...Object.keys(units).map((n) => join(dir, n))], { env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` }, cwd: dir });
    return { status: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { status: e.code ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

async function print(...args: string[]): Promise<string> {
  const run = await runShmsnap(['systemd', 'print', ...args], { env: env() });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stderr, '');
  return run.stdout;
}

describe('systemd-analyze verify', () => {
  it('passes the units of both policies, with a location holding spaces, % and $', async (t) => {
    if (!existsSync(SYSTEMD_ANALYZE)) return t.skip(`${SYSTEMD_ANALYZE} is missing (apt-get install systemd): the units are not verified`);
    const location = join(scratch.root(), 'back ups', '100%', '$HOME');
    for (const policy of ['cold', 'keep-stopped']) {
      const text = await print('--location', location, '--on-restore-failure', policy, '--codec', 'zstd', '--threads', '4', '--max-age', '12h', '--timeout-stop', '2h');
      const result = await verify({ 'shmsnap-warm-restart.service': text });
      assert.deepEqual(result, { status: 0, output: '' }, `${policy}:\n${text}`);
      const start = parseExecLine(unitSettings(text, 'ExecStart')[0]!);
      assert.deepEqual(start.argv, [process.execPath, SHMSNAP_BIN, 'systemd', 'boot-restore', '--location', location, '--instance', '0', '--on-restore-failure', policy, '--threads', '4', '--max-age', '12h']);
      const stop = parseExecLine(unitSettings(text, 'ExecStop')[0]!);
      assert.deepEqual(stop.argv, [process.execPath, SHMSNAP_BIN, 'backup', '--to', `${location}/{host}/{instance}/{timestamp}`, '--instance', '0', '--codec', 'zstd', '--threads', '4']);
      assert.deepEqual(unitSettings(text, 'RequiresMountsFor'), [`"${location.replaceAll('%', '%%')}"`]);
    }
  });

  it('fails a unit whose command does not exist (the check can fail)', async (t) => {
    if (!existsSync(SYSTEMD_ANALYZE)) return t.skip(`${SYSTEMD_ANALYZE} is missing: nothing to check`);
    const text = await print('--location', 's3://bucket/aerospike', '--shmsnap-bin', '/nonexistent/shmsnap', '--s3-endpoint', 'http://127.0.0.1:9000');
    const result = await verify({ 'shmsnap-warm-restart.service': text });
    assert.notEqual(result.status, 0);
    assert.match(result.output, /Command \/nonexistent\/shmsnap is not executable/);
  });
});

describe('systemd print', () => {
  it('carries only typed flags, plugins and absolute paths; a relative location becomes absolute', async () => {
    const cwd = scratch.fresh();
    await mkdir(cwd);
    const run = await runShmsnap(['--plugin', AZURE_PLUGIN, 'systemd', 'print', '--location', 'rel/backups', '--asd-pid-file', 'asd.pid', '--config-file', 'conf.json', '--instance', '2', '--asd-unit', 'aerospike-b.service'], { env: env(), cwd });
    assert.equal(run.status, 0, run.stderr);
    const start = parseExecLine(unitSettings(run.stdout, 'ExecStart')[0]!).argv;
    assert.deepEqual(start.slice(2), ['systemd', 'boot-restore', '--location', join(cwd, 'rel/backups'), '--instance', '2', '--on-restore-failure', 'cold', '--asd-unit', 'aerospike-b.service', '--asd-pid-file', join(cwd, 'asd.pid'), '--plugin', AZURE_PLUGIN.replace(/\/$/, '')]);
    assert.deepEqual(unitSettings(run.stdout, 'Environment'), [`"SHMSNAP_CONFIG=${join(cwd, 'conf.json')}"`]);
    assert.deepEqual(unitSettings(run.stdout, 'Before'), ['aerospike-b.service']);
    assert.match(run.stdout, /^# shmsnap-warm-restart-i2\.service: generated by shmsnap /);
  });

  it('refuses a secret in the unit, --allow-running-asd, a template without {timestamp}, a relative --shmsnap-bin', async () => {
    const secret = await runShmsnap(['--plugin', AZURE_PLUGIN, 'systemd', 'print', '--location', 'azblob://c/p', '--azblob-account-key', 'c2VjcmV0'], { env: env() });
    assert.equal(secret.status, 2);
    assert.match(secret.stderr, /^shmsnap: CONFIG_INVALID: .*--azblob-account-key is secret and a unit file is readable by every user: put it in an --environment-file \(SHMSNAP_AZBLOB_ACCOUNT_KEY=\.\.\.\)\n$/);
    assert.equal(secret.stdout, '', 'nothing printed');
    const running = await runShmsnap(['systemd', 'print', '--location', '/b', '--allow-running-asd'], { env: env() });
    assert.equal(running.status, 2);
    assert.match(running.stderr, /^shmsnap: CONFIG_INVALID: --allow-running-asd: a unit never backs up or restores beside a running asd\n$/);
    const template = await runShmsnap(['systemd', 'print', '--location', '/b/{host}'], { env: env() });
    assert.equal(template.status, 2);
    assert.match(template.stderr, /must end in a directory named by \{timestamp\}/);
    const bin = await runShmsnap(['systemd', 'print', '--location', '/b', '--shmsnap-bin', 'shmsnap'], { env: env() });
    assert.equal(bin.status, 2);
    assert.match(bin.stderr, /--shmsnap-bin: 'shmsnap' must be an absolute path/);
    const action = await runShmsnap(['systemd', 'enable', '--location', '/b'], { env: env() });
    assert.equal(action.status, 2);
    assert.match(action.stderr, /USAGE_INVALID/);
  });
});

describe('systemd install', () => {
  it('writes the unit atomically, leaves an identical one alone, refuses a different one without --force', async () => {
    const dir = scratch.fresh();
    await mkdir(dir);
    const args = ['systemd', 'install', '--unit-dir', dir, '--location', '/var/backups/aerospike'];
    const dry = await runShmsnap([...args, '--dry-run'], { env: env() });
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`dry run: would write ${dir}/shmsnap-warm-restart\\.service; nothing was written\\n$`));
    assert.deepEqual(await readdir(dir), []);

    const first = await runShmsnap(args, { env: env() });
    assert.equal(first.status, 0, first.stderr);
    const path = join(dir, 'shmsnap-warm-restart.service');
    assert.equal(first.stdout, `systemd: wrote ${path}\nsystemd: now: systemctl daemon-reload && systemctl enable shmsnap-warm-restart.service\n`);
    assert.equal(await readFile(path, 'utf8'), await print('--location', '/var/backups/aerospike'));
    assert.equal((await stat(path)).mode & 0o777, 0o644);
    assert.deepEqual(await readdir(dir), ['shmsnap-warm-restart.service'], 'no temp file left');

    const same = await runShmsnap(args, { env: env() });
    assert.equal(same.status, 0);
    assert.match(same.stdout, /is already this unit; nothing written/);

    const before = await readFile(path, 'utf8');
    const other = await runShmsnap([...args, '--on-restore-failure', 'keep-stopped'], { env: env() });
    assert.equal(other.status, 3);
    assert.equal(other.stderr, `shmsnap: OBJECT_EXISTS: ${path} already exists in ${dir} with other content (--force replaces it; --dry-run shows the new unit); refusing to overwrite it\n`);
    assert.equal(await readFile(path, 'utf8'), before, 'unchanged');

    const forced = await runShmsnap([...args, '--on-restore-failure', 'keep-stopped', '--force'], { env: env() });
    assert.equal(forced.status, 0, forced.stderr);
    assert.deepEqual(unitSettings(await readFile(path, 'utf8'), 'RequiredBy'), ['aerospike.service']);
    assert.deepEqual(await readdir(dir), ['shmsnap-warm-restart.service']);
  });

  it('refuses a unit directory that is not there', async () => {
    const missing = join(scratch.root(), 'no-such-dir');
    const run = await runShmsnap(['systemd', 'install', '--unit-dir', missing, '--location', '/b'], { env: env() });
    assert.equal(run.status, 2);
    assert.equal(run.stderr, `shmsnap: CONFIG_INVALID: --unit-dir: ${missing} is not a directory\n`);
    assert.equal(existsSync(missing), false);
  });
});
