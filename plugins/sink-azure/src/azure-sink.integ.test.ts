// The Azure sink against Azurite on 127.0.0.1 (started here, stopped by PID):
// the sink conformance kit, blocks and memory, listings of more than one
// page, and the refusals a user meets first (a wrong key, a missing
// container, no credentials), none of which may print a secret.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inspect } from 'node:util';
import { after, describe, it } from 'node:test';
import { crc32, isShmsnapError, type Sink } from '@shmsnap/core/plugin-kit';
import { describeSinkConformance } from '@shmsnap/core/testkit';
import plugin, { createAzureSinkProvider } from './index.js';
import { createAzureSink } from './azure-sink.js';
import type { AzureSinkOptions } from './azure-options.js';
import { startAzureFaultProxy, startAzurite, type AzuriteServer } from './testing/index.js';

const MiB = 1024 * 1024;
const fastRetry = { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20 };
const noEnv = {};

let server: Promise<AzuriteServer> | undefined;
const azurite = (): Promise<AzuriteServer> => (server ??= startAzurite({ containers: ['test'] }));
after(async () => {
  await (await server)?.stop();
});

let cases = 0;
async function freshSink(options: AzureSinkOptions = {}): Promise<{ sink: Sink; prefix: string; cleanup(): Promise<void> }> {
  const { connectionString } = await azurite();
  cases += 1;
  const prefix = `case-${cases}`;
  const sink = await createAzureSink(`azblob://devstoreaccount1/test/${prefix}`, { connectionString, blockSizeMib: 1, uploadConcurrency: 2, retry: fastRetry, env: noEnv, ...options });
  return {
    sink,
    prefix,
    async cleanup() {
      for (const object of await sink.list('')) await sink.remove(object.name);
    },
  };
}

function chunksOf(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += size) out.push(data.subarray(offset, offset + size));
  return out;
}

async function put(sink: Sink, name: string, data: Buffer): Promise<void> {
  const writer = await sink.openWriter(name, { expectedBytes: data.length });
  await pipeline(Readable.from(chunksOf(data, 256 * 1024)), writer.stream);
  await writer.commit();
}

async function readAll(sink: Sink, name: string, range?: { start: number; end: number }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await sink.openReader(name, range ? { range } : {})) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Everything a user or a log could see of an error: message, details, JSON, and the cause chain. */
function visibleText(error: unknown): string {
  return [String(error), JSON.stringify(error), inspect(error, { depth: 8 })].join('\n');
}

describeSinkConformance({
  name: 'azblob',
  setup: () => freshSink(),
  // Several 1 MiB blocks, more than uploadConcurrency (2) of them in flight over the object's life.
  largeObjectBytes: 5 * MiB + 7,
});

