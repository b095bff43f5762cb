// Property tests of the readers of untrusted input: the manifest, ASMT's
// file header (and the zstd frame header readFileHeader also asks), the key
// classifier and object names, the pending and consumed markers, locations
// and the backup location template. Each reader, given anything, either
// returns a value that satisfies its documented invariants or throws its one
// coded error; valid values round-trip.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  backupObjectName,
  decodeKey,
  encodeKey,
  isShmsnapError,
  keyFileStem,
  keyOf,
  parseBackupObjectName,
  parseConsumedMarker,
  parseManifest,
  parsePendingMarker,
  parseSegmentObjectName,
  readFileHeader,
  serializeConsumedMarker,
  serializeManifest,
  serializePendingMarker,
  MANIFEST_FORMAT_VERSION,
  type AsmtFile,
  type Manifest,
  type ManifestSegment,
  type SegmentKind,
  type Sink,
} from '@shmsnap/core';
import { codecGzip, encodeAsmtHeader, parseAsmtHeader, ASMT_HEADER_BYTES, ASMT_MAGIC_SWAPPED } from '@shmsnap/codec-gzip';
import { codecZstd } from '@shmsnap/codec-zstd';
import { localPathOf } from '@shmsnap/sink-local';
import { formatS3Location, parseS3Location } from '../../packages/sink-s3/src/s3-location.js';
import { expandLocation } from '../../packages/cli/src/commands/backup.js';
import { applyMutations, mutationArbitrary } from './mutations.js';
import { check } from './settings.js';

const WHERE = '/backups/shmsnap-manifest-i0-n1.json';

// ---- the manifest -------------------------------------------------------------

const KINDS: readonly SegmentKind[] = ['primary-base', 'primary-treex', 'primary-stage', 'secondary-meta', 'secondary-stage', 'data-stage'];

const segmentArbitrary = (instance: number, nsid: number, namespace: string): fc.Arbitrary<ManifestSegment> =>
  fc
    .record({
      kind: fc.constantFrom(...KINDS),
      stage: fc.integer({ min: 0, max: 2047 }),
      size: fc.integer({ min: 0, max: 1 << 30 }),
      uid: fc.integer({ min: 0, max: 0xffffffff }),
      gid: fc.integer({ min: 0, max: 0xffffffff }),
      mode: fc.integer({ min: 0, max: 0o777 }),
      codec: fc.constantFrom('none', 'gzip', 'zstd'),
      rawCrc32: fc.integer({ min: 0, max: 0xffffffff }),
      storedBytes: fc.integer({ min: 0, max: 1 << 30 }),
      storedCrc32: fc.integer({ min: 0, max: 0xffffffff }),
      zeroRuns: fc.array(fc.integer({ min: 1, max: 1 << 20 }), { maxLength: 4 }),
    })
    .map((s) => {
      const staged = s.kind.endsWith('stage');
      const stage = staged ? s.stage : null;
      const key = keyOf(s.kind, instance, nsid, stage);
      const extension = s.codec === 'none' ? '.dat' : s.codec === 'gzip' ? '.dat.gz' : '.dat.zst';
      // Sorted, disjoint zero runs inside the segment.
      const zeroRanges: [number, number][] = [];
      let at = 0;
      for (const run of s.zeroRuns) {
        const offset = at + run;
        const length = Math.min(run, s.size - offset);
        if (length < 1) break;
        zeroRanges.push([offset, length]);
        at = offset + length;
      }
      return {
        key,
        kind: s.kind,
        instance,
        nsid,
        namespace,
        stage: s.kind === 'data-stage' ? key & 0xfff : stage,
        size: s.size,
        uid: s.uid,
        gid: s.gid,
        mode: s.mode,
        object: `${keyFileStem(key)}${extension}`,
        codec: s.codec,
        rawBytes: s.size,
        rawCrc32: s.rawCrc32,
        storedBytes: s.storedBytes,
        storedCrc32: s.storedCrc32,
        ...(zeroRanges.length > 0 ? { zeroRanges } : {}),
      };
    });

