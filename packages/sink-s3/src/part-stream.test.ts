import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { errRemoteFailed, isShmsnapError } from '@shmsnap/core';
import type { PartPlan } from './part-plan.js';
import { PartStream, type PartStreamOptions } from './part-stream.js';
import { createUploadSlots } from './upload-slots.js';

// Parts of 8 KiB: above Buffer's pool threshold, so each part buffer is its own allocation.
const PART = 8 * 1024;
const plan: PartPlan = { baseBytes: PART, fixedParts: 1000, growEvery: 1000, maxParts: 1000 };

/** A sendPart whose requests wait until released, recording what it saw. */
function gatedSender() {
  const held: { partNumber: number; body: Buffer; signal: AbortSignal; release(error?: Error): void }[] = [];
  let inFlight = 0;
  let peakInFlight = 0;
  const sent: { partNumber: number; bytes: Buffer; memory: ArrayBufferLike }[] = [];
  const sendPart: PartStreamOptions['sendPart'] = (partNumber, body, signal) =>
    new Promise<void>((resolve, reject) => {
      inFlight += 1;
      peakInFlight = Math.max(peakInFlight, inFlight);
      held.push({
        partNumber,
        body,
        signal,
        release(error) {
          inFlight -= 1;
          if (error) return reject(error);
          sent.push({ partNumber, bytes: Buffer.from(body), memory: body.buffer });
          resolve();
        },
      });
    });
  return { held, sent, sendPart, peak: () => peakInFlight };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const chunksOf = (data: Buffer, size: number): Buffer[] =>
  Array.from({ length: Math.ceil(data.length / size) }, (_, i) => data.subarray(i * size, (i + 1) * size));

describe('PartStream', () => {
  it('holds at most (concurrency + 1) parts: accepts no more bytes while parts are stuck, and reuses their memory', async () => {
    const concurrency = 2;
    const sender = gatedSender();
    const data = randomBytes(20 * PART + 123);
    const stream = new PartStream({ plan, concurrency, expectedBytes: data.length, object: 'mem://x', sendPart: sender.sendPart });
    const writing = pipeline(Readable.from(chunksOf(data, 3000)), stream);

    // Nothing is released: the writes must stop once `concurrency` parts are out and the next one is full.
    for (let i = 0; i < 20; i += 1) await tick();
    assert.equal(sender.held.length, concurrency);
    assert.ok(stream.bytes <= (concurrency + 1) * PART, `accepted ${stream.bytes} bytes with every part stuck`);
    assert.ok(stream.heldBytes <= (concurrency + 1) * PART);

    // Release parts one by one, as a slow store would.
    while (!stream.writableFinished) {
      const next = sender.held.shift();
      if (next) next.release();
      await tick();
    }
    await writing;
    assert.equal(sender.peak(), concurrency);
    assert.ok(stream.peakHeldBytes <= (concurrency + 1) * PART, `peak ${stream.peakHeldBytes}`);
    const memories = new Set(sender.sent.map((part) => part.memory));
    assert.ok(memories.size <= concurrency + 1, `${memories.size} part buffers allocated`);
    const back = Buffer.concat(sender.sent.sort((a, b) => a.partNumber - b.partNumber).map((part) => part.bytes));
    assert.ok(back.equals(data), 'the parts must hold the bytes, in order');
    assert.equal(stream.partsStarted, 21);
    assert.equal(stream.singlePart(), undefined);
  });

  it('shares the sink\'s slots among writers: parts in flight stay at the sink\'s limit, each writer holds at most 2 more', async () => {
    const slots = createUploadSlots(3);
    const sender = gatedSender();
    const objects = [0, 1, 2, 3].map(() => randomBytes(12 * PART + 77));
    const streams = objects.map((data, i) => new PartStream({ plan, concurrency: 3, slots, expectedBytes: data.length, object: `mem://${i}`, sendPart: sender.sendPart }));
    const writing = streams.map((stream, i) => pipeline(Readable.from(chunksOf(objects[i]!, 3000)), stream));

    for (let i = 0; i < 20; i += 1) await tick();
    // Four writers, 3 concurrency each: without sharing, 12 parts would be out.
    assert.equal(sender.held.length, 3);
    assert.equal(slots.inUse, 3);
    while (!streams.every((stream) => stream.writableFinished)) {
      sender.held.shift()?.release();
      await tick();
      assert.ok(sender.held.length <= 3, `${sender.held.length} parts in flight`);
      const held = streams.reduce((sum, stream) => sum + stream.heldBytes, 0);
      assert.ok(held <= (3 + 2 * streams.length) * PART, `${held} bytes held by the writers`);
    }
    await Promise.all(writing);
    assert.equal(slots.inUse, 0, 'every slot is given back');
    assert.equal(sender.peak(), 3);
    for (const [i, data] of objects.entries()) assert.equal(streams[i]!.bytes, data.length);
    assert.equal(sender.sent.reduce((sum, part) => sum + part.bytes.length, 0), objects.reduce((sum, data) => sum + data.length, 0), 'every byte was sent once');
  });

  it('gives its slots back when a part fails, so the other writers go on', async () => {
    const slots = createUploadSlots(2);
    const sender = gatedSender();
    const failing = new PartStream({ plan, concurrency: 2, slots, object: 'mem://bad', sendPart: sender.sendPart });
    const good = randomBytes(6 * PART + 5);
    const healthy = new PartStream({ plan, concurrency: 2, slots, expectedBytes: good.length, object: 'mem://good', sendPart: sender.sendPart });
    const bad = pipeline(Readable.from(chunksOf(randomBytes(10 * PART), 3000)), failing);
    for (let i = 0; i < 20; i += 1) await tick();
    assert.equal(slots.inUse, 2);
    const ok = pipeline(Readable.from(chunksOf(good, 3000)), healthy);
    sender.held.shift()!.release(errRemoteFailed('upload of part 1', 'mem://bad', false));
    await tick();
    // The failed writer's other part is cancelled (its signal aborted), as a request would be.
    for (const held of sender.held.filter((part) => part.signal.aborted)) {
      sender.held.splice(sender.held.indexOf(held), 1);
      held.release(new Error('cancelled'));
    }
    await assert.rejects(bad);
    while (!healthy.writableFinished) {
      sender.held.shift()?.release();
      await tick();
    }
    await ok;
    assert.equal(slots.inUse, 0);
    assert.equal(healthy.bytes, good.length);
  });

  it('keeps an object of exactly one part for a single PutObject', async () => {
    const sender = gatedSender();
    const data = randomBytes(PART);
    const stream = new PartStream({ plan, concurrency: 2, object: 'mem://x', sendPart: sender.sendPart });
    await pipeline(Readable.from(chunksOf(data, 1000)), stream);
    assert.equal(sender.held.length, 0);
    assert.ok(stream.singlePart()?.equals(data));
  });

  it('refuses more bytes than expected as they come', async () => {
    const stream = new PartStream({ plan, concurrency: 2, expectedBytes: 10, object: 'mem://x', sendPart: gatedSender().sendPart });
    await assert.rejects(pipeline(Readable.from([Buffer.alloc(6), Buffer.alloc(6)]), stream), (error) => isShmsnapError(error, 'SIZE_MISMATCH'));
  });

  it('a failed part fails the stream, cancels the others, and closes only once none is in flight', async () => {
    const sender = gatedSender();
    const stream = new PartStream({ plan, concurrency: 2, object: 'mem://x', sendPart: sender.sendPart });
    const writing = pipeline(Readable.from(chunksOf(randomBytes(10 * PART), PART)), stream);
    for (let i = 0; i < 20; i += 1) await tick();
    const [first, second] = sender.held;
    assert.ok(first && second);
    let closed = false;
    stream.once('close', () => {
      closed = true;
    });
    first.release(errRemoteFailed('s3 upload part 1', 'mem://x', false));
    await tick();
    assert.equal(second.signal.aborted, true, 'the other part in flight is cancelled');
    await tick();
    assert.equal(closed, false, "'close' waits for the part still in flight");
    second.release(new Error('cancelled'));
    await assert.rejects(writing, (error) => isShmsnapError(error, 'REMOTE_FAILED'));
    await tick();
    assert.equal(closed, true);
  });
});
