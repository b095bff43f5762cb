import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { handOver, isHandedOver } from './chunk-ownership.js';

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