const manifestArbitrary: fc.Arbitrary<Manifest> = fc
  .record({
    instance: fc.integer({ min: 0, max: 15 }),
    nsids: fc.uniqueArray(fc.integer({ min: 1, max: 32 }), { minLength: 1, maxLength: 3 }),
    names: fc.array(fc.stringMatching(/^[a-z][a-z0-9_-]{0,30}$/), { minLength: 3, maxLength: 3 }),
    hostname: fc.string({ minLength: 1, maxLength: 64 }),
    machineId: fc.option(fc.stringMatching(/^[0-9a-f]{32}$/), { nil: null }),
    bootId: fc.option(fc.uuid(), { nil: null }),
    createdAt: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
    level: fc.option(fc.integer({ min: -7, max: 22 }), { nil: null }),
  })
  .chain((m) =>
    fc
      .tuple(...m.nsids.map((nsid, i) => fc.uniqueArray(segmentArbitrary(m.instance, nsid, m.names[i]!), { minLength: 1, maxLength: 5, selector: (s) => s.key })))
      .map((perNamespace): Manifest => ({
        formatVersion: MANIFEST_FORMAT_VERSION,
        tool: { name: 'shmsnap', version: '0.1.0' },
        createdAt: m.createdAt.toISOString(),
        host: { hostname: m.hostname, machineId: m.machineId, bootId: m.bootId },
        instance: m.instance,
        namespaces: m.nsids.map((nsid, i) => ({ name: m.names[i]!, nsid })),
        codec: { name: 'gzip', level: m.level },
        segments: perNamespace.flat(),
      })),
  );

function parsedOrManifestInvalid(bytes: Uint8Array): Manifest | undefined {
  try {
    return parseManifest(bytes, { where: WHERE });
  } catch (error) {
    assert.ok(isShmsnapError(error, 'MANIFEST_INVALID'), `not MANIFEST_INVALID: ${String((error as Error)?.stack ?? error)}`);
    assert.ok(error.message.includes(WHERE), `the error names the manifest: ${error.message}`);
    assert.doesNotMatch(error.message, /[\u0000-\u001f\u007f]/, 'one printable line');
    return undefined;
  }
}

/** What every manifest the reader accepts must satisfy, whatever bytes it came from. */
function assertManifestInvariants(manifest: Manifest): void {
  const keys = new Set<number>();
  const objects = new Set<string>();
  for (const s of manifest.segments) {
    assert.match(s.object, /^[0-9a-f]{8}\.dat[A-Za-z0-9._-]*$/, 'an object name that stays inside the location');
    assert.ok(!s.object.includes('..') && !s.object.includes('/'), s.object);
    assert.ok(s.object.startsWith(keyFileStem(s.key)), 'the object belongs to its key');
    const decoded = decodeKey(s.key);
    assert.ok(decoded && decoded.instance === s.instance && decoded.nsid === s.nsid && s.instance === manifest.instance);
    assert.equal(s.rawBytes, s.size);
    assert.ok(!keys.has(s.key) && !objects.has(s.object), 'no duplicate key or object');
    keys.add(s.key);
    objects.add(s.object);
    let end = 0;
    for (const [offset, length] of s.zeroRanges ?? []) {
      assert.ok(offset >= end && length >= 1 && offset + length <= s.size, 'zero ranges sorted, disjoint, inside');
      end = offset + length;
    }
  }
}

