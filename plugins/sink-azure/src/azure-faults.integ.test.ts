// The Azure sink through a fault-injecting proxy in front of Azurite: 500s,
// 503 ServerBusy and dropped connections on chosen requests. Each case
// asserts that the faults really happened (the proxy's counts), that the
// retries carried the operation through, or, when they could not, that
// nothing partial is visible.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, describe, it } from 'node:test';
import { crc32, isShmsnapError, type RetryEvent, type Sink } from '@shmsnap/core/plugin-kit';
import { createAzureSinkProvider } from './provider.js';
import { startAzureFaultProxy, startAzurite, type AzureFaultProxy, type AzureFaultRule, type AzuriteServer } from './testing/index.js';

const MiB = 1024 * 1024;

let server: Promise<AzuriteServer> | undefined;
const azurite = (): Promise<AzuriteServer> => (server ??= startAzurite({ containers: ['test'] }));
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await (await server)?.stop();
});

let cases = 0;
/** A sink (as the provider makes it: with withRetry) that reaches Azurite through a proxy with `rules`; `direct` reaches it without one. */
async function sinkBehindProxy(rules: AzureFaultRule[], retries: RetryEvent[] = []): Promise<{ sink: Sink; direct: Sink; proxy: AzureFaultProxy }> {
  const az = await azurite();
  const proxy = await startAzureFaultProxy(new URL(az.endpoint).origin, rules, '/devstoreaccount1');
  cases += 1;
  const location = `azblob://devstoreaccount1/test/faults-${cases}`;
  const provider = createAzureSinkProvider({ retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20, onRetry: (event) => retries.push(event) } });
  const sink = await provider.create(location, { connectionString: az.connectionStringFor(proxy.endpoint), blockSizeMib: 1, uploadConcurrency: 2, env: {} });
  const direct = await provider.create(location, { connectionString: az.connectionString, env: {} });
  cleanups.push(async () => {
    for (const object of await direct.list('')) await direct.remove(object.name);
    await proxy.stop();
  });
  return { sink, direct, proxy };
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

async function assertNothingVisible(direct: Sink, name: string): Promise<void> {
  assert.deepEqual((await direct.list('')).map((o) => o.name), [], 'nothing is listed');
  assert.equal(await direct.stat(name), undefined, `${name} is not visible`);
}

