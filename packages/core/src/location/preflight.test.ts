// Pre-flight's assessment, pure: each finding from aerospike.conf now, what
// the backup recorded and what its segments hold; the stripe geometry asd
// computes; the record a backup writes, and the manifest that carries it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAerospikeConf, type AerospikeConfRead } from '../host/aerospike-conf.js';
import { parseManifest, serializeManifest, type Manifest } from '../format/manifest.js';
import { aerospikeRecord, assessPreflight, confWarning, preflightWarnings, stripeGeometry, worstExpectation, type PreflightNamespaceFacts } from './preflight.js';

const MiB = 2 ** 20;
const confOf = (text: string): AerospikeConfRead => ({ path: '/etc/aerospike/aerospike.conf', conf: parseAerospikeConf(text) });
const memory = (dataSize: string, sprigs = '256') => `namespace test {\n  partition-tree-sprigs ${sprigs}\n  storage-engine memory {\n    data-size ${dataSize}\n  }\n}\n`;
const base = { version: 12, shutdownStatus: 1, namespace: 'test', primaryStageCount: 2, stageSize: 256 * 1024 };

/** A namespace backed up under `text`: the record a backup would have written, 8 stripes of 8 MiB. */
function backedUp(text: string, overrides: Partial<PreflightNamespaceFacts> = {}): PreflightNamespaceFacts {
  const record = aerospikeRecord({ conf: confOf(text), build: 'Aerospike Community Edition build 7.1.0.0' }, ['test'], new Map([['test', base]]));
  return { name: 'test', nsid: 1, recorded: { record, namespace: record.namespaces[0] }, base, dataStripes: Array(8).fill(8 * MiB), hasSecondaryIndex: false, ...overrides };
}

const assess = (facts: PreflightNamespaceFacts, now: string | AerospikeConfRead) => assessPreflight({ conf: typeof now === 'string' ? confOf(now) : now, namespaces: [facts] });
const finding = (a: ReturnType<typeof assess>, what: string) => a.namespaces[0]!.findings.find((f) => f.what === what);

describe('stripeGeometry', () => {
  it("memory-only: max(8, ⌈data-size ÷ 2 TiB⌉) stripes of data-size ÷ n rounded down to 8 MiB (drv_mem.c)", () => {
    assert.deepEqual(stripeGeometry({ type: 'memory', dataSize: '64M', files: [], devices: [] }), { count: 8, size: 8 * MiB, basis: 'data-size 64M' });
    assert.equal(stripeGeometry({ type: 'memory', dataSize: '100M', files: [], devices: [] })!.size, 8 * MiB, '12.5 MiB each, rounded down');
    assert.deepEqual(stripeGeometry({ type: 'memory', dataSize: '20T', files: [], devices: [] })!.count, 10);
  });

  it('shadows: one stripe per file (of filesize) or device (size unknown); other engines keep no data in shared memory', () => {
    assert.deepEqual(stripeGeometry({ type: 'memory', filesize: '1M', files: ['/a', '/b'], devices: [] }), { count: 2, size: MiB, basis: '2 file(s) of filesize 1M' });
    assert.equal(stripeGeometry({ type: 'memory', files: [], devices: ['/dev/a'] })!.size, undefined);
    assert.equal(stripeGeometry({ type: 'device', files: [], devices: ['/dev/a'] }), undefined);
    assert.equal(stripeGeometry({ type: 'memory', files: [], devices: [] }), undefined, 'before 7.0: no data-size');
  });
});