describe('fuzz: the manifest reader', () => {
  // Regression (seed 162026): V8's JSON error quotes the input, so a file of
  // "\n\0" (or a manifest with 4 bytes cut from a field) gave a MANIFEST_INVALID
  // of several lines, with the file's control characters in it.
  it('regression: a file that is not JSON gives a one-line error without its control characters', () => {
    for (const bytes of [Buffer.from([10, 0]), Buffer.from('{\n  "tool": {\n    "version0.1.0"\n  }\n}\n'), Buffer.from('{"\\u001b[31m\\n": 1}')]) {
      assert.equal(parsedOrManifestInvalid(bytes), undefined);
      try {
        parseManifest(bytes, { where: WHERE });
      } catch (error) {
        assert.doesNotMatch((error as Error).message, /[\u0000-\u001f]/);
      }
    }
  });

  it('a valid manifest round-trips through serialize and parse', async () => {
    await check(
      fc.property(manifestArbitrary, (manifest) => {
        const parsed = parseManifest(serializeManifest(manifest), { where: WHERE });
        assert.deepEqual(parsed, manifest);
      }),
      300,
    );
  });

  it('damaged bytes: MANIFEST_INVALID (one line, naming it) or a manifest that holds every invariant', async () => {
    await check(
      fc.property(manifestArbitrary, fc.array(mutationArbitrary, { minLength: 1, maxLength: 3 }), (manifest, mutations) => {
        const parsed = parsedOrManifestInvalid(applyMutations(serializeManifest(manifest), mutations));
        if (parsed) {
          assertManifestInvariants(parsed);
          // An empty zeroRanges reads as [] and is written as absent: the same manifest (seed 5, 300 runs: a cut
          // that joined two segments' JSON left one with []; the property, not the reader, was wrong).
          const normal = (m: Manifest): Manifest => ({ ...m, segments: m.segments.map(({ zeroRanges, ...rest }) => (zeroRanges && zeroRanges.length > 0 ? { ...rest, zeroRanges } : rest)) });
          assert.deepEqual(normal(parseManifest(serializeManifest(parsed), { where: WHERE })), normal(parsed), 'what it accepted writes back the same');
        }
      }),
      500,
    );
  });

  it('a field replaced by any JSON value: MANIFEST_INVALID or a manifest that holds every invariant', async () => {
    await check(
      fc.property(manifestArbitrary, fc.nat(), fc.nat(), fc.jsonValue({ maxDepth: 2 }), fc.string({ maxLength: 8 }), (manifest, pickPath, pickField, value, extraField) => {
        const document = JSON.parse(serializeManifest(manifest).toString()) as Record<string, unknown>;
        // Walk down to some object and replace (or add) one of its fields.
        const objects: Record<string, unknown>[] = [];
        const visit = (node: unknown): void => {
          if (typeof node !== 'object' || node === null) return;
          if (!Array.isArray(node)) objects.push(node as Record<string, unknown>);
          for (const child of Object.values(node)) visit(child);
        };
        visit(document);
        const target = objects[pickPath % objects.length]!;
        const fields = [...Object.keys(target), extraField];
        target[fields[pickField % fields.length]!] = value;
        const parsed = parsedOrManifestInvalid(Buffer.from(JSON.stringify(document)));
        if (parsed) assertManifestInvariants(parsed);
      }),
      500,
    );
  });

  it('any JSON document or any bytes: MANIFEST_INVALID', async () => {
    await check(
      fc.property(fc.oneof(fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')), fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a))), (bytes) => {
        const parsed = parsedOrManifestInvalid(bytes);
        assert.equal(parsed, undefined);
      }),
      500,
    );
  });
});

// ---- ASMT's header, the zstd frame header, readFileHeader ---------------------

/** A sink holding one object, enough for readFileHeader's ranged read. */
function oneObjectSink(name: string, bytes: Buffer): Sink {
  return {
    location: '/mem',
    openReader: async (_object: string, options?: { range?: { start: number; end: number } }) =>
      Readable.from([bytes.subarray(options?.range?.start ?? 0, options?.range?.end ?? bytes.length)]),
  } as unknown as Sink;
}

function asmtFile(name: string, size: number, codec: typeof codecGzip): AsmtFile {
  const parsed = parseSegmentObjectName(name)!;
  return { info: { name, size }, key: parsed.key, decoded: parsed.decoded, codec };
}

