// The sink decorator: every failure that leaves a sink — from a method, a
// reader stream, a writer stream, commit or abort — carries the plugin, a
// fixed stage and the object.
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import type { Sink } from '../contracts/sink.js';
import { isShmsnapError } from '../errors.js';
import { withSinkContext } from './with-plugin-context.js';

const boom = (message: string): Error => Object.assign(new Error(message), { code: 'EBOOM' });

/** A sink whose every call fails with a foreign error, and whose streams fail mid-way. */
function brokenSink(): Sink {
  return {
    name: 'broken',
    location: 'broken://x',
    capabilities: { rangedReads: true, maxConcurrency: 1, maxObjectSize: 1e9, posixAttributes: false },
    async openWriter() {
      return {
        stream: new Writable({ write: (_c, _e, callback) => callback(boom('disk on fire')) }),
        commit: async () => {
          throw boom('commit refused');
        },
        abort: async () => {
          throw boom('abort refused');
        },
      };
    },
    async openReader() {
      let sent = false;
      return new Readable({
        read() {
          if (!sent) {
            sent = true;
            this.push(Buffer.from('abc'));
          } else this.destroy(boom('connection reset'));
        },
      });
    },
    stat: async () => {
      throw boom('stat failed');
    },
    list: async () => {
      throw boom('list failed');
    },
    remove: async () => {
      throw boom('remove failed');
    },
  };
}

function expectContext(error: unknown, stage: string, object?: string): true {
  assert.ok(isShmsnapError(error, 'PLUGIN_FAILED'), String(error));
  assert.equal(error.details.plugin, 'broken');
  assert.equal(error.details.stage, stage);
  assert.equal(error.details.object, object);
  assert.equal(error.details.pluginCode, 'EBOOM');
  return true;
}

describe('withSinkContext', () => {
  const sink = withSinkContext(brokenSink());

  it('wraps method failures with their stage', async () => {
    await assert.rejects(sink.list(''), (e) => expectContext(e, 'list'));
    await assert.rejects(sink.stat('a.dat'), (e) => expectContext(e, 'stat', 'a.dat'));
    await assert.rejects(sink.remove('a.dat'), (e) => expectContext(e, 'remove', 'a.dat'));
  });

  it('wraps what the streams emit, and commit and abort', async () => {
    const reader = await sink.openReader('a.dat');
    await assert.rejects(pipeline(reader, new Writable({ write: (_c, _e, cb) => cb() })), (e) => expectContext(e, 'read', 'a.dat'));
    const writer = await sink.openWriter('b.dat');
    await assert.rejects(pipeline(Readable.from([Buffer.from('x')]), writer.stream), (e) => expectContext(e, 'write', 'b.dat'));
    await assert.rejects(writer.commit(), (e) => expectContext(e, 'commit', 'b.dat'));
    await assert.rejects(writer.abort(), (e) => expectContext(e, 'abort', 'b.dat'));
  });

  it('is idempotent and keeps what the sink is', () => {
    assert.equal(withSinkContext(sink), sink);
    assert.equal(sink.name, 'broken');
    assert.equal(sink.capabilities.maxConcurrency, 1);
  });
});
