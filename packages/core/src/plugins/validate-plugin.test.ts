// The host's check of a plugin (validate-plugin.ts) and registering one (registry.ts): every shape problem is one
// PLUGIN_INVALID naming the plugin; a wrong API version names the plugin, its version and both API versions; a
// scheme two plugins offer names both, and nothing of the second is registered.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { definePlugin, PLUGIN_API_VERSION, type ShmsnapPlugin } from '../contracts/plugin.js';
import type { Sink, SinkProvider } from '../contracts/sink.js';
import { isShmsnapError } from '../errors.js';
import { codecNone } from '../pipeline/codec-none.js';
import { createRegistry } from './registry.js';
import { validatePlugin } from './validate-plugin.js';

const sink = (schemes: string[], extra: Partial<SinkProvider> = {}): SinkProvider<never> =>
  ({ schemes, create: () => ({ name: schemes[0] }) as unknown as Sink, ...extra }) as SinkProvider<never>;

const good = (extra: Partial<ShmsnapPlugin> = {}): ShmsnapPlugin => definePlugin({ name: 'shmsnap-sink-demo', version: '1.0.0', apiVersion: PLUGIN_API_VERSION, sinks: [sink(['demo'])], ...extra });

function refusal(value: unknown, from = 'shmsnap-sink-demo'): string {
  try {
    validatePlugin(value, from);
  } catch (error) {
    assert.ok(isShmsnapError(error, 'PLUGIN_INVALID'), String(error));
    assert.equal(error.details.plugin, from);
    assert.doesNotMatch(error.message, /\n/);
    return error.message;
  }
  assert.fail('accepted');
}

describe('validatePlugin', () => {
  it('accepts a plugin of the contract, returning it unchanged', () => {
    const plugin = good({ codecs: [codecNone] });
    assert.equal(validatePlugin(plugin, 'x'), plugin);
  });

  it('names the plugin, its version, its API version and ours when the API version differs', () => {
    assert.equal(
      refusal({ ...good(), apiVersion: PLUGIN_API_VERSION + 1 }),
      `plugin shmsnap-sink-demo: shmsnap-sink-demo 1.0.0 is built for plugin API version ${PLUGIN_API_VERSION + 1}; this shmsnap speaks version ${PLUGIN_API_VERSION}`,
    );
    try {
      validatePlugin({ ...good(), apiVersion: 0 }, './x.js');
    } catch (error) {
      assert.ok(isShmsnapError(error));
      assert.deepEqual([error.details.name, error.details.version, error.details.apiVersion, error.details.expectedApiVersion], ['shmsnap-sink-demo', '1.0.0', 0, PLUGIN_API_VERSION]);
    }
  });

  it('refuses each shape problem with one line saying what', () => {
    assert.match(refusal(undefined), /default export is not a plugin object/);
    assert.match(refusal(() => good()), /default export is not a plugin object/);
    assert.match(refusal({ ...good(), name: '' }), /has no name/);
    assert.match(refusal({ ...good(), version: 1 }), /has no version/);
    assert.match(refusal(good({ sinks: [] })), /provides neither a sink nor a codec/);
    assert.match(refusal(good({ sinks: [sink([])] })), /sinks\[0\] has no schemes/);
    assert.match(refusal(good({ sinks: [sink(['S3:'])] })), /sinks\[0\] has scheme "S3:": must be lower case/);
    assert.match(refusal(good({ sinks: [{ schemes: ['demo'] } as unknown as SinkProvider<never>] })), /sinks\[0\] \(demo\) has no create\(\) function/);
    assert.match(refusal(good({ sinks: [sink(['demo'], { options: [{ name: 'part-size', type: 'string', description: 'x' }] })] })), /option 0: has name "part-size": must be camelCase/);
    assert.match(refusal(good({ sinks: [sink(['demo'], { options: [{ name: 'tier', type: 'choice', description: 'x' }] })] })), /tier is a choice without choices/);
    assert.match(refusal(good({ sinks: [sink(['demo'], { options: [{ name: 'a', type: 'string', description: 'x' }, { name: 'a', type: 'string', description: 'y' }] })] })), /a is declared twice/);
    assert.match(refusal(good({ sinks: [sink(['demo'], { options: [{ name: 'a', type: 'float' as 'string', description: 'x' }] })] })), /a has type "float"/);
    assert.match(refusal(good({ codecs: [{ ...codecNone, name: '' }] })), /codecs\[0\] has no name/);
    assert.match(refusal(good({ codecs: [{ ...codecNone, createDecoder: undefined } as never] })), /codec none lacks createEncoder\(\) or createDecoder\(\)/);
  });
});