describe('fuzz: ASMT file headers', () => {
  it('encode then parse gives back size and CRC-32, with either magic', async () => {
    await check(
      fc.property(fc.maxSafeNat(), fc.integer({ min: 0, max: 0xffffffff }), fc.boolean(), fc.uint8Array({ maxLength: 16 }), (rawSize, rawCrc32, swapped, tail) => {
        const header = encodeAsmtHeader(rawSize, rawCrc32);
        if (swapped) header.writeUInt32LE(ASMT_MAGIC_SWAPPED, 0);
        assert.deepEqual(parseAsmtHeader(Buffer.concat([header, tail]), 'ae001100.dat.gz'), { rawSize, rawCrc32 });
      }),
      500,
    );
  });

  it('any bytes: a plausible header or CORRUPT_OBJECT naming the file; readFileHeader agrees for gzip and zstd files', async () => {
    await check(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
          fc.tuple(fc.maxSafeNat(), fc.integer({ min: 0, max: 0xffffffff }), fc.array(mutationArbitrary, { maxLength: 2 })).map(([size, crc, m]) => applyMutations(encodeAsmtHeader(size, crc), m)),
        ),
        async (bytes) => {
          for (const [name, codec] of [['ae001100.dat.gz', codecGzip], ['ae001100.dat.zst', codecZstd]] as const) {
            let header: { rawSize: number; rawCrc32?: number } | undefined;
            try {
              header = await readFileHeader(oneObjectSink(name, bytes), name, asmtFile(name, bytes.length, codec));
            } catch (error) {
              assert.ok(isShmsnapError(error, 'CORRUPT_OBJECT'), `${name}: ${String((error as Error)?.stack ?? error)}`);
              assert.ok(error.message.includes(name), error.message);
              continue;
            }
            assert.ok(Number.isSafeInteger(header.rawSize) && header.rawSize >= 0, `${name}: raw size ${header.rawSize}`);
            if (codec === codecGzip) {
              assert.ok(bytes.length >= ASMT_HEADER_BYTES);
              assert.ok(header.rawCrc32 !== undefined && header.rawCrc32 >= 0 && header.rawCrc32 <= 0xffffffff);
            }
          }
        },
      ),
      400,
    );
  });
});

// ---- keys and object names -----------------------------------------------------

const TYPE_BYTES = new Map([[0xae, 'primary'], [0xa2, 'secondary'], [0xad, 'data']]);

describe('fuzz: the key classifier and object names', () => {
  const keyArbitrary = fc.oneof(
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.tuple(fc.constantFrom(0xae, 0xa2, 0xad, 0xac, 0x00), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 0xfff })).map(([t, i, n, l]) => ((t << 24) | (i << 20) | (n << 12) | l) >>> 0),
  );

  it('every 32-bit key: undefined exactly when not Aerospike\'s; else its parts re-encode to it and its kind names it', async () => {
    await check(
      fc.property(keyArbitrary, (key) => {
        const decoded = decodeKey(key);
        const type = TYPE_BYTES.get(key >>> 24);
        const nsid = (key >>> 12) & 0xff;
        if (type === undefined || nsid < 1 || nsid > 32) {
          assert.equal(decoded, undefined);
          return;
        }
        assert.ok(decoded);
        assert.equal(decoded.type, type);
        assert.equal(encodeKey(decoded.type, decoded.instance, decoded.nsid, decoded.low), key);
        if (decoded.kind === null) {
          assert.notEqual(type, 'data', 'every data key is a data stage');
          const stage = decoded.low >= 0x100 && decoded.low < 0x100 + 2048;
          assert.ok(!stage && decoded.low !== 0x000 && !(type === 'primary' && decoded.low === 0x001), `low bits 0x${decoded.low.toString(16)} of a ${type} key fit a kind`);
        } else {
          assert.equal(keyOf(decoded.kind, decoded.instance, decoded.nsid, decoded.stage), key, 'the kind and stage name the key');
        }
      }),
      2000,
    );
  });

  it('segment object names: any string parses only as 8 hex digits then .dat, .dat.gz or .dat.zst, to the key it spells', async () => {
    await check(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 24 }),
          fc.tuple(keyArbitrary, fc.constantFrom('.dat', '.dat.gz', '.dat.zst', '.dat.bz2', '.DAT', '', '.dat.gz.tmp'), fc.boolean()).map(([k, ext, upper]) => {
            const stem = keyFileStem(k);
            return `${upper ? stem.toUpperCase() : stem}${ext}`;
          }),
        ),
        (name) => {
          const parsed = parseSegmentObjectName(name);
          if (parsed === undefined) {
            const m = /^([0-9a-fA-F]{8})\.dat(\.gz|\.zst)?$/.exec(name);
            assert.ok(!m || decodeKey(Number.parseInt(m[1]!, 16)) === undefined, `${name} was not taken for a segment file`);
            return;
          }
          assert.match(name, /^[0-9a-fA-F]{8}\.dat(\.gz|\.zst)?$/);
          assert.equal(parsed.key, Number.parseInt(name.slice(0, 8), 16));
          assert.equal(parsed.extension, name.slice(8));
          assert.deepEqual(parsed.decoded, decodeKey(parsed.key));
        },
      ),
      1000,
    );
  });

  it('manifest, pending and consumed names: any string parses only to ids in range, and the canonical name of what it parsed parses the same', async () => {
    await check(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 40 }),
          fc.tuple(fc.constantFrom('manifest', 'pending', 'consumed', 'other'), fc.integer({ min: 0, max: 20 }), fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 4 })).map(
            ([kind, i, ns]) => `shmsnap-${kind}-i${i}-n${ns.join('-')}.json`,
          ),
        ),
        (name) => {
          const parsed = parseBackupObjectName(name);
          if (parsed === undefined) return;
          assert.ok(parsed.instance >= 0 && parsed.instance <= 15);
          assert.ok(parsed.nsids.length > 0 && parsed.nsids.every((n) => n >= 1 && n <= 32));
          const canonical = backupObjectName(parsed.kind, parsed.instance, parsed.nsids);
          const again = parseBackupObjectName(canonical);
          assert.deepEqual(again && { ...again, nsids: [...new Set(again.nsids)] }, { ...parsed, nsids: [...new Set(parsed.nsids)].sort((a, b) => a - b) });
        },
      ),
      1000,
    );
  });
});

