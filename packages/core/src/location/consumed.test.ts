// Which consumed marker marks which backup, and how leniently a marker is read.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Manifest } from '../format/manifest.js';
import { parseBackupObjectName } from '../format/manifest.js';
import { consumedMarkerOf, consumedNameFor, parseConsumedMarker, serializeConsumedMarker } from './consumed.js';

const manifest = { instance: 0, createdAt: '2026-12-01T00:00:00.000Z', namespaces: [{ name: 'test', nsid: 1 }, { name: 'bar', nsid: 2 }] } as unknown as Manifest;
const backup = { name: 'shmsnap-manifest-i0-n1-2.json', manifest };

describe('consumed markers', () => {
  it("are named after the manifest, in a form ASMT ignores and shmsnap's catalog recognises", () => {
    assert.equal(consumedNameFor(backup), 'shmsnap-consumed-i0-n1-2.json');
    assert.deepEqual(parseBackupObjectName('shmsnap-consumed-i0-n1-2.json'), { kind: 'consumed', instance: 0, nsids: [1, 2] });
  });

  it('mark the manifest they were written for; a marker for an earlier manifest of the same name does not; an unreadable one does', () => {
    const record = serializeConsumedMarker({
      consumedAt: '2026-12-01T01:00:00.000Z', host: { hostname: 'n1', machineId: null, bootId: null }, pid: 7, tool: { name: 'shmsnap', version: '0' },
      backup: { manifest: backup.name, createdAt: manifest.createdAt }, restored: { instance: 0, namespaces: manifest.namespaces, segments: 3, rawBytes: 10 },
    });
    const marker = parseConsumedMarker('shmsnap-consumed-i0-n1-2.json', record);
    assert.deepEqual(marker, { name: 'shmsnap-consumed-i0-n1-2.json', consumedAt: '2026-12-01T01:00:00.000Z', hostname: 'n1', pid: 7, backupCreatedAt: manifest.createdAt });
    assert.equal(consumedMarkerOf(backup, [marker]), marker);
    assert.equal(consumedMarkerOf(backup, [{ ...marker, backupCreatedAt: '2026-11-01T00:00:00.000Z' }]), undefined, 'stale: another backup');
    assert.equal(consumedMarkerOf(backup, [{ ...marker, name: 'shmsnap-consumed-i0-n1.json' }]), undefined, 'another set of namespaces');
    const unreadable = parseConsumedMarker('shmsnap-consumed-i0-n1-2.json', Buffer.from('{not json'));
    assert.deepEqual(unreadable, { name: 'shmsnap-consumed-i0-n1-2.json', consumedAt: null, hostname: null, pid: null, backupCreatedAt: null });
    assert.equal(consumedMarkerOf(backup, [unreadable]), unreadable, 'fail closed');
  });
});
