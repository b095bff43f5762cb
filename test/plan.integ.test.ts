// The prepare → run API on a real file system: every check happens in
// prepare (so a dry run is prepare alone and writes nothing), run() checks
// again only what can change in between, the restore guard refuses each
// finding unless its own override is given, and sink capabilities are acted on.
import assert from 'node:assert/strict';
import { readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  BASE_NAME_OFFSET,
  BASE_SHUTDOWN_OFFSET,
  BASE_STAGE_COUNT_OFFSET,
  BASE_VERSION_OFFSET,
  SHUTDOWN_CLEAN,
  writeName,
  codecNone,
  createRawKeyProvider,
  createRegistry,
  DEFAULT_MAX_AGE_MS,
  describeFinding,
  isShmsnapError,
  listBackups,
  prepareBackup,
  prepareRestore,
  prepareVerify,
  nodeFrameCipher,
  type FrameCipher,
  type SegmentDescriptor,
  type Sink,
} from '@shmsnap/core';
import { createMemorySource, createMemoryTarget, fillIndexContent, type MemorySegment } from '@shmsnap/core/testkit';
import { createLocalSink } from '@shmsnap/sink-local';
import { useScratch } from './support/scratch.js';

const host = { hostname: 'test-host', machineId: 'm', bootId: 'b' };
const tool = { name: 'shmsnap', version: 'test' };
const scratch = useScratch('plan');

function segments(): MemorySegment[] {
  const common = { instance: 0, nsid: 1, namespace: 'test', uid: 0, gid: 0, mode: 0o640 } as const;
  const list: SegmentDescriptor[] = [
    { ...common, key: 0xae001000, kind: 'primary-base', stage: null, size: 4096 },
    { ...common, key: 0xae001001, kind: 'primary-treex', stage: null, size: 8192 },
    { ...common, key: 0xae001100, kind: 'primary-stage', stage: 0, size: 256 * 1024 },
  ];
  return list.map((descriptor, i) => {
    const data = Buffer.alloc(descriptor.size);
    fillIndexContent(data, 7 + i);
    if (descriptor.kind === 'primary-base') {
      // A base a cleanly shut down server leaves: version 12, status clean, its name, one primary stage.
      data.writeUInt32LE(12, BASE_VERSION_OFFSET);
      data.writeUInt32LE(SHUTDOWN_CLEAN, BASE_SHUTDOWN_OFFSET);
      writeName(data, BASE_NAME_OFFSET, 'test');
      data.writeUInt32LE(1, BASE_STAGE_COUNT_OFFSET);
    }
    return { descriptor, data };
  });
}

const registry = createRegistry();
registry.registerCodec(codecNone);

/** The same sink with some capabilities changed. */
function withCapabilities(sink: Sink, changes: Partial<Sink['capabilities']>): Sink {
  return { ...sink, capabilities: { ...sink.capabilities, ...changes } } as Sink;
}

async function entries(dir: string): Promise<string[]> {
  return readdir(dir).then((names) => names.sort(), () => []);
}

