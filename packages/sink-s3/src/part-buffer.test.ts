import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PartBuffer } from './part-buffer.js';

describe('PartBuffer', () => {
  it('copies chunks in, grows by doubling, and stops at its limit', () => {
    const part = new PartBuffer(10, 2);
    const chunk = Buffer.from('abcdefgh');
    assert.equal(part.append(chunk, 0), 8);
    assert.equal(part.capacity, 8);
    chunk.fill(0); // the caller may reuse its chunk at once
    assert.equal(part.append(Buffer.from('0123456'), 2), 2);
    assert.equal(part.capacity, 10);
    assert.ok(part.full);
    assert.equal(part.append(Buffer.from('x'), 0), 0);
    assert.equal(part.view().toString(), 'abcdefgh23');
  });
});
