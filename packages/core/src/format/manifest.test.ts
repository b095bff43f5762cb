import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isShmsnapError } from '../errors.js';
import { MANIFEST_MAX_BYTES, parseManifest, serializeManifest, type Manifest } from './manifest.js';

const where = '/backups/node1/shmsnap-manifest.json';

function sample(): Manifest {
  return {
    formatVersion: 1,
    tool: { name: 'shmsnap', version: '0.1.0' },
    createdAt: '2026-11-21T10:00:00.000Z',
    host: { hostname: 'node1', machineId: 'abc', bootId: 'def' },
    instance: 3,
    namespaces: [{ name: 'test', nsid: 2 }],
    codec: { name: 'gzip', level: 1 },
    segments: [
      { key: 0xae302000, kind: 'primary-base', instance: 3, nsid: 2, namespace: 'test', stage: null, size: 4096, uid: 1234, gid: 2345, mode: 0o640, object: 'ae302000.dat', codec: 'none', rawBytes: 4096, rawCrc32: 0xdeadbeef, storedBytes: 4096, storedCrc32: 0xdeadbeef },
      { key: 0xae302100, kind: 'primary-stage', instance: 3, nsid: 2, namespace: 'test', stage: 0, size: 5 * 2 ** 30, uid: 0, gid: 0, mode: 0o666, object: 'ae302100.dat.gz', codec: 'gzip', rawBytes: 5 * 2 ** 30, rawCrc32: 1, storedBytes: 123, storedCrc32: 0xffffffff },
    ],
  };
}

/** The serialized sample as a plain object, to break in one place. */
function document(): Record<string, unknown> & { segments: Record<string, unknown>[] } {
  return JSON.parse(serializeManifest(sample()).toString('utf8'));
}

function parse(value: unknown): Manifest {
  return parseManifest(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)), { where });
}

function assertInvalid(value: unknown, fragment: RegExp): void {
  assert.throws(
    () => parse(value),
    (error: unknown) => {
      assert.ok(isShmsnapError(error, 'MANIFEST_INVALID'), `expected MANIFEST_INVALID, got ${String(error)}`);
      assert.match(error.message, fragment);
      assert.ok(error.message.startsWith(where), 'the message names the manifest');
      return true;
    },
  );
}

describe('manifest', () => {
  it('round-trips every field, including sizes above 4 GiB and full 32-bit CRCs', () => {
    assert.deepEqual(parse(serializeManifest(sample()).toString('utf8')), sample());
  });

  it('stores keys, CRCs and modes in readable form', () => {
    const d = document();
    assert.equal(d.segments[0]!.key, '0xae302000');
    assert.equal(d.segments[0]!.mode, '0640');
    assert.equal(d.segments[1]!.storedCrc32, 'ffffffff');
  });

  it('rejects text that is not JSON, or not a manifest', () => {
    assertInvalid('{not json', /not JSON/);
    assertInvalid('[]', /expected an object/);
    assertInvalid({ ...document(), format: 'something-else' }, /format/);
  });

  it('rejects a manifest from a newer format version with a clear reason', () => {
    assertInvalid({ ...document(), formatVersion: 2 }, /newer shmsnap/);
  });

  it('rejects unknown and missing fields', () => {
    assertInvalid({ ...document(), extra: 1 }, /extra: unknown field/);
    const d = document();
    delete d.segments[0]!.storedCrc32;
    assertInvalid(d, /segments\[0\]\.storedCrc32: missing/);
  });

  for (const hostile of ['../ae302000.dat', '/etc/passwd', 'sub/ae302000.dat', '..', '', 'ae302000.dat/../../x', 'ae302000\\.dat', 'ae302000.dat\u0000', '.ae302000.dat', 'ae302000..dat']) {
    it(`rejects the hostile object name ${JSON.stringify(hostile)}`, () => {
      const d = document();
      d.segments[0]!.object = hostile;
      assertInvalid(d, /segments\[0\]\.object/);
    });
  }

  it('rejects an object name that belongs to another key', () => {
    const d = document();
    d.segments[0]!.object = 'ae302001.dat';
    assertInvalid(d, /does not belong to key/);
  });

  it('rejects duplicate keys and duplicate object names', () => {
    const d = document();
    d.segments[1]!.key = d.segments[0]!.key;
    assertInvalid(d, /duplicate key/);
  });

  it('rejects sizes that disagree, are negative, fractional or beyond 2^53', () => {
    for (const [field, value, fragment] of [
      ['rawBytes', 4095, /differs from size/],
      ['size', -1, /outside/],
      ['size', 1.5, /expected an integer/],
      ['size', 2 ** 53, /expected an integer/],
      ['storedBytes', '12', /expected an integer/],
    ] as const) {
      const d = document();
      d.segments[0]![field] = value;
      assertInvalid(d, fragment);
    }
  });

  it('rejects malformed keys, CRCs, modes and kinds', () => {
    for (const [field, value] of [
      ['key', 'ae302000'],
      ['key', '0xAE302000'],
      ['rawCrc32', '0xdeadbeef'],
      ['mode', '02666'],
      ['mode', 420],
      ['kind', 'primary'],
      ['uid', -1],
    ] as const) {
      const d = document();
      d.segments[0]![field] = value;
      assertInvalid(d, new RegExp(`segments\\[0\\]\\.${field}`));
    }
  });

  it('rejects a segment whose key disagrees with its instance or namespace id', () => {
    const d = document();
    d.segments[0]!.nsid = 3;
    assertInvalid(d, /disagrees with the key/);
  });

  it('rejects namespace names longer than Aerospike allows', () => {
    const d = document();
    d.segments[0]!.namespace = 'n'.repeat(32);
    assertInvalid(d, /namespace: longer than 31/);
  });

  it('round-trips piece indexes and zero runs, and rejects ones that do not fit the segment', () => {
    const m = sample();
    const withExtras: Manifest = {
      ...m,
      segments: [
        { ...m.segments[0]!, zeroRanges: [[0, 1024], [2048, 1024]] },
        { ...m.segments[1]!, storedBytes: 2000, pieces: { offset: 34, rawBytes: 2 ** 31, storedBytes: [600, 600, 700] } },
      ],
    };
    assert.deepEqual(parse(serializeManifest(withExtras).toString('utf8')), withExtras);
    type Doc = { segments: [{ zeroRanges: unknown }, { pieces: { storedBytes: unknown } }] };
    const broken = (change: (d: Doc) => void): unknown => {
      const d = JSON.parse(serializeManifest(withExtras).toString('utf8')) as Doc;
      change(d);
      return d;
    };
    assertInvalid(broken((d) => (d.segments[0].zeroRanges = [[2048, 1024], [0, 1024]])), /zeroRanges\[1\]\[0\]/);
    assertInvalid(broken((d) => (d.segments[0].zeroRanges = [[4000, 1000]])), /zeroRanges\[0\]\[1\]/);
    assertInvalid(broken((d) => (d.segments[1].pieces.storedBytes = [600, 600])), /2 pieces for .* \(expected 3\)/);
    assertInvalid(broken((d) => (d.segments[1].pieces.storedBytes = [600, 600, 900])), /the pieces end past the object/);
  });

  it('rejects an oversized manifest before parsing it', () => {
    assert.throws(() => parseManifest(Buffer.alloc(MANIFEST_MAX_BYTES + 1, 0x20), { where }), /larger than/);
  });
});