describe('prepareBackup', () => {
  it('runs every check and writes nothing; run() then writes the backup', async () => {
    const dir = scratch.fresh();
    const sink = createLocalSink(dir);
    const plan = await prepareBackup({ source: createMemorySource(segments()), sink, codec: codecNone, host, tool });
    assert.deepEqual(plan.namespaces, [{ name: 'test', nsid: 1 }]);
    assert.equal(plan.entries.length, 3);
    assert.equal(plan.rawBytes, 4096 + 8192 + 256 * 1024);
    assert.equal(plan.certainBytes, plan.rawBytes, 'uncompressed objects need their full size');
    assert.deepEqual(plan.notes, [], 'a POSIX file system keeps owner and mode');
    assert.deepEqual(await entries(dir), [], 'prepare wrote nothing');
    const result = await plan.run();
    assert.equal(result.manifestObject, 'shmsnap-manifest-i0-n1.json');
    assert.deepEqual(await entries(dir), ['ae001000.dat', 'ae001001.dat', 'ae001100.dat', 'shmsnap-manifest-i0-n1.json']);
  });

  it('checks the location again in run(): a backup that appeared since prepare is not overwritten', async () => {
    const dir = scratch.fresh();
    const sink = createLocalSink(dir);
    const plan = await prepareBackup({ source: createMemorySource(segments()), sink, codec: codecNone, host, tool });
    await (await prepareBackup({ source: createMemorySource(segments()), sink, codec: codecNone, host, tool })).run();
    await assert.rejects(plan.run(), (error: unknown) => isShmsnapError(error, 'BACKUP_EXISTS'));
  });

  it('refuses at plan time a segment larger than the sink takes (maxObjectSize)', async () => {
    const sink = withCapabilities(createLocalSink(scratch.fresh()), { maxObjectSize: 100_000 });
    await assert.rejects(prepareBackup({ source: createMemorySource(segments()), sink, codec: codecNone, host, tool }), (error: unknown) => {
      assert.ok(isShmsnapError(error, 'OBJECT_TOO_LARGE'), String(error));
      assert.deepEqual({ object: error.details.object, bytes: error.details.bytes, limit: error.details.limit }, { object: 'ae001100.dat', bytes: 256 * 1024, limit: 100_000 });
      return true;
    });
  });

  it('says when owner and mode live only in the manifest (posixAttributes false)', async () => {
    const sink = withCapabilities(createLocalSink(scratch.fresh()), { posixAttributes: false });
    const plan = await prepareBackup({ source: createMemorySource(segments()), sink, codec: codecNone, host, tool });
    assert.equal(plan.notes.length, 1);
    assert.match(plan.notes[0]!, /recorded in the manifest only/);
  });

  it('names options, never flags, in its errors', async () => {
    const sink = createLocalSink(scratch.fresh());
    await assert.rejects(prepareBackup({ source: createMemorySource(segments()), sink, codec: codecNone, level: 3, host, tool }), (error: unknown) => {
      assert.ok(isShmsnapError(error, 'CONFIG_INVALID'));
      assert.deepEqual(error.toJSON(), {
        code: 'CONFIG_INVALID',
        message: "level: codec 'none' has no levels",
        retryable: false,
        fault: 'user',
        details: { option: 'level', reason: "codec 'none' has no levels" },
      });
      return true;
    });
    await assert.rejects(prepareBackup({ source: createMemorySource(segments()), sink, codec: codecNone, concurrency: 0, host, tool }), (error: unknown) => {
      assert.ok(isShmsnapError(error, 'CONFIG_INVALID'));
      assert.equal(error.details.option, 'concurrency');
      assert.doesNotMatch(error.message, /--/);
      return true;
    });
  });
});