// ---- pending and consumed markers ------------------------------------------------

describe('fuzz: pending and consumed markers (read leniently: never an error)', () => {
  const bytesArbitrary = fc.oneof(
    fc.constant(undefined),
    fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a)),
    fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '')),
    fc.record({ startedAt: fc.jsonValue(), pid: fc.jsonValue(), host: fc.jsonValue(), backup: fc.jsonValue(), consumedAt: fc.jsonValue() }, { requiredKeys: [] }).map((v) => Buffer.from(JSON.stringify(v))),
  );
  const nullOr = (value: unknown, test: (v: unknown) => boolean): boolean => value === null || test(value);

  it('any body: a marker whose fields are the right type or null', async () => {
    await check(
      fc.property(bytesArbitrary, (bytes) => {
        const pending = parsePendingMarker(bytes);
        assert.ok(nullOr(pending.startedAt, (v) => typeof v === 'string'));
        assert.ok(nullOr(pending.hostname, (v) => typeof v === 'string'));
        assert.ok(nullOr(pending.pid, (v) => Number.isSafeInteger(v)));
        const consumed = parseConsumedMarker('shmsnap-consumed-i0-n1.json', bytes);
        assert.equal(consumed.name, 'shmsnap-consumed-i0-n1.json');
        for (const field of ['consumedAt', 'hostname', 'backupCreatedAt'] as const) assert.ok(nullOr(consumed[field], (v) => typeof v === 'string'), field);
        assert.ok(nullOr(consumed.pid, (v) => Number.isSafeInteger(v)));
      }),
      1000,
    );
  });

  it('what is written reads back', async () => {
    await check(
      fc.property(fc.string(), fc.string(), fc.nat(), fc.string(), (startedAt, hostname, pid, createdAt) => {
        const host = { hostname, machineId: null, bootId: null };
        assert.deepEqual(parsePendingMarker(serializePendingMarker({ startedAt, host, tool: { name: 'shmsnap', version: '0' }, pid })), { startedAt, hostname, pid });
        const consumed = parseConsumedMarker(
          'm',
          serializeConsumedMarker({ consumedAt: startedAt, host, pid, tool: { name: 'shmsnap', version: '0' }, backup: { manifest: 'x', createdAt }, restored: { instance: 0, namespaces: [], segments: 0, rawBytes: 0 } }),
        );
        assert.deepEqual(consumed, { name: 'm', consumedAt: startedAt, hostname, pid, backupCreatedAt: createdAt });
      }),
      300,
    );
  });
});