describe('azblob sink: blocks', () => {
  it('stages an object as blocks and publishes it with one block list; reads it back whole and ranged', async () => {
    const { sink, cleanup } = await freshSink();
    try {
      const data = randomBytes(7 * MiB + 123);
      await put(sink, 'big.dat', data);
      assert.equal((await sink.stat('big.dat'))?.size, data.length);
      assert.equal(crc32(await readAll(sink, 'big.dat')), crc32(data), 'the object read back differs');
      for (const [start, end] of [[MiB - 10, MiB + 10], [0, 1], [data.length - 5, data.length], [2 * MiB, 6 * MiB + 3]] as const) {
        assert.ok((await readAll(sink, 'big.dat', { start, end })).equals(data.subarray(start, end)), `range ${start}..${end}`);
      }
      assert.equal((await readAll(sink, 'big.dat', { start: data.length, end: data.length + 10 })).length, 0, 'a range past the end holds nothing');
    } finally {
      await cleanup();
    }
  });

  it('holds at most uploadConcurrency blocks in flight, and commits nothing until the block list', async () => {
    const { endpoint, connectionStringFor } = await azurite();
    const proxy = await startAzureFaultProxy(new URL(endpoint).origin, [], '/devstoreaccount1');
    try {
      const { sink } = await freshSink({ connectionString: connectionStringFor(proxy.endpoint), uploadConcurrency: 2 });
      const data = randomBytes(6 * MiB);
      const writer = await sink.openWriter('staged.dat', { expectedBytes: data.length });
      await pipeline(Readable.from(chunksOf(data, 256 * 1024)), writer.stream);
      assert.equal(await sink.stat('staged.dat'), undefined, 'staged blocks are not an object');
      assert.deepEqual((await sink.list('')).map((o) => o.name), [], 'nor listed');
      const blocks = proxy.log.filter((r) => r.query.get('comp') === 'block');
      assert.equal(blocks.length, 6, 'six 1 MiB blocks');
      assert.equal(proxy.log.filter((r) => r.query.get('comp') === 'blocklist').length, 0, 'no block list before commit');
      await writer.commit();
      const lists = proxy.log.filter((r) => r.query.get('comp') === 'blocklist');
      assert.equal(lists.length, 1, 'one Put Block List');
      assert.equal(lists[0]!.headers['if-none-match'], '*', 'the block list is conditional');
      assert.equal(crc32(await readAll(sink, 'staged.dat')), crc32(data));
      await sink.remove('staged.dat');
    } finally {
      await proxy.stop();
    }
  });

  it('refuses to publish over an object written meanwhile (409 BlobAlreadyExists), leaving it untouched', async () => {
    const { sink, cleanup } = await freshSink();
    try {
      const first = Buffer.from('the first object');
      const writer = await sink.openWriter('race.dat');
      await pipeline(Readable.from([Buffer.from('the second, which must lose')]), writer.stream);
      await put(sink, 'race.dat', first);
      await assert.rejects(writer.commit(), (e: unknown) => isShmsnapError(e, 'OBJECT_EXISTS') && e.details['httpStatus'] === 409);
      assert.ok((await readAll(sink, 'race.dat')).equals(first), 'the existing object is untouched');
    } finally {
      await cleanup();
    }
  });

  it('lists more than one page (continuation tokens), at depth 0 and below', async () => {
    const { sink, cleanup } = await freshSink({ listPageSize: 2 });
    try {
      const names = ['a.dat', 'b.dat', 'c.dat', 'd.dat', 'e.dat'];
      for (const name of names) await put(sink, name, Buffer.from(name));
      const listed = await sink.list('');
      assert.deepEqual(listed.map((o) => o.name), names);
      assert.deepEqual(listed.map((o) => o.size), names.map((n) => n.length));
      assert.deepEqual((await sink.list('c')).map((o) => o.name), ['c.dat']);
    } finally {
      await cleanup();
    }
    const { sink: parent, prefix } = await freshSink({ listPageSize: 2 });
    const { connectionString } = await azurite();
    const child = await createAzureSink(`azblob://devstoreaccount1/test/${prefix}/n1`, { connectionString, env: noEnv, retry: fastRetry });
    for (const name of ['x.dat', 'y.dat', 'z.dat']) await put(child, name, Buffer.from(name));
    await put(parent, 'top.json', Buffer.from('{}'));
    assert.deepEqual((await parent.list('')).map((o) => o.name), ['top.json'], 'depth 0 leaves deeper names out');
    assert.deepEqual((await parent.list('', { depth: 1 })).map((o) => o.name), ['n1/x.dat', 'n1/y.dat', 'n1/z.dat', 'top.json']);
    for (const name of ['x.dat', 'y.dat', 'z.dat']) await child.remove(name);
    await parent.remove('top.json');
  });

  it('counts several pages on the wire for one listing', async () => {
    const { endpoint, connectionStringFor } = await azurite();
    const proxy = await startAzureFaultProxy(new URL(endpoint).origin, [], '/devstoreaccount1');
    try {
      const { sink, cleanup } = await freshSink({ connectionString: connectionStringFor(proxy.endpoint), listPageSize: 2 });
      for (const name of ['1.dat', '2.dat', '3.dat', '4.dat', '5.dat']) await put(sink, name, Buffer.from(name));
      const before = proxy.log.length;
      assert.equal((await sink.list('')).length, 5);
      const pages = proxy.log.slice(before).filter((r) => r.query.get('comp') === 'list');
      assert.equal(pages.length, 3, 'five objects in pages of two');
      assert.ok(pages.slice(1).every((r) => r.query.has('marker')), 'each later page asks with the continuation token');
      await cleanup();
    } finally {
      await proxy.stop();
    }
  });
});

