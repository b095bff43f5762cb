// The fleet view over catalog rows: one row per host and instance, the newest complete backup, counts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BackupListing } from './catalog.js';
import { statusOf } from './status.js';

const now = new Date('2026-12-02T12:00:00.000Z');

function row(location: string, hostname: string | null, instance: number, status: BackupListing['status'], createdAt: string | null, consumed = false): BackupListing {
  return {
    location, prefix: '', status, createdAt, instance, host: hostname === null ? null : { hostname, machineId: null, bootId: null },
    namespaces: [{ name: 'test', nsid: 1 }], segments: 3, rawBytes: 100, storedBytes: 50, codecs: [], problems: [], objects: [], manifest: null, encrypted: false,
    consumed: consumed ? { name: 'shmsnap-consumed-i0-n1.json', consumedAt: null, hostname, pid: null, backupCreatedAt: createdAt } : null,
  };
}

describe('statusOf', () => {
  it('groups by host and instance, picks the newest complete backup, and counts each kind', () => {
    const rows = [
      row('b/0/old', 'b', 0, 'complete', '2026-11-01T00:00:00.000Z'),
      row('a/0/new', 'a', 0, 'complete', '2026-12-02T11:00:00.000Z', true),
      row('a/0/mid', 'a', 0, 'complete', '2026-12-01T12:00:00.000Z'),
      row('a/0/int', 'a', 0, 'interrupted', '2026-12-02T11:30:00.000Z'),
      row('a/1/x', 'a', 1, 'invalid', null),
      row('asmt', null, 0, 'asmt', '2026-12-01T00:00:00.000Z'),
    ];
    const status = statusOf(rows, now);
    assert.deepEqual(status.map((s) => [s.hostname, s.instance, s.newest?.location ?? null, s.newest?.ageMs ?? null, s.newestUnconsumed?.location ?? null]), [
      ['a', 0, 'a/0/new', 3_600_000, 'a/0/mid'],
      ['a', 1, null, null, null],
      ['b', 0, 'b/0/old', now.getTime() - Date.parse('2026-11-01T00:00:00.000Z'), 'b/0/old'],
      [null, 0, null, null, null],
    ]);
    assert.deepEqual(status[0]!.counts, { complete: 2, consumed: 1, interrupted: 1, invalid: 0, asmt: 0, older: 1 });
    assert.deepEqual(status[1]!.counts, { complete: 0, consumed: 0, interrupted: 0, invalid: 1, asmt: 0, older: 0 });
    assert.deepEqual(status[3]!.counts.asmt, 1);
    assert.ok(status[0]!.newest!.consumed, 'the newest one is shown consumed');
  });

  it('says a backup dated ahead of now with a negative age', () => {
    assert.equal(statusOf([row('f', 'a', 0, 'complete', '2026-12-02T13:00:00.000Z')], now)[0]!.newest!.ageMs, -3_600_000);
  });
});