describe('azblob sink under faults', () => {
  it('rides out 500s and 503s on Put Block: every block is sent again, the object is whole', async () => {
    const retries: RetryEvent[] = [];
    const { sink, direct, proxy } = await sinkBehindProxy(
      [
        { fault: 'internal-error', comp: 'block', every: 2, times: 2 },
        { fault: 'server-busy', comp: 'block', every: 3, times: 1 },
      ],
      retries,
    );
    const data = randomBytes(6 * MiB + 5);
    await put(sink, 'a.dat', data);
    assert.equal(proxy.counts.byKind['internal-error'], 2);
    assert.equal(proxy.counts.byKind['server-busy'], 1);
    assert.ok(retries.filter((r) => /put block \d/.test(r.what)).length >= 3, `retries: ${retries.map((r) => r.what).join('; ')}`);
    assert.equal(crc32(await readAll(direct, 'a.dat')), crc32(data), 'the object read back differs');
  });

  it('rides out dropped connections on Put Block, before and after the server acted', async () => {
    const { sink, direct, proxy } = await sinkBehindProxy([
      { fault: 'drop-before', comp: 'block', every: 2, times: 1 },
      { fault: 'drop-after', comp: 'block', every: 3, times: 1 },
    ]);
    const data = randomBytes(5 * MiB);
    await put(sink, 'b.dat', data);
    assert.equal(proxy.counts.byKind['drop-before'] + proxy.counts.byKind['drop-after'], 2);
    assert.equal(crc32(await readAll(direct, 'b.dat')), crc32(data));
  });

  it('a Put Block List whose answer is lost is retried and recognised as ours (not OBJECT_EXISTS)', async () => {
    const { sink, direct, proxy } = await sinkBehindProxy([{ fault: 'drop-after', method: 'PUT', comp: 'blocklist', times: 1 }]);
    const data = randomBytes(3 * MiB + 1);
    await put(sink, 'c.dat', data);
    assert.equal(proxy.counts.byKind['drop-after'], 1, 'the commit lost its answer once');
    assert.equal(proxy.log.filter((r) => r.method === 'PUT' && r.query.get('comp') === 'blocklist').length, 2, 'and was sent again');
    assert.equal(proxy.log.filter((r) => r.method === 'GET' && r.query.get('comp') === 'blocklist').length, 1, 'the retry found the blob and asked for its block list');
    assert.equal(crc32(await readAll(direct, 'c.dat')), crc32(data));
  });

  it('a Put Block List dropped before the server saw it is simply sent again', async () => {
    const { sink, direct, proxy } = await sinkBehindProxy([{ fault: 'drop-before', method: 'PUT', comp: 'blocklist', times: 1 }]);
    const data = randomBytes(2 * MiB);
    await put(sink, 'd.dat', data);
    assert.equal(proxy.counts.byKind['drop-before'], 1);
    assert.ok((await readAll(direct, 'd.dat')).equals(data));
  });

  it('a block that keeps failing fails the write retryably, and nothing partial is visible', async () => {
    const { sink, direct, proxy } = await sinkBehindProxy([{ fault: 'internal-error', comp: 'block', when: (r) => r.query.get('blockid') !== null && proxy.log.filter((x) => x.query.get('comp') === 'block').length > 2 }]);
    const data = randomBytes(5 * MiB);
    const writer = await sink.openWriter('e.dat', { expectedBytes: data.length });
    await assert.rejects(pipeline(Readable.from(chunksOf(data, 256 * 1024)), writer.stream), (e: unknown) => isShmsnapError(e, 'REMOTE_FAILED') && e.retryable && e.details['httpStatus'] === 500);
    await assert.rejects(writer.commit(), (e: unknown) => isShmsnapError(e));
    await writer.abort();
    assert.ok(proxy.counts.byKind['internal-error'] >= 4, `faults: ${proxy.counts.byKind['internal-error']}`);
    assert.equal(proxy.log.filter((r) => r.method === 'PUT' && r.query.get('comp') === 'blocklist').length, 0, 'no block list was ever sent');
    await assertNothingVisible(direct, 'e.dat');
  });

  it('a block list that keeps failing fails the commit, and the object does not appear', async () => {
    const { sink, direct, proxy } = await sinkBehindProxy([{ fault: 'server-busy', method: 'PUT', comp: 'blocklist' }]);
    const data = randomBytes(2 * MiB);
    const writer = await sink.openWriter('f.dat', { expectedBytes: data.length });
    await pipeline(Readable.from(chunksOf(data, 256 * 1024)), writer.stream);
    await assert.rejects(writer.commit(), (e: unknown) => isShmsnapError(e, 'REMOTE_FAILED') && e.details['httpStatus'] === 503);
    assert.equal(proxy.counts.byKind['server-busy'], 4, 'four attempts, as the policy says');
    await assertNothingVisible(direct, 'f.dat');
  });

  it('a download that drops mid-body is resumed from the byte it reached (withRetry, ranged reads)', async () => {
    const { sink, direct, proxy } = await sinkBehindProxy([{ fault: 'drop-mid-body', method: 'GET', comp: '', times: 2 }]);
    const data = randomBytes(3 * MiB + 17);
    await put(direct, 'g.dat', data);
    assert.equal(crc32(await readAll(sink, 'g.dat')), crc32(data), 'the resumed download differs');
    assert.equal(proxy.counts.byKind['drop-mid-body'], 2);
    const ranged = proxy.log.filter((r) => r.method === 'GET' && r.headers['x-ms-range'] !== undefined);
    assert.ok(ranged.length >= 2, 'the resumptions asked for ranges');
    assert.equal(crc32(await readAll(sink, 'g.dat', { start: 100, end: 2 * MiB })), crc32(data.subarray(100, 2 * MiB)));
  });

  it('listings and lookups ride out ServerBusy and dropped connections', async () => {
    const { sink, direct, proxy } = await sinkBehindProxy([
      { fault: 'server-busy', comp: 'list', times: 2 },
      { fault: 'drop-before', method: 'HEAD', times: 1 },
    ]);
    await put(direct, 'h.dat', Buffer.from('h'));
    assert.deepEqual((await sink.list('')).map((o) => o.name), ['h.dat']);
    assert.equal((await sink.stat('h.dat'))?.size, 1);
    assert.equal(proxy.counts.byKind['server-busy'], 2);
    assert.equal(proxy.counts.byKind['drop-before'], 1);
  });

  it('an abort while blocks are in flight commits nothing and leaves nothing visible', async () => {
    const { sink, direct } = await sinkBehindProxy([]);
    const controller = new AbortController();
    const writer = await sink.openWriter('i.dat', { signal: controller.signal });
    const data = randomBytes(4 * MiB);
    const writing = pipeline(Readable.from(chunksOf(data, 256 * 1024)), writer.stream).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 5);
    const failure = await writing;
    await writer.abort();
    await assert.rejects(writer.commit(), (e: unknown) => isShmsnapError(e, 'ABORTED'));
    assert.ok(failure === undefined || isShmsnapError(failure, 'ABORTED'), `the write failed with ${String(failure)}`);
    await assertNothingVisible(direct, 'i.dat');
  });
});
