import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeKey, encodeKey, keyOf } from './aerospike-key.js';
import { parseSegmentObjectName } from './asmt-directory.js';

describe('Aerospike key encoding', () => {
  // docs/asmt-format.md §2.1, worked examples.
  const examples: [string, number, number, number, string, number | null][] = [
    ['primary base', 0, 1, 0xae001000, 'primary-base', null],
    ['primary treex', 0, 1, 0xae001001, 'primary-treex', null],
    ['primary stage 0', 0, 1, 0xae001100, 'primary-stage', 0],
    ['primary stage 15', 0, 1, 0xae00110f, 'primary-stage', 15],
    ['primary stage 2047', 0, 1, 0xae0018ff, 'primary-stage', 2047],
    ['sindex meta', 0, 1, 0xa2001000, 'secondary-meta', null],
    ['sindex stage 0', 0, 1, 0xa2001100, 'secondary-stage', 0],
    ['data stage low 0', 0, 1, 0xad001000, 'data-stage', 0],
    ['primary base inst 3 nsid 2', 3, 2, 0xae302000, 'primary-base', null],
    ['primary stage 1 inst 3 nsid 2', 3, 2, 0xae302101, 'primary-stage', 1],
    ['sindex meta inst 3 nsid 2', 3, 2, 0xa2302000, 'secondary-meta', null],
    ['primary base inst 15 nsid 32', 15, 32, 0xaef20000, 'primary-base', null],
    ['primary stage 0 inst 15 nsid 32', 15, 32, 0xaef20100, 'primary-stage', 0],
  ];
  for (const [what, instance, nsid, key, kind, stage] of examples) {
    it(`${what} is 0x${key.toString(16)}`, () => {
      assert.deepEqual(decodeKey(key), { key, type: key >>> 24 === 0xae ? 'primary' : key >>> 24 === 0xa2 ? 'secondary' : 'data', instance, nsid, low: key & 0xfff, kind, stage });
      assert.equal(keyOf(kind as never, instance, nsid, stage), key);
    });
  }

  it('classifies data keys with any low bits as data stages, 0x001 included (ASMT bug §23.1)', () => {
    for (const low of [0x001, 0x002, 0x0ff, 0x100, 0x8ff, 0x900, 0xfff]) {
      assert.deepEqual(
        { kind: decodeKey(encodeKey('data', 0, 1, low))?.kind, stage: decodeKey(encodeKey('data', 0, 1, low))?.stage },
        { kind: 'data-stage', stage: low },
      );
    }
  });

  it('reports primary and secondary keys that fit no kind as unexpected, never as a base or meta (§23.10)', () => {
    for (const key of [0xae001002, 0xae0010ff, 0xae001900, 0xa2001001, 0xa2001050, 0xa2001fff]) {
      const decoded = decodeKey(key);
      assert.ok(decoded, `0x${key.toString(16)} is an Aerospike key`);
      assert.equal(decoded.kind, null, `0x${key.toString(16)} must be unexpected`);
    }
  });

  it('ignores keys that are not Aerospike keys', () => {
    for (const key of [0, 0x12345678, 0xae000000, 0xae021000, 0xac001000]) assert.equal(decodeKey(key), undefined, `0x${key.toString(16)}`);
  });

  it('parses backup file names as ASMT does (§9)', () => {
    assert.deepEqual(parseSegmentObjectName('ae001100.dat')?.extension, '.dat');
    assert.equal(parseSegmentObjectName('ae001100.dat.gz')?.key, 0xae001100);
    assert.equal(parseSegmentObjectName('AE001777.dat')?.key, 0xae001777, 'upper-case hex is accepted');
    assert.equal(parseSegmentObjectName('ad001001.dat.gz')?.decoded.kind, 'data-stage');
    assert.equal(parseSegmentObjectName('ae001100.dat.zst')?.extension, '.dat.zst');
    for (const ignored of ['README', 'zz.dat', 'x.y.dat', 'ae001100.DAT', 'ae00110g.dat', 'ae001100.dat.gz.tmp', 'ae0011000.dat', '.ae001100.dat', 'shmsnap-manifest.json', '12345678.dat']) {
      assert.equal(parseSegmentObjectName(ignored), undefined, ignored);
    }
  });
});
