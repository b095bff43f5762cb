// The retention decision, a pure function over a list: which backups prune keeps and which it removes, and why.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isShmsnapError } from '../errors.js';
import { decideRetention, DEFAULT_INTERRUPTED_OLDER_THAN_MS, type RetentionCandidate, type RetentionPolicy } from './prune.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = new Date('2026-12-02T12:00:00.000Z');
const ago = (ms: number): Date => new Date(now.getTime() - ms);

function complete(name: string, ageMs: number, more: Partial<RetentionCandidate> = {}): RetentionCandidate {
  return { series: 'h1\u00000', status: 'complete', createdAt: ago(ageMs), consumed: false, name, ...more };
}
function interrupted(name: string, lastActivityAgoMs: number | null, more: Partial<RetentionCandidate> = {}): RetentionCandidate {
  return { series: 'h1\u00000', status: 'interrupted', createdAt: null, lastActivity: lastActivityAgoMs === null ? null : ago(lastActivityAgoMs), consumed: false, name, ...more };
}

/** name → [action, reasons] */
function decide(candidates: RetentionCandidate[], policy: RetentionPolicy): Record<string, [string, string[]]> {
  return Object.fromEntries(decideRetention(candidates, policy, now).map((d) => [d.candidate.name, [d.action, [...d.reasons]]]));
}

