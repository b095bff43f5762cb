// The options sink providers declare, as flags and variables (sink-options.ts): how they are named and parsed, which
// wins, that none is taken silently for a location of another scheme, and that a secret is never shown. The S3
// provider is the first user: its flags and SHMSNAP_S3_* variables must read exactly as they did when hard-wired.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { createRegistry, definePlugin, errConfigInvalid, isShmsnapError, PLUGIN_API_VERSION, type Sink, type SinkOptionSpec } from '@shmsnap/core';
import { sinkOpener } from './context.js';
import { createDefaultRegistry } from './default-registry.js';
import { addSinkOptions, parseBooleanSetting, parseSinkOption, sinkOptionFlags, sinkRequest, type SinkFlags } from './sink-options.js';

const registry = createDefaultRegistry();

function parse(args: string[], writes = true, on = registry): SinkFlags {
  const command = addSinkOptions(new Command('t').exitOverride().configureOutput({ writeErr: () => undefined }), on, writes);
  command.parse(args, { from: 'user' });
  return command.opts();
}

const created: { location: string; options: unknown }[] = [];
const DEMO_OPTIONS: SinkOptionSpec[] = [
  { name: 'connectionString', type: 'string', secret: true, env: ['DEMO_CONNECTION_STRING'], description: 'how to connect' },
  { name: 'blockSizeMib', type: 'integer', min: 1, max: 4000, writes: true, description: 'block size', default: 8 },
  { name: 'tier', type: 'choice', choices: ['hot', 'cool'], description: 'access tier' },
  { name: 'verbose', type: 'boolean', description: 'say more' },
];

function demoRegistry() {
  const demo = createDefaultRegistry();
  demo.registerPlugin(
    definePlugin({
      name: 'shmsnap-sink-demo',
      version: '1.2.3',
      apiVersion: PLUGIN_API_VERSION,
      sinks: [
        {
          schemes: ['demo'],
          description: 'a demo store',
          options: DEMO_OPTIONS,
          create(location: string, options?: Record<string, unknown>) {
            created.push({ location, options });
            if (options?.blockSizeMib === 13) throw errConfigInvalid('blockSizeMib', 'must not be 13 with tier given').withDetails({ mentions: ['tier'] });
            return { name: 'demo' } as unknown as Sink;
          },
        },
      ],
    }),
  );
  return demo;
}

