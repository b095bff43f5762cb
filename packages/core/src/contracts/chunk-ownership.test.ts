import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { handOver, isHandedOver, MemoryStock, recyclerOf } from './chunk-ownership.js';

describe('chunk ownership', () => {
  it('marks a buffer of its own, and only that object', () => {
    const own = Buffer.allocUnsafeSlow(64);
    assert.equal(isHandedOver(own), false);
    assert.equal(handOver(own), own);
    assert.equal(isHandedOver(own), true);
    // Another view of the same memory carries no mark: a consumer copies it.
    assert.equal(isHandedOver(new Uint8Array(own.buffer)), false);
  });

  it('refuses a view of part of a buffer, a pooled Buffer, and a SharedArrayBuffer', () => {
    const refuse = /only a chunk spanning its whole, unshared ArrayBuffer/;
    assert.throws(() => handOver(Buffer.allocUnsafeSlow(64).subarray(1)), refuse);
    assert.throws(() => handOver(Buffer.allocUnsafe(16)), refuse);
    assert.throws(() => handOver(new Uint8Array(new SharedArrayBuffer(16))), refuse);
  });
});

describe('recycling handed-over memory', () => {
  it('keeps the recycler with the chunk, and none for a chunk handed over without one', () => {
    const recycled: ArrayBuffer[] = [];
    const recycle = (memory: ArrayBuffer): void => void recycled.push(memory);
    const withOne = handOver(Buffer.allocUnsafeSlow(32), recycle);
    const without = handOver(Buffer.allocUnsafeSlow(32));
    assert.equal(recyclerOf(withOne), recycle);
    assert.equal(recyclerOf(without), undefined);
    assert.equal(recyclerOf(Buffer.allocUnsafeSlow(32)), undefined, 'not handed over at all');
  });

  it('a stock gives back memory of the size asked for, keeps no more than its capacity, and allocates otherwise', () => {
    const stock = new MemoryStock(2);
    const a = stock.take(4096);
    const b = stock.take(4096);
    const c = stock.take(4096);
    assert.notEqual(a.buffer, b.buffer);
    for (const chunk of [a, b, c]) stock.recycle(chunk.buffer as ArrayBuffer);
    // Two kept (the capacity), so two reused and the third fresh.
    const taken = [stock.take(4096), stock.take(4096), stock.take(4096)];
    const reused = taken.filter((t) => t.buffer === a.buffer || t.buffer === b.buffer || t.buffer === c.buffer);
    assert.equal(reused.length, 2);
    for (const t of taken) {
      assert.equal(t.byteOffset, 0);
      assert.equal(t.length, 4096);
      handOver(t); // spans its whole ArrayBuffer: can be handed over again
    }
    stock.recycle(Buffer.allocUnsafeSlow(100).buffer as ArrayBuffer);
    assert.equal(stock.take(4096).length, 4096, 'memory of another size is not handed out for this one');
    stock.recycle(new ArrayBuffer(0));
    assert.equal(stock.take(0).length, 0);
  });
});