describe('decideRetention', () => {
  it('keeps the N newest of a host and instance with keepLast, whatever their order in the list', () => {
    const list = [complete('c', 3 * DAY), complete('a', 1 * DAY), complete('d', 4 * DAY), complete('b', 2 * DAY)];
    assert.deepEqual(decide(list, { keepLast: 2 }), {
      a: ['keep', ['keep-last', 'newest-unconsumed']],
      b: ['keep', ['keep-last']],
      c: ['remove', ['outside-rules']],
      d: ['remove', ['outside-rules']],
    });
  });

  it('keeps what is within keepWithin, the boundary included', () => {
    const list = [complete('new', 1 * HOUR), complete('edge', 2 * DAY), complete('old', 2 * DAY + 1)];
    assert.deepEqual(decide(list, { keepWithinMs: 2 * DAY }), {
      new: ['keep', ['keep-within', 'newest-unconsumed']],
      edge: ['keep', ['keep-within']],
      old: ['remove', ['outside-rules']],
    });
  });

  it('with both rules keeps a backup that either rule keeps', () => {
    const list = [complete('a', 1 * HOUR), complete('b', 2 * HOUR), complete('c', 3 * DAY), complete('d', 10 * DAY)];
    assert.deepEqual(decide(list, { keepLast: 3, keepWithinMs: 3 * HOUR }), {
      a: ['keep', ['keep-last', 'keep-within', 'newest-unconsumed']],
      b: ['keep', ['keep-last', 'keep-within']],
      c: ['keep', ['keep-last']],
      d: ['remove', ['outside-rules']],
    });
  });

  it('never removes the newest complete unconsumed backup, even when every rule says so', () => {
    const list = [complete('only', 30 * DAY)];
    assert.deepEqual(decide(list, { keepWithinMs: DAY }), { only: ['keep', ['newest-unconsumed']] });
  });

  it('protects the newest unconsumed one when the newest is consumed (the node ran since), and removes neither', () => {
    const list = [complete('restored', 1 * DAY, { consumed: true }), complete('previous', 2 * DAY), complete('older', 3 * DAY)];
    assert.deepEqual(decide(list, { keepLast: 1 }), {
      restored: ['keep', ['keep-last']],
      previous: ['keep', ['newest-unconsumed']],
      older: ['remove', ['outside-rules']],
    });
  });

  it('removes a consumed backup the rules do not keep, and protects nothing when all are consumed', () => {
    const list = [complete('a', 1 * DAY, { consumed: true }), complete('b', 2 * DAY, { consumed: true })];
    assert.deepEqual(decide(list, { keepLast: 1 }), { a: ['keep', ['keep-last']], b: ['remove', ['outside-rules']] });
  });

  it('decides per host and instance: keepLast counts within each series', () => {
    const list = [
      complete('h1-new', 1 * DAY), complete('h1-old', 2 * DAY),
      complete('h2-new', 5 * DAY, { series: 'h2\u00000' }), complete('h2-old', 6 * DAY, { series: 'h2\u00000' }),
      complete('h1i1-old', 9 * DAY, { series: 'h1\u00001' }),
    ];
    assert.deepEqual(decide(list, { keepLast: 1 }), {
      'h1-new': ['keep', ['keep-last', 'newest-unconsumed']],
      'h1-old': ['remove', ['outside-rules']],
      'h2-new': ['keep', ['keep-last', 'newest-unconsumed']],
      'h2-old': ['remove', ['outside-rules']],
      'h1i1-old': ['keep', ['keep-last', 'newest-unconsumed']],
    });
  });

  it('keeps a backup dated ahead of now (clock skew) without letting it stand for the newest, and ties by name', () => {
    const list = [complete('future', -2 * DAY), complete('skewed', -60_000), complete('x-now', 0), complete('y-now', 0), complete('old', 5 * DAY)];
    assert.deepEqual(decide(list, { keepLast: 1 }), {
      future: ['keep', ['future']],
      // A minute ahead is within the allowance: it is the newest.
      skewed: ['keep', ['keep-last', 'newest-unconsumed']],
      'x-now': ['remove', ['outside-rules']],
      'y-now': ['remove', ['outside-rules']],
      old: ['remove', ['outside-rules']],
    });
    // Within the allowance and within keepWithin: its age counts as negative, i.e. recent.
    assert.deepEqual(decide([complete('skewed', -60_000)], { keepWithinMs: HOUR }).skewed, ['keep', ['keep-within', 'newest-unconsumed']]);
  });

  it('removes interrupted backups inactive for longer than the threshold, never younger ones nor those of unknown age', () => {
    const list = [
      interrupted('stale', DEFAULT_INTERRUPTED_OLDER_THAN_MS),
      interrupted('running', 10 * 60_000),
      interrupted('ahead', -HOUR),
      interrupted('unknown', null),
      interrupted('custom', 3 * HOUR),
      complete('kept', HOUR),
    ];
    assert.deepEqual(decide(list, { keepLast: 5 }), {
      stale: ['remove', ['interrupted-stale']],
      running: ['keep', ['interrupted-recent']],
      ahead: ['keep', ['interrupted-recent']],
      unknown: ['keep', ['interrupted-unknown-age']],
      custom: ['keep', ['interrupted-recent']],
      kept: ['keep', ['keep-last', 'newest-unconsumed']],
    });
    assert.deepEqual(decide(list, { keepLast: 5, interruptedOlderThanMs: 2 * HOUR }).custom, ['remove', ['interrupted-stale']]);
  });

  it('interrupted backups do not count among the newest kept', () => {
    const list = [interrupted('i', 48 * HOUR, { createdAt: ago(0) }), complete('a', DAY), complete('b', 2 * DAY)];
    assert.deepEqual(decide(list, { keepLast: 2 }), { i: ['remove', ['interrupted-stale']], a: ['keep', ['keep-last', 'newest-unconsumed']], b: ['keep', ['keep-last']] });
  });

  it('finishes a removal a prune began (its marker says so), however young', () => {
    assert.deepEqual(decide([interrupted('half', 1000, { pruning: true })], { keepLast: 1 }), { half: ['remove', ['prune-unfinished']] });
  });

  it('refuses a policy without a rule for what to keep, and nonsense values, with CONFIG_INVALID', () => {
    for (const policy of [{}, { interruptedOlderThanMs: HOUR }, { keepLast: 0 }, { keepLast: 1.5 }, { keepWithinMs: -1 }, { keepLast: 1, interruptedOlderThanMs: 0 }]) {
      assert.throws(() => decideRetention([complete('a', 1)], policy, now), (error: unknown) => isShmsnapError(error, 'CONFIG_INVALID'), JSON.stringify(policy));
    }
  });
});
