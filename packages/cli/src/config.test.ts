// The configuration file and SHMSNAP_<OPTION> variables: how each option's
// value is resolved (flag > environment > file > default), parsed by the
// option's own parser, and refused with a one-line CONFIG_INVALID naming where.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Command } from 'commander';
import { createDefaultRegistry } from './default-registry.js';
import { configurableOptions, loadSettings, readConfigFile, redact, resolveOptions, type ConfigFile } from './config.js';
import { createProgram } from './program.js';
import { sinkRequest } from './sink-options.js';

const dir = mkdtempSync(join(tmpdir(), 'shmsnap-config-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

function configFile(content: unknown): string {
  const path = join(dir, `c${++counter}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const lastFile = (): string => join(dir, `c${counter}.json`);

function program(): Command {
  return createProgram({ registry: createDefaultRegistry(), streams: { stdout: process.stdout, stderr: process.stderr }, setExit: () => undefined });
}

function command(name: string): { program: Command; command: Command } {
  const p = program();
  return { program: p, command: p.commands.find((c) => c.name() === name)! };
}

const file = (values: Record<string, unknown>): ConfigFile => ({ path: '/etc/shmsnap/config.json', fromEnv: false, present: true, values });

function valueOf(name: string, key: string, f: ConfigFile, env: NodeJS.ProcessEnv = {}) {
  const resolved = resolveOptions(command(name).command, f, env);
  assert.deepEqual(resolved.problems, []);
  return resolved.options.find((o) => o.key === key)!;
}

describe('which options, under which names', () => {
  it('every option of every command but help, keyed by its flag, with SHMSNAP_<KEY> first', () => {
    const backup = configurableOptions(command('backup').command);
    const keys = backup.map((o) => o.key);
    for (const key of ['to', 'instance', 'namespace', 'codec', 'level', 'threads', 'dry-run', 'json', 'quiet', 'progress', 'progress-interval', 'events', 's3-part-size-mib', 's3-sse']) {
      assert.ok(keys.includes(key), `backup has ${key}`);
    }
    assert.ok(!keys.includes('help'));
    const env = Object.fromEntries(backup.map((o) => [o.key, o.envVars]));
    assert.deepEqual(env.threads, ['SHMSNAP_THREADS']);
    assert.deepEqual(env['max-age'], undefined);
    assert.deepEqual(env.progress, ['SHMSNAP_PROGRESS'], '--no-progress is the progress value');
    // The S3 options' own variables are kept: one SHMSNAP_ name each, and AWS's standard ones where they have one.
    assert.deepEqual(env['s3-part-size-mib'], ['SHMSNAP_S3_PART_SIZE_MIB']);
    // AWS_PROFILE is the S3 client's (read with the profile's files), not an option's variable.
    assert.deepEqual(env['s3-profile'], ['SHMSNAP_S3_PROFILE']);
    assert.deepEqual(env['s3-endpoint'], ['SHMSNAP_S3_ENDPOINT'], 'AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL are the S3 client\'s');
    assert.deepEqual(configurableOptions(command('restore').command).find((o) => o.key === 'max-age')?.envVars, ['SHMSNAP_MAX_AGE']);
  });
});

describe('resolving a value', () => {
  it('environment over a command section over the top level over the default', () => {
    assert.equal(valueOf('backup', 'threads', file({})).value, valueOf('backup', 'threads', file({})).option.defaultValue);
    assert.equal(valueOf('backup', 'threads', file({})).source, 'default');
    assert.deepEqual(
      (({ value, source, origin }) => ({ value, source, origin }))(valueOf('backup', 'threads', file({ threads: 3 }))),
      { value: 3, source: 'file', origin: '/etc/shmsnap/config.json: threads' },
    );
    assert.equal(valueOf('backup', 'threads', file({ threads: 3, backup: { threads: 5 } })).value, 5);
    assert.equal(valueOf('restore', 'threads', file({ threads: 3, backup: { threads: 5 } })).value, 3, 'a section applies to its command only');
    const env = valueOf('backup', 'threads', file({ threads: 3, backup: { threads: 5 } }), { SHMSNAP_THREADS: '7' });
    assert.deepEqual([env.value, env.source, env.origin], [7, 'env', 'SHMSNAP_THREADS']);
    assert.equal(valueOf('backup', 'threads', file({ threads: 3 }), { SHMSNAP_THREADS: '' }).value, 3, 'an empty variable is unset');
  });

  it("parses as the flag does: durations, lists, choices, the S3 options' parsers", () => {
    assert.equal(valueOf('restore', 'max-age', file({ 'max-age': '1h30m' })).value, 5_400_000);
    assert.deepEqual(valueOf('backup', 'namespace', file({ namespace: ['test', 'bar'] })).value, ['test', 'bar']);
    assert.deepEqual(valueOf('backup', 'namespace', file({}), { SHMSNAP_NAMESPACE: 'a,b' }).value, ['a', 'b']);
    assert.equal(valueOf('backup', 's3-part-size-mib', file({ 's3-part-size-mib': 16 })).value, 16);
    assert.equal(valueOf('backup', 's3-sse', file({}), { SHMSNAP_S3_SSE: 'aws:kms' }).value, 'aws:kms');
    assert.equal(valueOf('backup', 'progress-interval', file({ 'progress-interval': '2s' })).value, 2000);
  });

  it('booleans: true/false in the file; true, false, 1 or 0 in the environment (false is false)', () => {
    assert.equal(valueOf('backup', 'progress', file({ progress: false })).value, false);
    assert.equal(valueOf('backup', 'progress', file({})).value, true, '--no-progress: on unless given');
    for (const [text, value] of [['false', false], ['0', false], ['true', true], ['1', true], ['FALSE', false]] as const) {
      assert.equal(valueOf('backup', 's3-path-style', file({}), { SHMSNAP_S3_PATH_STYLE: text }).value, value, text);
      assert.equal(valueOf('backup', 'quiet', file({}), { SHMSNAP_QUIET: text }).value, value, text);
    }
  });

  it('the SHMSNAP_ name of an S3 option; AWS_PROFILE stays the S3 client\'s own', () => {
    const both = valueOf('backup', 's3-profile', file({}), { AWS_PROFILE: 'aws', SHMSNAP_S3_PROFILE: 'ours' });
    assert.deepEqual([both.value, both.origin], ['ours', 'SHMSNAP_S3_PROFILE']);
    assert.equal(valueOf('backup', 's3-profile', file({}), { AWS_PROFILE: 'aws' }).source, 'default');
  });
});

describe('refusing', () => {
  const problemsOf = (values: Record<string, unknown> | string, env: NodeJS.ProcessEnv = {}, name = 'backup') => {
    const { program: p, command: c } = command(name);
    return loadSettings(p, c, { SHMSNAP_CONFIG: configFile(values), ...env }).problems.map((e): [string, string] => [e.code, e.message]);
  };

  it('a bad value, naming the variable or the file and key, in the words of the flag', () => {
    assert.deepEqual(problemsOf({}, { SHMSNAP_THREADS: '0' }), [['CONFIG_INVALID', 'SHMSNAP_THREADS: --threads must be between 1 and 1024.']]);
    assert.deepEqual(problemsOf({}, { SHMSNAP_CODEC: 'lz4' }), [['CONFIG_INVALID', 'SHMSNAP_CODEC: Allowed choices are none, gzip, zstd.']]);
    assert.deepEqual(problemsOf({}, { SHMSNAP_S3_PART_SIZE_MIB: 'abc' }), [['CONFIG_INVALID', 'SHMSNAP_S3_PART_SIZE_MIB: --s3-part-size-mib must be a positive integer, got "abc".']]);
    assert.deepEqual(problemsOf({}, { SHMSNAP_DRY_RUN: 'yes please' }), [['CONFIG_INVALID', 'SHMSNAP_DRY_RUN: must be true, false, 1, 0, yes or no, got "yes please"']]);
    assert.deepEqual(problemsOf({ restore: { 'max-age': 'soon' } }), [['CONFIG_INVALID', `${lastFile()}: restore.max-age: 'soon' is not a duration like 90s, 30m, 12h, 7d or 1h30m.`]], 'checked whatever command runs');
    assert.deepEqual(problemsOf({ 'dry-run': 'yes' }), [['CONFIG_INVALID', `${lastFile()}: dry-run: expected true or false, got "yes"`]]);
  });

  it('a key shared by several commands is one problem', () => {
    assert.equal(problemsOf({ threads: 'many' }).length, 1);
  });

  it('unknown keys, keys a command does not have, a section that is not an object, credentials', () => {
    const [unknown] = problemsOf({ thread: 4 });
    assert.match(unknown![1], /c\d+\.json: thread: unknown key: neither an option/);
    assert.match(problemsOf({ backup: { 'max-age': '1h' } })[0]![1], /c\d+\.json: backup\.max-age: not an option of shmsnap backup$/);
    assert.match(problemsOf({ restore: 4 })[0]![1], /c\d+\.json: restore: must be an object of options for shmsnap restore$/);
    assert.match(problemsOf({ 's3-secret-access-key': 'x' })[0]![1], /s3-secret-access-key: credentials are never read from shmsnap's configuration/);
  });

  it('a file that is not JSON, not an object, not there (when named), or unreadable', () => {
    assert.match(problemsOf('{ "threads": 4, }')[0]![1], /c\d+\.json: not valid JSON \(/);
    assert.match(problemsOf('[1]')[0]![1], /c\d+\.json: must hold a JSON object of option keys$/);
    assert.deepEqual(readConfigFile({ SHMSNAP_CONFIG: join(dir, 'absent.json') }).problem?.message, `SHMSNAP_CONFIG=${join(dir, 'absent.json')}: no such file`);
    assert.equal(readConfigFile({ SHMSNAP_CONFIG: dir }).problem?.message, `SHMSNAP_CONFIG=${dir}: a directory, not a file`);
    assert.deepEqual(readConfigFile({ SHMSNAP_CONFIG: '' }), { file: { path: null, fromEnv: true, present: false, values: {} } }, 'empty: no file');
  });
});

describe('applied to a run', () => {
  async function flagsOf(args: string[], env: NodeJS.ProcessEnv): Promise<{ flags: Record<string, unknown>; sources: Record<string, string | undefined> }> {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const p = program();
      const backup = p.commands.find((c) => c.name() === 'backup')!;
      let seen: { flags: Record<string, unknown>; sources: Record<string, string | undefined> } | undefined;
      backup.action((flags: Record<string, unknown>) => {
        seen = { flags, sources: Object.fromEntries(Object.keys(flags).map((k) => [k, backup.getOptionValueSource(k)])) };
      });
      await p.parseAsync(['node', 'shmsnap', 'backup', ...args]);
      return seen!;
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  }

  it('flag > environment > file > default, a required option may come from the file', async () => {
    const path = configFile({ to: '/from/file', codec: 'gzip', threads: 3, level: 4, 's3-storage-class': 'STANDARD_IA' });
    const { flags, sources } = await flagsOf(['--level', '9'], { SHMSNAP_CONFIG: path, SHMSNAP_CODEC: 'zstd' });
    assert.deepEqual(
      { to: flags.to, codec: flags.codec, threads: flags.threads, level: flags.level, instance: flags.instance, storage: flags.s3StorageClass },
      { to: '/from/file', codec: 'zstd', threads: 3, level: 9, instance: 0, storage: 'STANDARD_IA' },
    );
    assert.deepEqual([sources.to, sources.codec, sources.level, sources.instance], ['config', 'env', 'cli', 'default']);
    // An S3 option's SHMSNAP_S3_* variable wins over the file too, but is read where the request is made
    // (sink-options.ts, which names the variable in its refusals): the file's value is not set over it.
    const overridden = await flagsOf(['--level', '9'], { SHMSNAP_CONFIG: path, SHMSNAP_S3_STORAGE_CLASS: 'GLACIER' });
    assert.equal(overridden.flags.s3StorageClass, undefined);
    assert.equal(sinkRequest(createDefaultRegistry(), overridden.flags, { SHMSNAP_S3_STORAGE_CLASS: 'GLACIER' }, true, 's3://b/p').options.storageClass, 'GLACIER');
  });

  it('a flag replaces a configured value, also for an option repeated to accumulate (--namespace)', async () => {
    const once = await flagsOf(['--to', '/x', '--namespace', 'b'], { SHMSNAP_CONFIG: '', SHMSNAP_NAMESPACE: 'a' });
    assert.deepEqual(once.flags.namespace, ['b']);
    const twice = await flagsOf(['--to', '/x', '--namespace', 'b', '--namespace', 'c'], { SHMSNAP_CONFIG: configFile({ namespace: ['a'] }) });
    assert.deepEqual(twice.flags.namespace, ['b', 'c']);
    const configured = await flagsOf(['--to', '/x'], { SHMSNAP_CONFIG: '', SHMSNAP_NAMESPACE: 'a,z' });
    assert.deepEqual(configured.flags.namespace, ['a', 'z']);
  });

  it('a boolean variable of an S3 option is read as a boolean where the request is made (SHMSNAP_S3_PATH_STYLE=false is false)', async () => {
    const { flags } = await flagsOf(['--to', '/x'], { SHMSNAP_CONFIG: '', SHMSNAP_S3_PATH_STYLE: 'false' });
    assert.equal(flags.s3PathStyle, undefined, 'not set as if a flag');
    assert.equal(sinkRequest(createDefaultRegistry(), flags, { SHMSNAP_S3_PATH_STYLE: 'false' }, false, 's3://b/p').options.pathStyle, false);
  });
});

describe('redact', () => {
  it('hides credential-like names and the user part of URLs', () => {
    assert.equal(redact('AWS_SECRET_ACCESS_KEY', 'abc'), '<redacted>');
    assert.equal(redact('AWS_SESSION_TOKEN', 'abc'), '<redacted>');
    assert.equal(redact('AWS_ACCESS_KEY_ID', 'AKIA'), '<redacted>');
    assert.equal(redact('SHMSNAP_S3_ENDPOINT', 'https://user:pw@minio:9000/x'), 'https://<redacted>@minio:9000/x');
    assert.equal(redact('AWS_REGION', 'eu-west-1'), 'eu-west-1');
  });
});