describe('prepareRestore', () => {
  async function backupAt(dir: string, madeOn = host, agoMs = 0): Promise<Sink> {
    const sink = createLocalSink(dir);
    await (await prepareBackup({ source: createMemorySource(segments()), sink, codec: codecNone, host: madeOn, tool, now: () => new Date(Date.now() - agoMs) })).run();
    return sink;
  }
  const HOUR = 3_600_000;

  it('finds another host in prepare, and run() refuses it without allowOtherHost, creating nothing', async () => {
    const sink = await backupAt(scratch.fresh(), { ...host, hostname: 'elsewhere' });
    const target = createMemoryTarget();
    const plan = await prepareRestore({ sink, codecs: registry, target, host });
    assert.equal(plan.findings.length, 1);
    assert.equal(plan.findings[0]!.guard, 'host');
    assert.match(describeFinding(plan.findings[0]!), /backup was made on host 'elsewhere', this is 'test-host'/);
    assert.equal(plan.findings[0]!.override, 'allowOtherHost');
    assert.deepEqual(plan.refusing, plan.findings);
    await assert.rejects(plan.run(), (error: unknown) => {
      assert.ok(isShmsnapError(error, 'BACKUP_STALE'));
      assert.deepEqual(error.details.overrides, ['allowOtherHost']);
      assert.match(error.message, /\(allowOtherHost restores it anyway\)$/);
      assert.doesNotMatch(error.message, /--/);
      return true;
    });
    assert.equal(target.segments.size, 0);
    for (const overrides of [{ allowOtherHost: true }, { force: true }]) {
      const again = createMemoryTarget();
      // The first override's restore consumed the backup: allowConsumed (which force does not include) for the second.
      const allowed = await prepareRestore({ sink, codecs: registry, target: again, host, allowConsumed: true, ...overrides });
      assert.deepEqual(allowed.refusing, [], JSON.stringify(overrides));
      assert.equal((await allowed.run()).segments, 3);
      assert.equal(again.segments.size, 3);
    }
  });

  it('lifts only the finding whose override is given: another host is not an old backup', async () => {
    const sink = await backupAt(scratch.fresh(), { ...host, hostname: 'elsewhere' }, 38 * HOUR);
    const target = createMemoryTarget();
    const plan = await prepareRestore({ sink, codecs: registry, target, host, allowOtherHost: true });
    assert.deepEqual(plan.findings.map((f) => f.guard), ['host', 'age']);
    assert.deepEqual(plan.refusing.map((f) => `${f.guard}:${f.override}`), ['age:allowOlder']);
    await assert.rejects(plan.run(), (error: unknown) => isShmsnapError(error, 'BACKUP_STALE') && /older than the default limit of 24 hours/.test(error.message) && !/elsewhere/.test(error.message));
    assert.equal(target.segments.size, 0);
    const both = await prepareRestore({ sink, codecs: registry, target, host, allowOtherHost: true, allowOlder: true });
    assert.equal((await both.run()).segments, 3);
  });

  it('refuses by default a backup older than DEFAULT_MAX_AGE_MS; maxAge replaces the default, and force does not lift it', async () => {
    const sink = await backupAt(scratch.fresh(), host, DEFAULT_MAX_AGE_MS + HOUR);
    const byDefault = await prepareRestore({ sink, codecs: registry, target: createMemoryTarget(), host });
    assert.deepEqual(byDefault.refusing.map((f) => `${f.guard}:${f.override}`), ['age:allowOlder']);
    // A larger limit of the caller's own accepts it; a smaller one refuses it whatever the overrides.
    assert.deepEqual((await prepareRestore({ sink, codecs: registry, target: createMemoryTarget(), host, maxAgeMs: 48 * HOUR })).findings, []);
    const target = createMemoryTarget();
    const strict = await prepareRestore({ sink, codecs: registry, target, host, maxAgeMs: 12 * HOUR, force: true, allowOtherHost: true, allowFuture: true });
    assert.deepEqual(strict.refusing.map((f) => `${f.guard}:${f.override}`), ['age:null']);
    await assert.rejects(strict.run(), (error: unknown) => isShmsnapError(error, 'BACKUP_STALE') && /older than maxAge \(12 hours\) \(no override/.test(error.message));
    assert.equal(target.segments.size, 0);
  });

  it('refuses allowOlder with maxAge before reading the location (CONFIG_INVALID naming both)', async () => {
    const sink = createLocalSink(join(scratch.fresh(), 'nothing-here'));
    await assert.rejects(prepareRestore({ sink, codecs: registry, host, maxAgeMs: HOUR, allowOlder: true }), (error: unknown) => {
      assert.ok(isShmsnapError(error, 'CONFIG_INVALID'), String(error));
      assert.deepEqual([error.details.option, error.details.conflictsWith], ['allowOlder', 'maxAge']);
      assert.match(error.message, /^allowOlder: cannot be given with maxAge: /);
      return true;
    });
    // force stands for allowOlder only where it means something: with maxAge it is not a conflict.
    await assert.rejects(prepareRestore({ sink, codecs: registry, host, maxAgeMs: HOUR, force: true }), (error: unknown) => isShmsnapError(error, 'LOCATION_NOT_FOUND'), 'the location is read, and is not there');
  });

  it('refuses a manifest dated beyond the clock-skew allowance unless allowFuture, and with maxAge whatever the overrides', async () => {
    const sink = await backupAt(scratch.fresh(), host, -2 * HOUR);
    const plan = await prepareRestore({ sink, codecs: registry, target: createMemoryTarget(), host, allowOtherHost: true, allowOlder: true });
    assert.deepEqual(plan.refusing.map((f) => `${f.guard}:${f.override}`), ['future:allowFuture']);
    assert.ok(plan.provenance[0]!.ageMs! < -HOUR, 'the age says it lies ahead');
    const allowed = await prepareRestore({ sink, codecs: registry, target: createMemoryTarget(), host, allowFuture: true });
    assert.equal((await allowed.run()).segments, 3);
    const strict = await prepareRestore({ sink, codecs: registry, target: createMemoryTarget(), host, maxAgeMs: 12 * HOUR, force: true, allowConsumed: true });
    assert.deepEqual(strict.refusing.map((f) => `${f.guard}:${f.override}`), ['age-unknown:null']);
  });

  it('applies the default limit to ASMT files by their newest modification time; an unknown age refuses only with maxAge', async () => {
    const dir = scratch.fresh();
    await backupAt(dir);
    await rm(join(dir, 'shmsnap-manifest-i0-n1.json'));
    const old = new Date(Date.now() - 30 * HOUR);
    for (const name of await entries(dir)) await utimes(join(dir, name), old, old);
    const sink = createLocalSink(dir);
    const plan = await prepareRestore({ sink, codecs: registry, target: createMemoryTarget(), host });
    assert.equal(plan.provenance[0]!.what, 'ASMT files (no manifest)');
    assert.deepEqual(plan.refusing.map((f) => `${f.guard}:${f.override}`), ['age:allowOlder']);
    assert.equal((await (await prepareRestore({ sink, codecs: registry, target: createMemoryTarget(), host, allowOlder: true })).run()).segments, 3);

    // A sink that reports no modification time: the age is unknown.
    const timeless: Sink = { ...sink, list: async (...args) => (await sink.list(...args)).map(({ modified: _m, ...info }) => info) };
    const unknown = await prepareRestore({ sink: timeless, codecs: registry, target: createMemoryTarget(), host });
    assert.deepEqual(unknown.findings, [], 'no age, no limit asked for: nothing refuses');
    const asked = await prepareRestore({ sink: timeless, codecs: registry, target: createMemoryTarget(), host, maxAgeMs: 100 * HOUR, force: true });
    assert.deepEqual(asked.refusing.map((f) => `${f.guard}:${f.override}`), ['age-unknown:null']);
    assert.match(describeFinding(asked.refusing[0]!), /the age of ASMT files \(no manifest\) is unknown/);
  });

  it('words an age finding with the frontend\'s option names', async () => {
    const sink = await backupAt(scratch.fresh());
    const plan = await prepareRestore({ sink, codecs: registry, target: createMemoryTarget(), host, maxAgeMs: 1000, now: new Date(Date.now() + 60_000) });
    assert.equal(plan.findings.length, 1);
    assert.equal(plan.findings[0]!.guard, 'age');
    assert.match(describeFinding(plan.findings[0]!, (option) => (option === 'maxAge' ? '--max-age' : option)), /older than --max-age \(1 second\)/);
    assert.match(describeFinding(plan.findings[0]!), /older than maxAge/);
  });

  it('checks the target in prepare: an existing segment refuses before anything is read', async () => {
    const sink = await backupAt(scratch.fresh());
    const existing = segments().slice(2);
    await assert.rejects(prepareRestore({ sink, codecs: registry, target: createMemoryTarget(existing), host }), (error: unknown) => isShmsnapError(error, 'SEGMENT_EXISTS'));
  });

  it('reports the provenance of each source', async () => {
    const sink = await backupAt(scratch.fresh());
    const plan = await prepareRestore({ sink, codecs: registry, host });
    assert.equal(plan.provenance.length, 1);
    assert.equal(plan.provenance[0]!.what, 'shmsnap-manifest-i0-n1.json');
    assert.equal(plan.provenance[0]!.sameBoot, true);
    await assert.rejects(plan.run(), (error: unknown) => isShmsnapError(error, 'CONFIG_INVALID') && error.details.option === 'target');
  });
});

describe('prepareVerify and listBackups', () => {
  it('read the same location model: a complete backup beside an interrupted one', async () => {
    const dir = scratch.fresh();
    const sink = createLocalSink(dir);
    await (await prepareBackup({ source: createMemorySource(segments()), sink, codec: codecNone, host, tool })).run();
    // An interrupted backup of another namespace: its marker without a manifest.
    const other = segments().map((s) => ({ ...s, descriptor: { ...s.descriptor, nsid: 2, key: (s.descriptor.key & ~0xff000) | (2 << 12) } }));
    const controller = new AbortController();
    const plan = await prepareBackup({ source: createMemorySource(other), sink, codec: codecNone, host, tool });
    const run = plan.run({ signal: controller.signal, onProgress: () => controller.abort() });
    await assert.rejects(run, (error: unknown) => isShmsnapError(error, 'ABORTED'));

    const rows = await listBackups(sink, { codecs: registry });
    assert.deepEqual(rows.map((r) => [r.status, r.instance, r.segments]), [['complete', 0, 3]], 'an aborted run removes its marker too');

    const verify = await prepareVerify({ sink, codecs: registry });
    assert.equal(verify.entries.length, 3);
    const result = await verify.run();
    assert.deepEqual(result.failures, []);
  });
});

describe('one assessment for restore, verify and ls', () => {
  async function backupAt(dir: string): Promise<Sink> {
    const sink = createLocalSink(dir);
    await (await prepareBackup({ source: createMemorySource(segments()), sink, codec: codecNone, host, tool })).run();
    return sink;
  }

  it('a data stripe file naming a namespace a manifest covers is a conflict, whatever nsid its key carries', async () => {
    const dir = scratch.fresh();
    const sink = await backupAt(dir);
    const stripe = Buffer.alloc(4096);
    writeName(stripe, 12, 'test');
    await writeFile(`${dir}/ad005000.dat`, stripe);
    const conflict = /the location also holds ad005000\.dat, a data segment file of namespace 'test' that this manifest covers but does not list/;
    await assert.rejects(prepareRestore({ sink, codecs: registry, target: createMemoryTarget(), host }), (e: unknown) => isShmsnapError(e, 'MANIFEST_INVALID') && conflict.test(e.message));
    const verify = await prepareVerify({ sink, codecs: registry });
    assert.deepEqual(verify.failures.map((f) => [f.error.code, conflict.test(f.error.message)]), [['MANIFEST_INVALID', true]]);
    const rows = await listBackups(sink, { codecs: registry });
    assert.deepEqual(rows.map((r) => r.status), ['invalid'], 'the stray file is not shown as an ASMT backup of its own');
  });

  it('verify still reads every object it can when planning found problems, and names them all', async () => {
    const dir = scratch.fresh();
    const sink = await backupAt(dir);
    await rm(`${dir}/ae001001.dat`);
    const bytes = await readFile(`${dir}/ae001100.dat`);
    bytes[100]! ^= 1;
    await writeFile(`${dir}/ae001100.dat`, bytes);
    const plan = await prepareVerify({ sink, codecs: registry });
    assert.deepEqual(plan.entries.map((e) => e.object).sort(), ['ae001000.dat', 'ae001100.dat']);
    const result = await plan.run();
    assert.deepEqual(result.failures.map((f) => [f.object, f.error.code]), [['ae001001.dat', 'OBJECT_MISSING'], ['ae001100.dat', 'CHECKSUM_MISMATCH']]);
  });

  it('prepareBackup reports every problem: an invalid level and a location that is a file', async () => {
    const file = `${scratch.fresh()}-file`;
    await writeFile(file, '');
    await assert.rejects(prepareBackup({ source: createMemorySource(segments()), sink: createLocalSink(file), codec: codecNone, level: 3, host, tool }), (e: unknown) => {
      assert.ok(isShmsnapError(e, 'CONFIG_INVALID'), String(e));
      assert.deepEqual(e.details.more, [`location: ${file} is a file, not a directory`]);
      return true;
    });
  });

  it('prepareRestore reports the set\'s problems and the target\'s together', async () => {
    const dir = scratch.fresh();
    const sink = await backupAt(dir);
    await rm(`${dir}/ae001001.dat`);
    const existing = segments().slice(2);
    await assert.rejects(prepareRestore({ sink, codecs: registry, target: createMemoryTarget(existing), host }), (e: unknown) => {
      assert.ok(isShmsnapError(e, 'OBJECT_MISSING'), String(e));
      assert.ok((e.details.more as string[]).some((m) => /0xae001100/.test(m)), String(e.details.more));
      return true;
    });
  });
});

describe('raw restore straight into the segment (positional reads, ranges in parallel)', () => {
  /** The sink, counting how objects are read. */
  function counting(sink: Sink): { sink: Sink; random: string[]; streamed: string[] } {
    const seen = { random: [] as string[], streamed: [] as string[] };
    const wrapped: Sink = {
      ...sink,
      openReader: (name, options) => {
        seen.streamed.push(name);
        return sink.openReader(name, options);
      },
      openRandomReader: (name, options) => {
        seen.random.push(name);
        return sink.openRandomReader!(name, options);
      },
    };
    return { sink: wrapped, ...seen };
  }

  it('reads every raw segment into the target in place, byte-identical', async () => {
    const original = segments();
    const dir = scratch.fresh();
    await (await prepareBackup({ source: createMemorySource(original), sink: createLocalSink(dir), codec: codecNone, host, tool })).run();
    const probe = counting(createLocalSink(dir));
    const target = createMemoryTarget();
    await (await prepareRestore({ sink: probe.sink, codecs: registry, target, host })).run();
    assert.deepEqual(probe.random.sort(), ['ae001000.dat', 'ae001001.dat', 'ae001100.dat']);
    assert.deepEqual(probe.streamed, ['shmsnap-manifest-i0-n1.json', 'ae001000.dat'], 'streams only for the manifest and the base header, while planning');
    for (const s of original) assert.ok(target.segments.get(s.descriptor.key)?.data.equals(s.data), s.descriptor.key.toString(16));
  });

  it('a corrupt raw object fails with CHECKSUM_MISMATCH and leaves no segment behind', async () => {
    const dir = scratch.fresh();
    await (await prepareBackup({ source: createMemorySource(segments()), sink: createLocalSink(dir), codec: codecNone, host, tool })).run();
    const { open } = await import('node:fs/promises');
    const file = await open(`${dir}/ae001100.dat`, 'r+');
    await file.write(Buffer.from([0xff]), 0, 1, 200_000);
    await file.close();
    const target = createMemoryTarget();
    await assert.rejects((await prepareRestore({ sink: createLocalSink(dir), codecs: registry, target, host })).run(), (e: unknown) => isShmsnapError(e, 'CHECKSUM_MISMATCH') && /ae001100\.dat/.test(e.message));
    assert.equal(target.segments.size, 0);
  });

  it('directCopy: false keeps the stream path (for measurements)', async () => {
    const dir = scratch.fresh();
    await (await prepareBackup({ source: createMemorySource(segments()), sink: createLocalSink(dir), codec: codecNone, host, tool })).run();
    const probe = counting(createLocalSink(dir));
    await (await prepareRestore({ sink: probe.sink, codecs: registry, target: createMemoryTarget(), host, directCopy: false })).run();
    assert.deepEqual(probe.random, []);
  });
});

describe('raw restore through ranged reads (a sink without positional reads, as S3)', () => {
  function rangedOnly(sink: Sink): { sink: Sink; ranges: number } {
    const seen = { ranges: 0 };
    const { openRandomReader: _omitted, ...rest } = sink;
    const wrapped: Sink = {
      ...rest,
      openReader: (name, options) => {
        if (options?.range) seen.ranges += 1;
        return sink.openReader(name, options);
      },
    };
    return { sink: wrapped, get ranges() { return seen.ranges; } };
  }

  it('reads every raw object in ranges into the target, byte-identical, and refuses one of the wrong size', async () => {
    const original = segments();
    const dir = scratch.fresh();
    await (await prepareBackup({ source: createMemorySource(original), sink: createLocalSink(dir), codec: codecNone, host, tool })).run();
    const probe = rangedOnly(createLocalSink(dir));
    const target = createMemoryTarget();
    await (await prepareRestore({ sink: probe.sink, codecs: registry, target, host })).run();
    assert.ok(probe.ranges >= 3, `ranged reads: ${probe.ranges}`);
    for (const s of original) assert.ok(target.segments.get(s.descriptor.key)?.data.equals(s.data), s.descriptor.key.toString(16));

    // Cut short after planning (prepare would refuse it: the listing shows its size), so the run's own check is reached.
    const { truncate } = await import('node:fs/promises');
    const again = createMemoryTarget();
    const plan = await prepareRestore({ sink: rangedOnly(createLocalSink(dir)).sink, codecs: registry, target: again, host, force: true, allowConsumed: true });
    await truncate(`${dir}/ae001100.dat`, 1000);
    await assert.rejects(plan.run(), (e: unknown) => isShmsnapError(e, 'SIZE_MISMATCH') && /ae001100\.dat/.test(e.message));
    assert.equal(again.segments.size, 0);
    await assert.rejects(
      prepareRestore({ sink: rangedOnly(createLocalSink(dir)).sink, codecs: registry, target: createMemoryTarget(), host, force: true, allowConsumed: true }),
      (e: unknown) => isShmsnapError(e, 'SIZE_MISMATCH') && /ae001100\.dat: got 1000 stored bytes, expected 262144/.test(e.message),
    );
  });
});

describe('zero runs: found at backup, skipped by a raw restore', () => {
  const MiB = 1024 * 1024;
  function zeroish(): MemorySegment[] {
    const list = segments();
    const stage = list[2]!;
    const half = Buffer.alloc(8 * MiB);
    fillIndexContent(half.subarray(0, 4 * MiB), 99); // the second half stays zero, like an arena's unused tail
    return [
      list[0]!,
      { descriptor: { ...list[1]!.descriptor, size: 2 * MiB }, data: Buffer.alloc(2 * MiB) }, // all zeros
      { descriptor: { ...stage.descriptor, size: half.length }, data: half },
    ];
  }

  /** The local sink, counting the bytes read through positional reads. */
  function readCounting(sink: Sink): { sink: Sink; bytes: () => number } {
    let bytes = 0;
    return {
      sink: {
        ...sink,
        async openRandomReader(name, options) {
          const reader = await sink.openRandomReader!(name, options);
          return { size: reader.size, close: () => reader.close(), read: async (target, position) => { const n = await reader.read(target, position); bytes += n; return n; } };
        },
      },
      bytes: () => bytes,
    };
  }

  it('records the runs in the manifest, reads only the rest, and restores byte-identical', async () => {
    const original = zeroish();
    const dir = scratch.fresh();
    const result = await (await prepareBackup({ source: createMemorySource(original), sink: createLocalSink(dir), codec: codecNone, host, tool })).run();
    const runs = new Map(result.manifest.segments.map((s) => [s.object, s.zeroRanges ?? []]));
    assert.deepEqual(runs.get('ae001001.dat'), [[0, 2 * MiB]], 'a segment of only zeros');
    assert.deepEqual(runs.get('ae001100.dat'), [[4 * MiB, 4 * MiB]], 'the zero tail');
    assert.deepEqual(runs.get('ae001000.dat'), [], 'a base with content');
    const counting = readCounting(createLocalSink(dir));
    const target = createMemoryTarget();
    await (await prepareRestore({ sink: counting.sink, codecs: registry, target, host })).run();
    assert.equal(counting.bytes(), 4096 + 4 * MiB, 'only the bytes that are not zero were read');
    for (const s of original) assert.ok(target.segments.get(s.descriptor.key)?.data.equals(s.data), s.descriptor.key.toString(16));
  });

  it('the file is still whole (ASMT reads it as any .dat) and verify reads every byte of it', async () => {
    const dir = scratch.fresh();
    await (await prepareBackup({ source: createMemorySource(zeroish()), sink: createLocalSink(dir), codec: codecNone, host, tool })).run();
    const { stat } = await import('node:fs/promises');
    assert.equal((await stat(`${dir}/ae001100.dat`)).size, 8 * MiB);
    const result = await (await prepareVerify({ sink: createLocalSink(dir), codecs: registry })).run();
    assert.deepEqual(result.failures, []);
    assert.equal(result.rawBytes, 4096 + 2 * MiB + 8 * MiB);
  });
});

describe('the frame cipher given to prepare*', () => {
  /** node:crypto's cipher, counting its calls: which cipher ran is otherwise invisible (the bytes are the same). */
  function countingCipher(): FrameCipher & { seals: number; opens: number } {
    const counted = {
      name: 'counting node:crypto',
      seals: 0,
      opens: 0,
      seal: (...args: Parameters<FrameCipher['seal']>) => {
        counted.seals += 1;
        nodeFrameCipher.seal(...args);
      },
      open: (...args: Parameters<FrameCipher['open']>) => {
        counted.opens += 1;
        return nodeFrameCipher.open(...args);
      },
    };
    return counted;
  }

  it('seals every frame of a backup and opens every frame of its restore and its verify', async () => {
    const dir = scratch.fresh();
    const key = createRawKeyProvider(Buffer.alloc(32, 7), 'a test key');
    const backupCipher = countingCipher();
    const result = await (await prepareBackup({ source: createMemorySource(segments()), sink: createLocalSink(dir), codec: codecNone, host, tool, encryption: key, frameCipher: backupCipher })).run();
    // One frame per segment (each is smaller than a frame), and the manifest's MAC is not a frame.
    assert.equal(backupCipher.seals, result.manifest.segments.length);
    const restoreCipher = countingCipher();
    const target = createMemoryTarget();
    await (await prepareRestore({ sink: createLocalSink(dir), codecs: registry, target, host, key, frameCipher: restoreCipher })).run();
    // Every frame, and the base's first once more: its header is read before anything is created.
    assert.equal(restoreCipher.opens, backupCipher.seals + 1);
    assert.equal(restoreCipher.seals, 0);
    for (const s of segments()) assert.ok(target.segments.get(s.descriptor.key)?.data.equals(s.data), s.descriptor.key.toString(16));
    const verifyCipher = countingCipher();
    const verified = await (await prepareVerify({ sink: createLocalSink(dir), codecs: registry, key, frameCipher: verifyCipher })).run();
    assert.deepEqual(verified.failures, []);
    assert.ok(verifyCipher.opens >= backupCipher.seals, `${verifyCipher.opens} frames opened of ${backupCipher.seals}`);
  });
});