describe('assessPreflight', () => {
  it('unchanged: a warm start, every finding warm, nothing to warn about', () => {
    const a = assess(backedUp(memory('64M')), memory('64M'));
    assert.equal(a.expect, 'warm');
    assert.deepEqual(a.namespaces[0]!.findings.map((f) => [f.what, f.expect]), [['clean-shutdown', 'warm'], ['partition-tree-sprigs', 'warm'], ['index-type', 'warm'], ['stripes', 'warm']]);
    assert.deepEqual(preflightWarnings(a), []);
  });

  it('sprigs changed: a cold start, with both values and asd\'s own message', () => {
    const a = assess(backedUp(memory('64M')), memory('64M', '1024'));
    assert.equal(a.expect, 'cold');
    const f = finding(a, 'partition-tree-sprigs')!;
    assert.deepEqual([f.expect, f.backup, f.now, f.derived], ['cold', '256', '1024', false]);
    assert.match(f.reason, /persistent memory partition-tree-sprigs 256 doesn't match config 1024/);
    assert.deepEqual(preflightWarnings(a), [`namespace 'test': cold start expected: ${f.reason}`]);
  });

  it('sprigs left to the default on one side: compared as asd uses them (256)', () => {
    const noSprigs = 'namespace test {\n  storage-engine memory {\n    data-size 64M\n  }\n}\n';
    assert.equal(assess(backedUp(noSprigs), memory('64M', '256')).expect, 'warm');
    assert.equal(assess(backedUp(noSprigs), memory('64M', '512')).expect, 'cold');
  });

  it('data-size changed: a crash risk on recorded evidence (not derived); the same size written another way is no change', () => {
    const a = assess(backedUp(memory('64M')), memory('128M'));
    assert.equal(a.expect, 'crash-risk');
    const f = finding(a, 'data-size')!;
    assert.deepEqual([f.backup, f.now, f.derived], ['64M', '128M', false]);
    assert.match(preflightWarnings(a)[0]!, /^namespace 'test': crash risk at the next start: data-size changed from 64M to 128M/);
    assert.equal(assess(backedUp(memory('64M')), memory('65536K')).expect, 'warm');
  });

  it("stripes that do not fit the conf's geometry: a derived crash risk, even without a record", () => {
    const a = assess(backedUp(memory('64M'), { recorded: undefined, dataStripes: Array(8).fill(4 * MiB) }), memory('64M'));
    const f = finding(a, 'stripes')!;
    assert.deepEqual([f.expect, f.derived, f.backup, f.now], ['crash-risk', true, '8 stripes of 4194304 bytes (4.0 MiB)', '8 stripes of 8388608 bytes (8.0 MiB)']);
    assert.match(preflightWarnings(a)[0]!, /crash risk at the next start \(derived\)/);
  });

  it('no record (ASMT files, an older manifest): unknown where a comparison needs one, never cold or crash for that', () => {
    const a = assess(backedUp(memory('64M'), { recorded: undefined }), memory('64M'));
    assert.equal(a.expect, 'unknown');
    assert.deepEqual(a.namespaces[0]!.findings.filter((f) => f.expect === 'unknown').map((f) => f.what), ['partition-tree-sprigs', 'data-size']);
    assert.match(finding(a, 'partition-tree-sprigs')!.reason, /records no Aerospike settings/);
    assert.deepEqual(preflightWarnings(a), []);
  });

  it('the conf unreadable now: unknown, saying why; the namespace gone from it: cold', () => {
    const unread = assess(backedUp(memory('64M')), { path: '/x.conf', missing: true, error: 'ENOENT' });
    assert.equal(unread.expect, 'unknown');
    assert.match(finding(unread, 'conf')!.reason, /\/x\.conf could not be read \(ENOENT\)/);
    const gone = assess(backedUp(memory('64M')), 'namespace other {\n}\n');
    assert.equal(gone.expect, 'cold');
    assert.match(finding(gone, 'conf')!.reason, /namespace 'test' is not in \/etc\/aerospike\/aerospike\.conf/);
  });

  it('a base not cleanly shut down, an index off shared memory, a secondary index on flash: cold', () => {
    assert.equal(finding(assess(backedUp(memory('64M'), { base: { ...base, shutdownStatus: 0 } }), memory('64M')), 'clean-shutdown')!.expect, 'cold');
    const flash = assess(backedUp(memory('64M')), memory('64M').replace('storage-engine', 'index-type flash {\n    mounts /mnt\n  }\n  storage-engine'));
    assert.deepEqual([finding(flash, 'index-type')!.expect, finding(flash, 'index-type')!.now], ['cold', 'flash']);
    const sindex = assess(backedUp(memory('64M'), { hasSecondaryIndex: true }), memory('64M').replace('storage-engine', 'sindex-type flash\n  storage-engine'));
    assert.equal(finding(sindex, 'sindex-type')!.expect, 'cold');
  });

  it('the storage engine changed under data stripes: a crash risk; shadow filesize changed: a crash risk', () => {
    const device = 'namespace test {\n  storage-engine device {\n    device /dev/sdb\n  }\n}\n';
    assert.equal(finding(assess(backedUp(memory('64M')), device), 'storage-engine')!.expect, 'crash-risk');
    const files = (size: string) => `namespace test {\n  storage-engine memory {\n    file /a\n    file /b\n    filesize ${size}\n  }\n}\n`;
    const shadowed = backedUp(files('1M'), { dataStripes: [MiB, MiB] });
    assert.equal(assess(shadowed, files('1M')).expect, 'warm');
    assert.deepEqual([finding(assess(shadowed, files('2M')), 'filesize')!.expect, finding(assess(shadowed, files('2M')), 'filesize')!.now], ['crash-risk', '2M']);
  });

  it('worstExpectation orders crash risk over cold over unknown over warm', () => {
    assert.equal(worstExpectation([]), 'warm');
    assert.equal(worstExpectation(['warm', 'unknown']), 'unknown');
    assert.equal(worstExpectation(['unknown', 'cold', 'warm']), 'cold');
    assert.equal(worstExpectation(['cold', 'crash-risk']), 'crash-risk');
  });
});

describe("the manifest's aerospike record", () => {
  const manifest: Manifest = {
    formatVersion: 1,
    tool: { name: 'shmsnap', version: '0.0.0' },
    createdAt: '2026-12-02T00:00:00.000Z',
    host: { hostname: 'n1', machineId: null, bootId: null },
    instance: 0,
    namespaces: [{ name: 'test', nsid: 1 }],
    codec: { name: 'none', level: null },
    segments: [{ key: 0xae001000, kind: 'primary-base', instance: 0, nsid: 1, namespace: 'test', stage: null, size: 4096, uid: 0, gid: 0, mode: 0o600, object: 'ae001000.dat', codec: 'none', rawBytes: 4096, rawCrc32: 1, storedBytes: 4096, storedCrc32: 1 }],
  };

  it('round-trips; a manifest without it still parses; a wrong or unknown field inside it is MANIFEST_INVALID naming it', () => {
    const aerospike = aerospikeRecord({ conf: confOf(memory('64M')), build: 'build 7.1' }, ['test', 'gone'], new Map([['test', base]]));
    assert.deepEqual(aerospike.namespaces[1], { name: 'gone', conf: null, base: null });
    assert.deepEqual(parseManifest(serializeManifest({ ...manifest, aerospike }), { where: 'm' }), { ...manifest, aerospike });
    assert.equal('aerospike' in parseManifest(serializeManifest(manifest), { where: 'm' }), false);
    const bad = (edit: (doc: { aerospike: Record<string, unknown> }) => void, field: RegExp) => {
      const doc = JSON.parse(serializeManifest({ ...manifest, aerospike }).toString());
      edit(doc);
      assert.throws(() => parseManifest(Buffer.from(JSON.stringify(doc)), { where: 'm' }), (e: Error & { code?: string }) => e.code === 'MANIFEST_INVALID' && field.test(e.message));
    };
    bad((d) => void (d.aerospike.extra = 1), /aerospike\.extra: unknown field/);
    bad((d) => void (d.aerospike.build = 7), /aerospike\.build: expected a string/);
    bad((d) => void ((d.aerospike.namespaces as { conf: { partitionTreeSprigs: unknown } }[])[0]!.conf.partitionTreeSprigs = 256), /aerospike\.namespaces\[0\]\.conf\.partitionTreeSprigs/);
  });

  it('a conf that cannot be read is recorded as such, and warned about unless it is missing at the default path', () => {
    const missing = { conf: { path: '/etc/aerospike/aerospike.conf', missing: true, error: 'ENOENT' } as const, build: null };
    assert.deepEqual(aerospikeRecord(missing, ['test'], new Map()).conf, { path: '/etc/aerospike/aerospike.conf', error: 'ENOENT' });
    assert.equal(confWarning(missing, false), undefined);
    assert.match(confWarning(missing, true)!, /could not be read \(ENOENT\)/);
    assert.match(confWarning({ conf: { path: '/c', missing: false, error: 'EACCES' }, build: null }, false)!, /\/c could not be read \(EACCES\)/);
  });
});
