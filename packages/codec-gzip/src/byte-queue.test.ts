import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteQueue } from './byte-queue.js';

describe('ByteQueue', () => {
  it('takes views across chunks without copying, naming the chunk of each, and tells each chunk once it is spent', () => {
    const spent: Buffer[] = [];
    const queue = new ByteQueue((chunk) => spent.push(chunk));
    const a = Buffer.from('abcde');
    const b = Buffer.from('fgh');
    const c = Buffer.from('ijklmn');
    for (const chunk of [a, b, c]) queue.push(chunk);
    const sources: Buffer[] = [];
    const views = queue.takeViews(7, sources);
    assert.deepEqual(views.map(String), ['abcde', 'fg']);
    assert.deepEqual(sources, [a, b]);
    assert.equal(views[0]!.buffer, a.buffer, 'a view, not a copy');
    assert.deepEqual(spent, [a]);
    assert.equal(String(queue.take(4)), 'hijk', 'take copies only what straddles');
    assert.deepEqual(spent, [a, b]);
    assert.equal(queue.length, 3);
    assert.deepEqual(queue.takeViews(3, sources).map(String), ['lmn']);
    assert.deepEqual(spent, [a, b, c]);
    assert.throws(() => queue.takeViews(1, sources), RangeError);
  });
});