describe('registry.registerPlugin', () => {
  it('registers every sink and codec of a plugin and remembers who gave which, in order', async () => {
    const registry = createRegistry();
    registry.registerPlugin(good({ codecs: [codecNone] }), { requested: './demo', from: '/x/demo/index.js' });
    assert.deepEqual(registry.schemes(), ['demo']);
    assert.equal(registry.codec('none'), codecNone);
    const { loaded, failed } = registry.plugins();
    assert.deepEqual(
      loaded.map((p) => [p.plugin.name, p.requested, p.from, p.schemes, p.codecs]),
      [['shmsnap-sink-demo', './demo', '/x/demo/index.js', ['demo'], ['none']]],
    );
    assert.deepEqual(failed, []);
    assert.deepEqual(registry.sinkProviders().map((p) => p.plugin), ['shmsnap-sink-demo']);
    assert.equal((await registry.openSink('demo://a')).name, 'demo');
  });

  it('a scheme or codec two plugins offer names both plugins, and nothing of the second is registered', () => {
    const registry = createRegistry();
    registry.registerPlugin(good());
    const second = definePlugin({ name: 'shmsnap-sink-copy', version: '2.0.0', apiVersion: PLUGIN_API_VERSION, sinks: [sink(['other']), sink(['demo'])], codecs: [codecNone] });
    assert.throws(
      () => registry.registerPlugin(second),
      (error) => isShmsnapError(error, 'REGISTRY_DUPLICATE') && error.message === "a sink scheme named 'demo' is already registered: plugins shmsnap-sink-demo and shmsnap-sink-copy both provide it",
    );
    assert.deepEqual(registry.schemes(), ['demo'], 'not half-registered: "other" is not there');
    assert.throws(() => registry.codec('none'), (error) => isShmsnapError(error, 'CODEC_UNKNOWN'));
    assert.equal(registry.plugins().loaded.length, 1);
  });

  it("a plugin that failed to load is the answer to an unknown scheme or codec, instead of 'unknown'", async () => {
    const registry = createRegistry();
    registry.registerPlugin(good());
    await assert.rejects(registry.openSink('azblob://a/c'), (error) => isShmsnapError(error, 'SCHEME_UNKNOWN'));
    const { validatePlugin: check } = await import('./validate-plugin.js');
    let failure: unknown;
    try {
      check({ ...good(), name: 'shmsnap-sink-azure', apiVersion: 99 }, 'shmsnap-sink-azure');
    } catch (error) {
      failure = error;
    }
    assert.ok(isShmsnapError(failure));
    registry.registerFailure({ requested: 'shmsnap-sink-azure', from: '/g/shmsnap-sink-azure/index.js', error: failure });
    await assert.rejects(registry.openSink('azblob://a/c'), (error) => isShmsnapError(error, 'PLUGIN_INVALID') && /API version 99/.test(error.message) && (error.details.wanted as { scheme: string }).scheme === 'azblob');
    assert.throws(() => registry.codec('lz4'), (error) => isShmsnapError(error, 'PLUGIN_INVALID'));
    assert.equal((await registry.openSink('demo://a')).name, 'demo', 'what loaded still works');
    assert.equal(registry.plugins().failed.length, 1);
  });
});
