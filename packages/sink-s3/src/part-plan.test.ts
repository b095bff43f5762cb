import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isShmsnapError } from '@shmsnap/core';
import { partBytesAt, planCapacity, planParts } from './part-plan.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

describe('part plan', () => {
  it('uses partSizeBytes when the object fits in maxParts parts of it', () => {
    const plan = planParts({ partSizeBytes: 16 * MiB, maxParts: 10_000, expectedBytes: 100 * MiB, object: 'x' });
    assert.equal(plan.baseBytes, 16 * MiB);
    assert.equal(partBytesAt(plan, 1), 16 * MiB);
    assert.equal(partBytesAt(plan, 7), 16 * MiB);
  });

  it('raises the part size to size / maxParts, rounded up to a MiB', () => {
    const plan = planParts({ partSizeBytes: 16 * MiB, maxParts: 10_000, expectedBytes: 1 * TiB, object: 'x' });
    assert.equal(plan.baseBytes, 105 * MiB);
    assert.ok(plan.baseBytes * 10_000 >= TiB);
    const hinted = planParts({ partSizeBytes: 5 * MiB, maxParts: 4, sizeHint: 50 * MiB + 1, object: 'x' });
    assert.equal(hinted.baseBytes, 13 * MiB);
  });

  it('grows parts when the size is unknown so that maxParts is never exceeded', () => {
    const small = planParts({ partSizeBytes: 5 * MiB, maxParts: 4, object: 'x' });
    assert.deepEqual([1, 2, 3, 4].map((n) => partBytesAt(small, n) / MiB), [5, 10, 20, 40]);
    const aws = planParts({ partSizeBytes: 16 * MiB, maxParts: 10_000, object: 'x' });
    assert.equal(partBytesAt(aws, 1), 16 * MiB);
    assert.equal(partBytesAt(aws, 1250), 16 * MiB);
    assert.equal(partBytesAt(aws, 1251), 32 * MiB);
    assert.equal(planCapacity(aws), 5 * TiB, 'an unknown size up to S3 maximum fits in 10 000 parts');
    for (let n = 1; n <= 10_000; n += 1) {
      const bytes = partBytesAt(aws, n);
      assert.ok(bytes % MiB === 0 && bytes <= 5 * GiB && bytes >= partBytesAt(aws, Math.max(1, n - 1)));
    }
  });

  it('grows beyond a hint that was too low', () => {
    const plan = planParts({ partSizeBytes: 5 * MiB, maxParts: 20, sizeHint: 20 * MiB, object: 'x' });
    assert.equal(plan.fixedParts, 4);
    assert.equal(partBytesAt(plan, 4), 5 * MiB);
    assert.ok(partBytesAt(plan, 5) > 5 * MiB);
    assert.ok(planCapacity(plan) > 20 * 5 * MiB);
  });

  it('refuses more than 5 TiB, and sizes maxParts cannot hold', () => {
    assert.throws(() => planParts({ partSizeBytes: 5 * MiB, maxParts: 10_000, expectedBytes: 5 * TiB + 1, object: 'x' }), (e) => isShmsnapError(e, 'SIZE_MISMATCH'));
    assert.throws(() => planParts({ partSizeBytes: 5 * MiB, maxParts: 2, expectedBytes: 11 * GiB, object: 'x' }), (e) => isShmsnapError(e, 'CONFIG_INVALID'));
    // A hint is an estimate: clamped, not refused.
    assert.equal(planParts({ partSizeBytes: 5 * MiB, maxParts: 10_000, sizeHint: 6 * TiB, object: 'x' }).baseBytes, 525 * MiB);
  });
});
