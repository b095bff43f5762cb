import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codecNone } from '../pipeline/codec-none.js';
import { isShmsnapError } from '../errors.js';
import { createRegistry, schemeOf } from './registry.js';
import type { Sink, SinkProvider } from '../contracts/sink.js';

function provider(schemes: string[], created: string[]): SinkProvider {
  return {
    schemes,
    create: (location) => {
      created.push(location);
      return { name: schemes[0] } as unknown as Sink;
    },
    redact: (location) => location.replace(/secret/, '***'),
  };
}

describe('registry', () => {
  it('maps plain paths and file:// URLs to the file scheme', () => {
    assert.equal(schemeOf('/var/backups/x'), 'file');
    assert.equal(schemeOf('relative/dir'), 'file');
    assert.equal(schemeOf('file:///var/backups/x'), 'file');
    assert.equal(schemeOf('S3://bucket/prefix'), 's3');
  });

  it('refuses an empty location and a known scheme without its two slashes (CONFIG_INVALID), before any sink is created', async () => {
    const registry = createRegistry();
    const created: string[] = [];
    registry.registerSink(provider(['file'], created));
    registry.registerSink(provider(['s3'], created));
    for (const [location, message] of [
      ['', /^location: empty \(an unset shell variable\?\)/],
      [' \t', /^location: empty/],
      ['s3:/bucket/x', /^location s3:\/bucket\/x: s3 locations are written s3:\/\/… /],
      ['file:/tmp/x', /^location file:\/tmp\/x: file locations are written file:\/\/… /],
      ['s3:key:secret@bucket', /^location s3:…: /],
    ] as const) {
      await assert.rejects(registry.openSink(location), (error: unknown) => {
        assert.ok(isShmsnapError(error, 'CONFIG_INVALID'), String(error));
        assert.match(error.message, message);
        assert.doesNotMatch(error.message, /secret/);
        return true;
      });
    }
    assert.deepEqual(created, []);
    await registry.openSink('odd:name'); // a directory named so, not a known scheme
    assert.deepEqual(created, ['odd:name']);
  });

  it('opens the sink of the location scheme, and redacts through its provider', async () => {
    const registry = createRegistry();
    const files: string[] = [];
    const s3: string[] = [];
    registry.registerSink(provider(['file'], files));
    registry.registerSink(provider(['s3'], s3));
    await registry.openSink('/tmp/x');
    await registry.openSink('file:///tmp/y');
    await registry.openSink('s3://b/p');
    assert.deepEqual(files, ['/tmp/x', 'file:///tmp/y']);
    assert.deepEqual(s3, ['s3://b/p']);
    assert.equal(registry.redact('s3://secret@b'), 's3://***@b');
  });

  it('throws on duplicate schemes and codecs', () => {
    const registry = createRegistry();
    registry.registerSink(provider(['file'], []));
    assert.throws(() => registry.registerSink(provider(['file'], [])), (e: unknown) => isShmsnapError(e, 'REGISTRY_DUPLICATE'));
    registry.registerCodec(codecNone);
    assert.throws(() => registry.registerCodec(codecNone), (e: unknown) => isShmsnapError(e, 'REGISTRY_DUPLICATE'));
  });

  it('fails with a coded error for unknown schemes and codecs', async () => {
    const registry = createRegistry();
    await assert.rejects(registry.openSink('gs://bucket'), (e: unknown) => isShmsnapError(e, 'SCHEME_UNKNOWN'));
    assert.throws(() => registry.codec('lz4'), (e: unknown) => isShmsnapError(e, 'CODEC_UNKNOWN'));
  });

  it('finds the codec of an object by its longest matching extension', () => {
    const registry = createRegistry();
    registry.registerCodec(codecNone);
    registry.registerCodec({ ...codecNone, name: 'gzip', extension: '.dat.gz', identity: false });
    assert.equal(registry.codecForObject('ae001100.dat')?.name, 'none');
    assert.equal(registry.codecForObject('ae001100.dat.gz')?.name, 'gzip');
    assert.equal(registry.codecForObject('ae001100.dat.zst'), undefined);
  });
});