describe('azblob sink: refusals', () => {
  it('a wrong account key is PERMISSION_DENIED, at once, in one line, without the key', async () => {
    const { endpoint, connectionStringFor } = await azurite();
    const wrongKey = randomBytes(64).toString('base64');
    const proxy = await startAzureFaultProxy(new URL(endpoint).origin, [], '/devstoreaccount1');
    try {
      const sink = await createAzureSink('azblob://devstoreaccount1/test/wrong-key', { connectionString: connectionStringFor(proxy.endpoint, wrongKey), env: noEnv, retry: fastRetry });
      for (const attempt of [() => sink.list(''), () => sink.openWriter('x.dat'), () => readAll(sink, 'x.dat')]) {
        const before = proxy.log.length;
        const error = await attempt().then(
          () => assert.fail('a wrong key must fail'),
          (e: unknown) => e,
        );
        assert.ok(isShmsnapError(error, 'PERMISSION_DENIED'), `got ${String(error)}`);
        assert.equal(error.retryable, false);
        assert.equal(error.details['httpStatus'], 403);
        assert.doesNotMatch(error.message, /\n/);
        assert.match(error.message, /azblob:\/\/devstoreaccount1\/test\/wrong-key/);
        assert.equal(proxy.log.length - before, 1, 'a refusal is not retried');
        const text = visibleText(error);
        assert.ok(!text.includes(wrongKey), 'the key is never shown');
      }
    } finally {
      await proxy.stop();
    }
  });

  it('a missing container is LOCATION_NOT_FOUND naming it, for reads, writes and checkExists', async () => {
    const { connectionString } = await azurite();
    const sink = await createAzureSink('azblob://devstoreaccount1/no-such-container/p', { connectionString, env: noEnv, retry: fastRetry });
    for (const attempt of [() => sink.list(''), () => sink.checkExists!(), () => put(sink, 'a.dat', Buffer.from('a'))]) {
      await assert.rejects(attempt(), (e: unknown) => isShmsnapError(e, 'LOCATION_NOT_FOUND') && /container 'no-such-container' does not exist/.test(e.message) && !e.retryable);
    }
    const present = await createAzureSink('azblob://devstoreaccount1/test/p', { connectionString, env: noEnv });
    await present.checkExists!();
  });

  it('without credentials: CONFIG_INVALID naming the three options and their variables', async () => {
    await assert.rejects(createAzureSink('azblob://devstoreaccount1/test', { env: noEnv }), (e: unknown) =>
      isShmsnapError(e, 'CONFIG_INVALID') && /connectionString, accountKey or sasToken/.test(e.message) && /AZURE_STORAGE_CONNECTION_STRING/.test(e.message),
    );
  });

  it('reads the standard variables when no option is given', async () => {
    const { connectionString } = await azurite();
    const sink = await createAzureSink('azblob://devstoreaccount1/test/from-env', { env: { AZURE_STORAGE_CONNECTION_STRING: connectionString }, retry: fastRetry });
    assert.deepEqual(await sink.list(''), []);
    const { endpoint, accountKey } = await azurite();
    const byKey = await createAzureSink('azblob://devstoreaccount1/test/from-env', { endpoint, env: { AZURE_STORAGE_KEY: accountKey }, retry: fastRetry });
    assert.deepEqual(await byKey.list(''), []);
  });

  it('a SAS is sent as the query and never shown, even when the service refuses it', async () => {
    const { endpoint } = await azurite();
    const sas = `sv=2023-11-03&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00:00:00Z&sig=${encodeURIComponent(randomBytes(32).toString('base64'))}`;
    const sink = await createAzureSink('azblob://devstoreaccount1/test/sas', { endpoint, sasToken: sas, env: noEnv, retry: fastRetry });
    const error = await sink.list('').then(
      () => assert.fail('a forged SAS must fail'),
      (e: unknown) => e,
    );
    assert.ok(isShmsnapError(error, 'PERMISSION_DENIED'), `got ${String(error)}`);
    const text = visibleText(error);
    assert.ok(!text.includes(sas) && !text.includes(new URLSearchParams(sas).get('sig')!) && !text.includes(sas.split('sig=')[1]!), 'the SAS is never shown');
  });

  it('loads as a plugin whose provider declares its options, and redacts a location holding a secret', async () => {
    assert.equal(plugin.name, 'shmsnap-sink-azure');
    const provider = plugin.sinks![0]!;
    assert.deepEqual(provider.schemes, ['azblob']);
    assert.deepEqual(provider.options!.filter((o) => o.secret).map((o) => o.name), ['connectionString', 'accountKey', 'sasToken']);
    assert.equal(provider.redact!('azblob://acct/c/p?sv=1&sig=SECRET'), 'azblob://acct/c/p');
    const { connectionString } = await azurite();
    const sink = await createAzureSinkProvider({ retry: fastRetry }).create('azblob://devstoreaccount1/test/provider', { connectionString, env: noEnv });
    assert.equal(sink.location, 'azblob://devstoreaccount1/test/provider');
    assert.deepEqual(await sink.list(''), []);
  });
});