describe('declared sink options', () => {
  it('parses booleans as true/false/1/0/yes/no, and nothing else', () => {
    for (const [text, value] of [['true', true], ['FALSE', false], ['1', true], ['0', false], ['yes', true], ['No', false]] as const) assert.equal(parseBooleanSetting(text), value, text);
    for (const text of ['', 'maybe', 'on', '2']) assert.throws(() => parseBooleanSetting(text), /must be true, false, 1, 0, yes or no/);
  });

  it('parses by type: integer bounds, choices; a secret value is never quoted in a refusal', () => {
    const [secret, block, tier] = DEMO_OPTIONS as [SinkOptionSpec, SinkOptionSpec, SinkOptionSpec];
    assert.equal(parseSinkOption(block, '16'), 16);
    assert.throws(() => parseSinkOption(block, '4001'), { message: 'must be an integer from 1 to 4000, got "4001"' });
    assert.throws(() => parseSinkOption(block, '1.5'), /must be an integer from 1 to 4000/);
    assert.equal(parseSinkOption(tier, 'cool'), 'cool');
    assert.throws(() => parseSinkOption(tier, 'warm'), { message: 'must be hot or cool, got "warm"' });
    assert.equal(parseSinkOption(secret, 'AccountKey=hush'), 'AccountKey=hush');
    assert.throws(() => parseSinkOption({ ...block, secret: true }, 'hush-123'), (error: Error) => !error.message.includes('hush') && /must be an integer/.test(error.message));
  });

  it('names each option --<scheme>-<kebab> and SHMSNAP_<SCHEME>_<SNAKE> then its own variables; writer options only for writers', () => {
    const demo = demoRegistry();
    const flags = sinkOptionFlags(demo, true).filter((f) => f.scheme === 'demo');
    assert.deepEqual(
      flags.map((f) => [f.flag, f.attribute, f.variables]),
      [
        ['--demo-connection-string', 'demoConnectionString', ['SHMSNAP_DEMO_CONNECTION_STRING', 'DEMO_CONNECTION_STRING']],
        ['--demo-block-size-mib', 'demoBlockSizeMib', ['SHMSNAP_DEMO_BLOCK_SIZE_MIB']],
        ['--demo-tier', 'demoTier', ['SHMSNAP_DEMO_TIER']],
        ['--demo-verbose', 'demoVerbose', ['SHMSNAP_DEMO_VERBOSE']],
      ],
    );
    assert.ok(!sinkOptionFlags(demo, false).some((f) => f.flag === '--demo-block-size-mib'), 'a reader has no writer option');
    const help = addSinkOptions(new Command('t').configureHelp({ helpWidth: 1000 }), demo, true).helpInformation();
    assert.match(help, /DEMO options \(a demo store\):/);
    assert.match(help, /--demo-connection-string <value>\s+how to connect \(env: SHMSNAP_DEMO_CONNECTION_STRING, DEMO_CONNECTION_STRING; secret\)/);
    assert.match(help, /--demo-block-size-mib <value>\s+block size \(default: 8; env: SHMSNAP_DEMO_BLOCK_SIZE_MIB\)/);
    assert.match(help, /--no-demo-verbose/);
  });

  it('keeps the S3 flags exactly: names, --no-s3-path-style, a flag winning over its variable', () => {
    const s3 = sinkOptionFlags(registry, true).filter((f) => f.scheme === 's3').map((f) => f.flag);
    assert.deepEqual(s3, [
      '--s3-endpoint',
      '--s3-region',
      '--s3-path-style',
      '--s3-profile',
      '--s3-ca-bundle',
      '--s3-checksum',
      '--s3-storage-class',
      '--s3-sse',
      '--s3-sse-kms-key-id',
      '--s3-part-size-mib',
      '--s3-max-parts',
      '--s3-upload-concurrency',
    ]);
    assert.equal(parse(['--no-s3-path-style']).s3PathStyle, false);
    assert.equal(parse(['--s3-path-style']).s3PathStyle, true);
    assert.equal(parse([]).s3PathStyle, undefined, 'neither: the sink decides from the endpoint');
    const request = sinkRequest(registry, parse(['--no-s3-path-style', '--s3-part-size-mib', '16']), { SHMSNAP_S3_PATH_STYLE: 'true', SHMSNAP_S3_PART_SIZE_MIB: '32', SHMSNAP_S3_SSE: 'AES256' }, true, 's3://b/p');
    assert.deepEqual(request.options, { pathStyle: false, sse: 'AES256', partSizeMib: 16 });
    assert.deepEqual(request.given, ['--no-s3-path-style', 'SHMSNAP_S3_SSE', '--s3-part-size-mib']);
    assert.equal(parse(['--s3-ca-bundle', '/etc/ca.pem']).s3CaBundle, '/etc/ca.pem');
    assert.throws(() => parse(['--s3-max-parts', '0']), /--s3-max-parts must be a positive integer/);
  });

  it('reads SHMSNAP_S3_PATH_STYLE=false as false, and refuses a variable it cannot read, naming it', () => {
    const read = (env: NodeJS.ProcessEnv, writes = false) => sinkRequest(registry, {}, env, writes, 's3://b/p').options;
    assert.equal(read({ SHMSNAP_S3_PATH_STYLE: 'false' }).pathStyle, false);
    assert.equal(read({ SHMSNAP_S3_PATH_STYLE: 'yes' }).pathStyle, true);
    assert.equal(read({ SHMSNAP_S3_PATH_STYLE: '' }).pathStyle, undefined, 'empty is unset');
    assert.throws(() => read({ SHMSNAP_S3_PATH_STYLE: 'maybe' }), (error) => isShmsnapError(error, 'CONFIG_INVALID') && error.message === 'SHMSNAP_S3_PATH_STYLE: must be true, false, 1, 0, yes or no, got "maybe"');
    assert.throws(() => read({ SHMSNAP_S3_PART_SIZE_MIB: 'eight' }, true), (error) => isShmsnapError(error) && /^SHMSNAP_S3_PART_SIZE_MIB: must be a positive integer/.test(error.message));
    assert.throws(() => read({ SHMSNAP_S3_SSE: 'rot13' }, true), (error) => isShmsnapError(error) && error.message === 'SHMSNAP_S3_SSE: must be AES256 or aws:kms, got "rot13"');
    assert.deepEqual(read({ SHMSNAP_S3_SSE: 'AES256' }), {}, 'a command that does not write reads no writer settings');
  });

  it("names the variable in the provider's refusal of a value it set, the flag otherwise, and mentioned options as flags", async () => {
    const refusal = errConfigInvalid('partSizeMib', 'must be from 5 to 5120 MiB, got 2 MiB');
    const fromEnv = sinkRequest(registry, {}, { SHMSNAP_S3_PART_SIZE_MIB: '2' }, true, 's3://b/p').nameSource(refusal);
    assert.ok(isShmsnapError(fromEnv, 'CONFIG_INVALID'));
    assert.equal(fromEnv.message, 'SHMSNAP_S3_PART_SIZE_MIB: must be from 5 to 5120 MiB, got 2 MiB');
    const fromFlag = sinkRequest(registry, parse(['--s3-part-size-mib', '2']), { SHMSNAP_S3_PART_SIZE_MIB: '2' }, true, 's3://b/p').nameSource(refusal);
    assert.equal((fromFlag as Error).message, '--s3-part-size-mib: must be from 5 to 5120 MiB, got 2 MiB');
    const demo = demoRegistry();
    await assert.rejects(sinkOpener(demo, parse(['--demo-block-size-mib', '13'], true, demo), true, {})('demo://x'), { message: '--demo-block-size-mib: must not be 13 with --demo-tier given' });
  });

  it('passes a provider only what was given, by declared name, its own variables after SHMSNAP_ ones', async () => {
    const demo = demoRegistry();
    created.length = 0;
    await sinkOpener(demo, parse(['--demo-tier', 'hot'], true, demo), true, { DEMO_CONNECTION_STRING: 'AccountKey=hush', SHMSNAP_DEMO_VERBOSE: '0' })('demo://x');
    assert.deepEqual(created, [{ location: 'demo://x', options: { connectionString: 'AccountKey=hush', tier: 'hot', verbose: false } }]);
    created.length = 0;
    await sinkOpener(demo, {}, true, { DEMO_CONNECTION_STRING: 'b', SHMSNAP_DEMO_CONNECTION_STRING: 'a' })('demo://x');
    assert.deepEqual(created[0]!.options, { connectionString: 'a' });
  });

  it("refuses another scheme's flags and SHMSNAP_ variables before opening anything, and takes standard variables in its stride", async () => {
    await assert.rejects(sinkOpener(registry, parse(['--s3-sse', 'AES256']), true, {})('/var/backups/x'), (error) => {
      assert.ok(isShmsnapError(error, 'CONFIG_INVALID'));
      assert.equal(error.message, '--s3-sse: applies only to s3:// locations, not to /var/backups/x');
      return true;
    });
    await assert.rejects(
      sinkOpener(registry, parse(['--s3-region', 'eu-west-1', '--no-s3-path-style'], false), false, { SHMSNAP_S3_CHECKSUM: 'when-supported' })('file:///var/backups/x'),
      (error) => isShmsnapError(error, 'CONFIG_INVALID') && error.message === '--s3-region, --no-s3-path-style and SHMSNAP_S3_CHECKSUM: apply only to s3:// locations, not to file:///var/backups/x',
    );
    const demo = demoRegistry();
    await assert.rejects(sinkOpener(demo, parse(['--demo-tier', 'hot'], true, demo), true, {})('s3://b/p'), { message: '--demo-tier: applies only to demo:// locations, not to s3://b/p' });
    // Not scheme-only: the AWS tools read them too, and a host may set them for everything.
    const sink = await sinkOpener(demo, {}, true, { AWS_REGION: 'eu-west-1', AWS_PROFILE: 'nobody', AWS_CA_BUNDLE: '/nowhere', DEMO_CONNECTION_STRING: 'x' })('/var/backups/x');
    assert.equal(sink.name, 'local');
    await sink.close?.();
  });

  it("leaves out the configuration file's values for another scheme's options (a shared policy), and uses them for its own", () => {
    const fromFile = (attribute: string) => (attribute === 's3Region' || attribute === 's3PartSizeMib' ? 'config' : 'cli');
    const local = sinkRequest(registry, { s3Region: 'eu-west-1', s3PartSizeMib: 16 }, {}, true, '/var/backups/x', fromFile);
    assert.deepEqual([local.misplaced, local.options], [[], {}]);
    const flag = sinkRequest(registry, { s3Region: 'eu-west-1', s3Sse: 'AES256' }, {}, true, '/var/backups/x', fromFile);
    assert.deepEqual(flag.misplaced, [{ name: '--s3-sse', scheme: 's3' }], 'a flag is still refused');
    const s3 = sinkRequest(registry, { s3Region: 'eu-west-1' }, {}, true, 's3://b/p', fromFile);
    assert.deepEqual(s3.options, { region: 'eu-west-1' });
  });

  it('works for a registry with no option-declaring provider', () => {
    const bare = createRegistry();
    assert.deepEqual(sinkOptionFlags(bare, true), []);
  });
});