// ---- locations and the location template -----------------------------------------

const SECRET = 'hunter2-Secret';

function codedConfigInvalid(run: () => unknown): unknown {
  try {
    return run();
  } catch (error) {
    assert.ok(isShmsnapError(error, 'CONFIG_INVALID'), `not CONFIG_INVALID: ${String((error as Error)?.stack ?? error)}`);
    assert.doesNotMatch(error.message, /\n/);
    assert.ok(!error.message.includes(SECRET), `the error shows no secret: ${error.message}`);
    return error;
  }
}

const locationText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.tuple(
    fc.constantFrom('file://', 'FILE://', 's3://', 'S3://', '', '/', './'),
    fc.constantFrom('', `user:${SECRET}@`, 'localhost', 'host.example', `:${SECRET}@`),
    fc.array(fc.constantFrom('/', 'a', 'b.c', '..', '.', '%2F', '%00', '?x=1', '#frag', ' ', 'bucket', 'my_Bucket', '\\', '\u0001', 'é'), { maxLength: 6 }),
  ).map(([scheme, authority, parts]) => `${scheme}${authority}${parts.join('')}`),
);

describe('fuzz: locations and the location template', () => {
  it('local locations: an absolute path or CONFIG_INVALID (one line, no secret); file:// URLs of absolute paths give the path back', async () => {
    await check(
      fc.property(locationText, fc.array(fc.stringMatching(/^[A-Za-z0-9 ._%-]{1,12}$/), { minLength: 1, maxLength: 4 }), (text, parts) => {
        const result = codedConfigInvalid(() => localPathOf(text));
        if (typeof result === 'string') assert.ok(result.startsWith('/'), result);
        const path = `/${parts.join('/')}`;
        const clean = path.replace(/\/+/g, '/').split('/').filter((p) => p !== '.' && p !== '..').join('/') || '/';
        assert.equal(localPathOf(pathToFileURL(clean).href), clean.length > 1 ? clean.replace(/\/$/, '') : clean);
      }),
      1000,
    );
  });

  it('S3 locations: a bucket and a clean prefix, or CONFIG_INVALID (one line, no secret); the printed form parses the same', async () => {
    await check(
      fc.property(locationText, (text) => {
        const result = codedConfigInvalid(() => parseS3Location(text));
        if (isShmsnapError(result)) return;
        const location = result as ReturnType<typeof parseS3Location>;
        assert.ok(!location.prefix.startsWith('/') && !location.prefix.endsWith('/') && !location.prefix.includes('//'));
        assert.ok(!location.prefix.split('/').some((s) => s === '.' || s === '..'));
        assert.deepEqual(parseS3Location(formatS3Location(location)), location);
      }),
      1000,
    );
  });

  it('templates: known placeholders filled in, an unknown one CONFIG_INVALID, text without braces unchanged', async () => {
    const pieces = fc.constantFrom('{host}', '{instance}', '{timestamp}', '{date}', '{}', '{', '}', '/', 'backups', '-', '{host', 'x}');
    await check(
      fc.property(fc.oneof(fc.string({ maxLength: 30 }), fc.array(pieces, { maxLength: 6 }).map((p) => p.join(''))), fc.stringMatching(/^[a-z0-9.-]{1,20}$/), fc.integer({ min: 0, max: 15 }), (template, host, instance) => {
        const time = new Date('2026-12-02T01:02:03.456Z');
        const result = codedConfigInvalid(() => expandLocation(template, { host, instance, time }));
        const unknown = [...template.matchAll(/\{([^{}]*)\}/g)].some((m) => !['host', 'instance', 'timestamp'].includes(m[1]!));
        if (unknown) {
          assert.ok(isShmsnapError(result), `${template}: an unknown placeholder is refused`);
          return;
        }
        assert.equal(typeof result, 'string');
        const expected = template.replaceAll('{host}', host).replaceAll('{instance}', String(instance)).replaceAll('{timestamp}', '20261202T010203Z');
        assert.equal(result, expected);
        if (!/[{}]/.test(template)) assert.equal(result, template);
      }),
      1000,
    );
  });
});
