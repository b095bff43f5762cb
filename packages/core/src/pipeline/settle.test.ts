import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { errAborted, isShmsnapError } from '../errors.js';
import { runBounded } from './settle.js';

describe('runBounded', () => {
  it('never runs more than the limit at once and keeps result order', async () => {
    let running = 0;
    let peak = 0;
    const results = await runBounded([5, 1, 4, 2, 3], 2, async (n) => {
      running += 1;
      peak = Math.max(peak, running);
      await sleep(n * 3);
      running -= 1;
      return n * 10;
    }, { what: 'test' });
    assert.equal(peak, 2);
    assert.deepEqual(results, [50, 10, 40, 20, 30]);
  });

  it('aborts the others on the first failure and settles only after all did', async () => {
    const settled: number[] = [];
    await assert.rejects(
      runBounded([0, 1, 2, 3], 4, async (n, signal) => {
        if (n === 1) throw new Error('boom');
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        await sleep(5);
        settled.push(n);
      }, { what: 'test' }),
      /boom/,
    );
    assert.deepEqual(settled.sort(), [0, 2, 3]);
  });

  it('reports the abort reason when the caller aborted', async () => {
    const controller = new AbortController();
    const run = runBounded([1, 2], 1, async (_n, signal) => {
      controller.abort(errAborted('backup'));
      await sleep(1);
      signal.throwIfAborted();
    }, { signal: controller.signal, what: 'backup' });
    await assert.rejects(run, (e: unknown) => isShmsnapError(e, 'ABORTED'));
  });
});
