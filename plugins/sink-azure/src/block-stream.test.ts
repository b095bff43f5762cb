// The block stream and the sink's block slots, on a fake stage function:
// blocks cut at the block size, the last one short, at most the slots'
// limit in flight across writers, memory bounded, a failed block failing the
// stream, a destroy waiting for the blocks in flight.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { isShmsnapError } from '@shmsnap/core/plugin-kit';
import { blockBytesFor } from './azure-sink.js';
import { createBlockSlots } from './block-slots.js';
import { blockIdOf, BlockStream, type BlockStreamOptions } from './block-stream.js';

const MiB = 1024 * 1024;

function stream(overrides: Partial<BlockStreamOptions> & Pick<BlockStreamOptions, 'stage'>): BlockStream {
  return new BlockStream({ blockBytes: 1024, maxBlocks: 50_000, slots: createBlockSlots(2), object: 'azblob://a/c/x', location: 'azblob://a/c', ...overrides });
}

function chunks(total: number, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < total; at += size) out.push(Buffer.alloc(Math.min(size, total - at), at % 251));
  return out;
}

describe('block stream', () => {
  it('cuts the bytes into blocks of the block size, the last one short, each with an ID of the same length', async () => {
    const staged: { index: number; id: string; bytes: number }[] = [];
    const s = stream({ stage: async (index, id, body) => void staged.push({ index, id, bytes: body.length }) });
    await pipeline(Readable.from(chunks(5000, 300)), s);
    assert.deepEqual(staged.map((b) => b.bytes), [1024, 1024, 1024, 1024, 904]);
    assert.deepEqual(staged.map((b) => b.id), s.blockIds);
    assert.equal(new Set(s.blockIds.map((id) => id.length)).size, 1, 'every ID has the same length');
    assert.equal(new Set(s.blockIds).size, 5, 'IDs are distinct');
    assert.equal(s.bytes, 5000);
  });

  it('copies chunks in: a chunk changed after its write does not change the block', async () => {
    const bodies: Buffer[] = [];
    const s = stream({ blockBytes: 8, stage: async (_i, _id, body) => void bodies.push(Buffer.from(body)) });
    const chunk = Buffer.from('abcdefgh');
    await new Promise<void>((resolve, reject) => s.write(chunk, (e) => (e ? reject(e) : resolve())));
    chunk.fill(0);
    await new Promise<void>((resolve) => s.end(resolve));
    assert.equal(bodies[0]!.toString(), 'abcdefgh');
  });

  it('keeps at most the slots in flight across two writers, and bounds each writer to its blocks', async () => {
    const slots = createBlockSlots(2);
    let inFlight = 0;
    let peak = 0;
    const stage = async (): Promise<void> => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight -= 1;
    };
    const a = stream({ slots, blockBytes: 64 * 1024, stage });
    const b = stream({ slots, blockBytes: 64 * 1024, stage });
    await Promise.all([pipeline(Readable.from(chunks(2 * MiB, 16 * 1024)), a), pipeline(Readable.from(chunks(2 * MiB, 16 * 1024)), b)]);
    assert.ok(peak <= 2, `blocks in flight: ${peak}`);
    assert.equal(slots.peak, 2);
    assert.equal(slots.taken, 0, 'every slot is given back');
    // Filling one block while the slots' two are in flight: three blocks at most, whatever the object's size.
    assert.ok(a.peakHeldBytes <= 3 * 64 * 1024, `held ${a.peakHeldBytes}`);
  });

  it('a small object costs a small buffer, not a whole block', async () => {
    const s = stream({ blockBytes: 8 * MiB, stage: async () => undefined });
    await pipeline(Readable.from([Buffer.from('{"manifest":true}')]), s);
    assert.ok(s.peakHeldBytes <= 64 * 1024, `held ${s.peakHeldBytes}`);
  });

  it('a block that fails fails the stream, and the blocks still in flight are cancelled', async () => {
    const cancelled: number[] = [];
    const s = stream({
      stage: (index, _id, _body, signal) =>
        index === 1
          ? Promise.reject(Object.assign(new Error('boom'), { code: 'X' }))
          : new Promise<void>((resolve) => {
              if (index > 3) return resolve();
              signal.addEventListener('abort', () => {
                cancelled.push(index);
                resolve();
              });
            }),
    });
    await assert.rejects(pipeline(Readable.from(chunks(10_000, 512)), s), /boom/);
    assert.ok(cancelled.includes(0), `cancelled: ${cancelled.join(',')}`);
  });

  it('refuses bytes beyond expectedBytes as they come', async () => {
    const s = stream({ expectedBytes: 1000, stage: async () => undefined });
    await assert.rejects(pipeline(Readable.from(chunks(1500, 400)), s), (e: unknown) => isShmsnapError(e, 'SIZE_MISMATCH'));
  });

  it('refuses a block past the object limit with OBJECT_TOO_LARGE', async () => {
    const s = stream({ maxBlocks: 2, stage: async () => undefined });
    await assert.rejects(pipeline(Readable.from(chunks(4096, 512)), s), (e: unknown) => isShmsnapError(e, 'OBJECT_TOO_LARGE'));
  });

  it("a destroy waits for the blocks in flight before 'close'", async () => {
    let settled = false;
    const s = stream({
      stage: (_i, _id, _b, signal) =>
        new Promise<void>((resolve) =>
          signal.addEventListener('abort', () =>
            setTimeout(() => {
              settled = true;
              resolve();
            }, 10),
          ),
        ),
    });
    s.write(Buffer.alloc(1024));
    await new Promise((resolve) => setImmediate(resolve));
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.destroy();
    await closed;
    assert.ok(settled, "'close' came only after the block in flight settled");
  });

  it('block IDs are base64 of a fixed-length text, distinct per writer', () => {
    assert.equal(Buffer.from(blockIdOf('0123456789abcdef', 7), 'base64').toString(), '0123456789abcdef-000007');
    assert.equal(blockIdOf('0123456789abcdef', 0).length, blockIdOf('0123456789abcdef', 49_999).length);
  });

  it('block size grows only for objects 50,000 blocks cannot hold', () => {
    assert.equal(blockBytesFor(8 * MiB, undefined), 8 * MiB);
    assert.equal(blockBytesFor(8 * MiB, 100 * 1024 * MiB), 8 * MiB);
    assert.equal(blockBytesFor(8 * MiB, 1024 * 1024 * MiB), 21 * MiB, '1 TiB / 50,000 blocks, rounded up to whole MiB');
  });
});
