// The layout analysis is pure: these tables of LayoutEntry literals are the
// refusal rules themselves, one row per reason a namespace must not be
// backed up or restored, with no shared memory and no files.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errObjectMissing, errShmFailed, isShmsnapError, type ErrorCode } from '../errors.js';
import { analyzeLayout, requireNamespaces, type AnalyzeOptions, type LayoutEntry, type Selection } from './layout-analysis.js';
import type { BaseInfo } from './segment-fields.js';

const BACKUP: AnalyzeOptions = { requireClean: true, requireDetached: true, noun: 'segment' };
const FILES: AnalyzeOptions = { requireClean: false, requireDetached: false, noun: 'segment file' };

/** An entry labelled as a live segment is: `0xae001100`. */
function entry(key: number, fields: Partial<LayoutEntry> = {}): LayoutEntry {
  return { key, size: 4096, label: `0x${key.toString(16).padStart(8, '0')}`, nattch: 0, ...fields };
}

function base(info: Partial<BaseInfo> = {}, fields: Partial<LayoutEntry> = {}): LayoutEntry {
  return entry(0xae001000, { base: { version: 12, shutdownStatus: 1, namespace: 'test', primaryStageCount: 2, ...info }, ...fields });
}

/** Namespace 'test' (instance 0, nsid 1): base, treex, two primary stages. */
const TREEX = entry(0xae001001);
const STAGE_0 = entry(0xae001100);
const STAGE_1 = entry(0xae001101);
const CLEAN: readonly LayoutEntry[] = [base(), TREEX, STAGE_0, STAGE_1];
const META = entry(0xa2001000, { metaStageCount: 2 });
const SECONDARY_0 = entry(0xa2001100);
const SECONDARY_1 = entry(0xa2001101);

interface Refusal {
  readonly name: string;
  readonly entries: readonly LayoutEntry[];
  readonly code: ErrorCode;
  /** A part of the message that says why. */
  readonly says: RegExp;
  readonly options?: AnalyzeOptions;
  readonly selection?: Selection;
}

const REFUSALS: readonly Refusal[] = [
  { name: 'a stage attached (server running)', entries: [base(), TREEX, STAGE_0, entry(0xae001101, { nattch: 1 })], code: 'SEGMENT_ATTACHED', says: /0xae001101 is attached by 1 process/ },
  { name: 'an attached base', entries: [base({}, { nattch: 2 }), TREEX, STAGE_0, STAGE_1], code: 'SEGMENT_ATTACHED', says: /0xae001000 is attached by 2 process/ },
  { name: 'not cleanly shut down', entries: [base({ shutdownStatus: 0 }), TREEX, STAGE_0, STAGE_1], code: 'SEGMENT_NOT_CLEAN', says: /0xae001000 was not cleanly shut down \(shutdown status 0/ },
  { name: 'a version above the supported range', entries: [base({ version: 13 }), TREEX, STAGE_0, STAGE_1], code: 'SEGMENT_VERSION', says: /version 13; supported versions are 10 to 12/ },
  { name: 'a version below the supported range', entries: [base({ version: 9 }), TREEX, STAGE_0, STAGE_1], code: 'SEGMENT_VERSION', says: /version 9/ },
  { name: 'a missing primary stage', entries: [base({ primaryStageCount: 3 }), TREEX, STAGE_0, entry(0xae001102)], code: 'SEGMENT_SET_INVALID', says: /missing primary stage segment 1 \(0x101\)/ },
  { name: 'more primary stages than the base records', entries: [...CLEAN, entry(0xae001102)], code: 'SEGMENT_SET_INVALID', says: /wrong number of primary stages: the header says 2, found 3/ },
  { name: 'fewer primary stages than the base records', entries: [base({ primaryStageCount: 3 }), TREEX, STAGE_0, STAGE_1], code: 'SEGMENT_SET_INVALID', says: /the header says 3, found 2/ },
  { name: 'no primary stage at all', entries: [base({ primaryStageCount: 0 }), TREEX], code: 'SEGMENT_SET_INVALID', says: /no primary stage segments/ },
  { name: 'a base without its treex', entries: [base(), STAGE_0, STAGE_1], code: 'SEGMENT_SET_INVALID', says: /base 0xae001000 without its treex segment/ },
  { name: 'a treex and stages without their base', entries: [TREEX, STAGE_0, STAGE_1], code: 'SEGMENT_SET_INVALID', says: /0xae001001, 0xae001100, 0xae001101 have no primary base segment/ },
  { name: 'a lone stage without its base', entries: [STAGE_0], code: 'SEGMENT_SET_INVALID', says: /0xae001100 has no primary base segment/ },
  { name: 'a base too small to hold its fields', entries: [base({}, { size: 1024 }), TREEX, STAGE_0, STAGE_1], code: 'SEGMENT_INVALID', says: /base is too small \(1024 bytes\)/ },
  { name: 'a base that could not be read, with the reason', entries: [entry(0xae001000, { base: errShmFailed('shmat', 'segment 0xae001000') }), TREEX, STAGE_0, STAGE_1], code: 'SHM_FAILED', says: /shmat failed for segment 0xae001000/ },
  { name: 'a base that could not be read, without a reason', entries: [entry(0xae001000), TREEX, STAGE_0, STAGE_1], code: 'SEGMENT_INVALID', says: /base could not be read/ },
  { name: 'a base with no namespace name', entries: [base({ namespace: '' }), TREEX, STAGE_0, STAGE_1], code: 'SEGMENT_INVALID', says: /base holds no namespace name/ },
  { name: 'secondary stages without their meta', entries: [...CLEAN, SECONDARY_0, SECONDARY_1], code: 'SEGMENT_SET_INVALID', says: /secondary stages 0xa2001100, 0xa2001101 without their meta segment/ },
  { name: 'a missing secondary stage', entries: [...CLEAN, META, SECONDARY_1], code: 'SEGMENT_SET_INVALID', says: /missing secondary stage segment 0 \(0x100\)/ },
  { name: 'more secondary stages than the meta records', entries: [...CLEAN, META, SECONDARY_0, SECONDARY_1, entry(0xa2001102)], code: 'SEGMENT_SET_INVALID', says: /wrong number of secondary stages: the header says 2, found 3/ },
  { name: 'a secondary meta without stages', entries: [...CLEAN, META], code: 'SEGMENT_SET_INVALID', says: /secondary meta 0xa2001000 without secondary stage segments/ },
  { name: 'a secondary meta too small for its stage count', entries: [...CLEAN, entry(0xa2001000, { size: 16 }), SECONDARY_0], code: 'SEGMENT_INVALID', says: /secondary meta is too small \(16 bytes, needs 24\)/ },
  { name: 'a data stage naming another namespace', entries: [...CLEAN, entry(0xad001000, { dataName: 'other' })], code: 'SEGMENT_SET_INVALID', says: /data segment 0xad001000 names namespace 'other', not 'test'/ },
  { name: 'a data stage too small to hold a name', entries: [...CLEAN, entry(0xad001000, { size: 40 })], code: 'SEGMENT_INVALID', says: /too small to hold a namespace name/ },
  { name: 'a data stage with no name', entries: [...CLEAN, entry(0xad001000, { dataName: '' })], code: 'SEGMENT_INVALID', says: /data segment holds no namespace name/ },
  { name: 'an unexpected key in the namespace', entries: [...CLEAN, entry(0xae001050)], code: 'SEGMENT_INVALID', says: /0xae001050: unexpected segment in instance 0, namespace 'test' \(nsid 1\): its key \(low bits 0x050\)/ },
  { name: 'an unexpected secondary key', entries: [...CLEAN, entry(0xa2001001)], code: 'SEGMENT_INVALID', says: /0xa2001001: unexpected segment/ },
  { name: 'the same segment twice (a file and its compressed twin)', entries: [...CLEAN, entry(0xae001101, { label: 'ae001101.dat.gz' })], code: 'SEGMENT_SET_INVALID', says: /0xae001101 and ae001101\.dat\.gz are the same segment; keep one/ },
  { name: 'one namespace name on two namespace ids', entries: [...CLEAN, entry(0xae002000, { base: { version: 12, shutdownStatus: 1, namespace: 'test', primaryStageCount: 1 } }), entry(0xae002001), entry(0xae002100)], code: 'SEGMENT_SET_INVALID', says: /namespace name 'test' is also used by nsid 2/ },
  { name: 'a namespace that is not there', entries: CLEAN, selection: { instance: 0, namespaces: ['nosuch'] }, code: 'NAMESPACE_NOT_FOUND', says: /namespace 'nosuch' of instance 0 not found/ },
  { name: 'an empty name in the namespace list', entries: CLEAN, selection: { instance: 0, namespaces: ['test', ''] }, code: 'CONFIG_INVALID', says: /empty namespace name in "test,"/ },
  { name: 'a blank name in the namespace list', entries: CLEAN, selection: { instance: 0, namespaces: [' '] }, code: 'CONFIG_INVALID', says: /empty namespace name/ },
  { name: 'an empty namespace list', entries: CLEAN, selection: { instance: 0, namespaces: [] }, code: 'CONFIG_INVALID', says: /empty namespace name/ },
  { name: 'an instance with no segments', entries: CLEAN, selection: { instance: 4 }, code: 'NOTHING_SELECTED', says: /no Aerospike segments of instance 4/ },
  { name: 'nothing at all', entries: [], code: 'NOTHING_SELECTED', says: /no Aerospike segments of instance 0/ },
  { name: 'only keys that are not Aerospike\'s', entries: [entry(0x12345678), entry(0xae000000), entry(0xae021000)], code: 'NOTHING_SELECTED', says: /no Aerospike segments/ },
  { name: 'segment files are named as files', entries: [base({ shutdownStatus: 1 }), STAGE_0, STAGE_1], options: FILES, code: 'SEGMENT_SET_INVALID', says: /without its treex segment file/ },
];

function select(entries: readonly LayoutEntry[], options: AnalyzeOptions = BACKUP, selection: Selection = { instance: 0 }): ReturnType<typeof requireNamespaces> {
  return requireNamespaces(analyzeLayout(entries, options), selection, 'shared memory');
}

describe('layout analysis: one refusal per row', () => {
  for (const row of REFUSALS) {
    it(row.name, () => {
      assert.doesNotThrow(() => analyzeLayout(row.entries, row.options ?? BACKUP), 'the analysis itself never throws');
      assert.throws(
        () => select(row.entries, row.options, row.selection),
        (e: unknown) => {
          assert.ok(isShmsnapError(e), `expected a coded error, got ${String(e)}`);
          assert.equal(e.code, row.code, e.message);
          assert.match(e.message, row.says);
          return true;
        },
      );
    });
  }
});

describe('layout analysis: what passes, and how problems are reported', () => {
  it('selects a complete namespace, members in I/O order', () => {
    const entries = [entry(0xad001001, { dataName: 'test' }), SECONDARY_1, STAGE_1, META, entry(0xad001000, { dataName: 'test' }), SECONDARY_0, TREEX, STAGE_0, base()];
    const [ns, ...rest] = select(entries);
    assert.deepEqual(rest, []);
    assert.deepEqual([ns!.instance, ns!.nsid, ns!.namespace, ns!.problems], [0, 1, 'test', []]);
    assert.deepEqual(
      ns!.members.map((m) => [m.kind, m.stage, m.entry.key.toString(16)]),
      [
        ['primary-base', null, 'ae001000'],
        ['primary-treex', null, 'ae001001'],
        ['primary-stage', 0, 'ae001100'],
        ['primary-stage', 1, 'ae001101'],
        ['secondary-meta', null, 'a2001000'],
        ['secondary-stage', 0, 'a2001100'],
        ['secondary-stage', 1, 'a2001101'],
        ['data-stage', 0, 'ad001000'],
        ['data-stage', 1, 'ad001001'],
      ],
    );
  });

  it('leaves shutdown status and attachments to the caller\'s options (files of a backup)', () => {
    const entries = [base({ shutdownStatus: 0 }, { nattch: 1 }), TREEX, STAGE_0, STAGE_1];
    assert.equal(select(entries, FILES).length, 1);
    assert.throws(() => select(entries, { ...FILES, requireClean: true }), (e: unknown) => isShmsnapError(e, 'SEGMENT_NOT_CLEAN'));
    assert.throws(() => select(entries, { ...FILES, requireDetached: true }), (e: unknown) => isShmsnapError(e, 'SEGMENT_ATTACHED'));
  });

  it('refuses with the first problem and lists the others in details.more', () => {
    const entries = [base({ shutdownStatus: 0, version: 13 }), STAGE_0, STAGE_1];
    const [analysis] = analyzeLayout(entries, BACKUP);
    const problems = analysis!.namespaces[0]!.problems;
    assert.deepEqual(problems.map((p) => p.code), ['SEGMENT_VERSION', 'SEGMENT_NOT_CLEAN', 'SEGMENT_SET_INVALID']);
    assert.throws(() => select(entries), (e: unknown) => {
      assert.ok(isShmsnapError(e, 'SEGMENT_VERSION'));
      assert.deepEqual(e.details.more, problems.slice(1).map((p) => p.message));
      return true;
    });
  });

  it('a broken namespace does not block selecting another by name, but blocks "everything"', () => {
    const bar = [entry(0xae002000, { base: { version: 12, shutdownStatus: 0, namespace: 'bar', primaryStageCount: 1 } }), entry(0xae002001), entry(0xae002100)];
    const entries = [...CLEAN, ...bar];
    assert.deepEqual(select(entries, BACKUP, { instance: 0, namespaces: ['test'] }).map((n) => n.namespace), ['test']);
    assert.throws(() => select(entries), (e: unknown) => isShmsnapError(e, 'SEGMENT_NOT_CLEAN') && /0xae002000/.test(e.message));
  });

  it('orphans (no base) block "everything", not a selection by name', () => {
    const orphan = [entry(0xae002001), entry(0xae002100)];
    assert.equal(select([...CLEAN, ...orphan], BACKUP, { instance: 0, namespaces: ['test'] }).length, 1);
    assert.throws(() => select([...CLEAN, ...orphan]), (e: unknown) => isShmsnapError(e, 'SEGMENT_SET_INVALID') && /nsid 2/.test(e.message));
    const [analysis] = analyzeLayout([...CLEAN, ...orphan], BACKUP);
    assert.deepEqual([analysis!.namespaces.length, analysis!.orphans.length], [1, 1]);
  });

  it('summarizes a long list in a message (a count and a few keys), keeping every key in details', () => {
    // What a restore killed before it created the base leaves: a treex and 21 stages, no base.
    const left = [TREEX, ...Array.from({ length: 21 }, (_, i) => entry(0xae001100 + i))];
    const [orphan] = analyzeLayout(left, FILES)[0]!.orphans;
    const [problem] = orphan!.problems;
    assert.equal(problem!.message, 'instance 0, namespace (unnamed) (nsid 1): 0xae001001, 0xae001100, 0xae001101 and 19 more have no primary base segment file (a treex or stages without their base)');
    assert.equal((problem!.details.keys as string[]).length, 22);
  });

  it('names the namespaces there are when the one asked for is not', () => {
    assert.throws(() => select(CLEAN, BACKUP, { instance: 0, namespaces: ['nosuch'] }), (e: unknown) => isShmsnapError(e, 'NAMESPACE_NOT_FOUND') && JSON.stringify(e.details.available) === '["test"]');
  });

  it('groups by instance, and ignores keys that are not Aerospike\'s', () => {
    const other = [entry(0xae301000, { base: { version: 12, shutdownStatus: 0, namespace: 'test', primaryStageCount: 1 } }), entry(0xae301001), entry(0xae301100)];
    const analysis = analyzeLayout([...CLEAN, ...other, entry(0x12345678)], BACKUP);
    assert.deepEqual(analysis.map((a) => [a.instance, a.namespaces.length]), [[0, 1], [3, 1]]);
    assert.equal(select([...CLEAN, ...other]).length, 1, "instance 3's dirty base does not concern instance 0");
  });
});

describe('layout analysis: data stripes with a key base of their own (Aerospike 7+)', () => {
  // The nsid nibble of a data key need not be the base's: ASMT (2.1.0 on) matches stripes by the name at offset 12.
  const STRIPES = [entry(0xad005000, { dataName: 'test' }), entry(0xad005001, { dataName: 'test' })];

  it('belong to the namespace they name, also when it is selected by name', () => {
    for (const selection of [{ instance: 0 }, { instance: 0, namespaces: ['test'] }]) {
      const [ns, ...rest] = select([...CLEAN, ...STRIPES], BACKUP, selection);
      assert.deepEqual(rest, []);
      assert.deepEqual(ns!.problems, []);
      assert.deepEqual(ns!.members.filter((m) => m.kind === 'data-stage').map((m) => m.entry.key.toString(16)), ['ad005000', 'ad005001']);
    }
    const [analysis] = analyzeLayout([...CLEAN, ...STRIPES], BACKUP);
    assert.equal(analysis!.orphans.length, 0, 'no group without a base is left over');
  });

  it('follow their name past another namespace that has their key nsid', () => {
    const bar = [entry(0xae005000, { base: { version: 12, shutdownStatus: 1, namespace: 'bar', primaryStageCount: 1 } }), entry(0xae005001), entry(0xae005100)];
    const namespaces = select([...CLEAN, ...STRIPES, ...bar]);
    assert.deepEqual(namespaces.map((n) => [n.namespace, n.members.filter((m) => m.kind === 'data-stage').length]), [['test', 2], ['bar', 0]]);
  });

  it('that name no namespace there stay with their key nsid, and block "everything"', () => {
    const strays = [entry(0xad005000, { dataName: 'gone' })];
    assert.equal(select([...CLEAN, ...strays], BACKUP, { instance: 0, namespaces: ['test'] }).length, 1);
    assert.throws(() => select([...CLEAN, ...strays]), (e: unknown) => isShmsnapError(e, 'SEGMENT_SET_INVALID') && /0xad005000 has no primary base/.test(e.message));
  });
});

describe('layout analysis: every stage of a namespace has one size (ASMT restores a short file as a smaller segment, §23.13)', () => {
  const MiB = 1024 * 1024;
  const stage = (n: number, size: number, fields: Partial<LayoutEntry> = {}): LayoutEntry => entry(0xae001100 + n, { size, label: `ae0011${(n).toString(16).padStart(2, '0')}.dat`, ...fields });
  const secondary = (n: number, size: number): LayoutEntry => entry(0xa2001100 + n, { size, label: `a20011${n.toString(16).padStart(2, '0')}.dat` });
  const problemsOf = (entries: readonly LayoutEntry[]) => analyzeLayout(entries, FILES)[0]!.namespaces[0]!;

  it('refuses a stage of another size than the base records, naming it and both sizes', () => {
    const ns = problemsOf([base({ primaryStageCount: 2, stageSize: MiB }), TREEX, stage(0, MiB), stage(1, 500_000)]);
    assert.deepEqual(ns.problems.map((p) => [p.code, p.message]), [
      ['SIZE_MISMATCH', 'ae001101.dat: got 500000 bytes, expected 1048576 (the primary stage size the base records; Aerospike gives every primary stage of a namespace the same size)'],
    ]);
    assert.deepEqual(ns.warnings, []);
  });

  it('without a recorded size, the size most stages share decides', () => {
    const ns = problemsOf([base({ primaryStageCount: 3 }), TREEX, stage(0, MiB), stage(1, MiB), stage(2, 4096)]);
    assert.deepEqual(ns.problems.map((p) => p.code), ['SIZE_MISMATCH']);
    assert.match(ns.problems[0]!.message, /^ae001102\.dat: got 4096 bytes, expected 1048576 \(the size of the other primary stage segment files of instance 0, namespace 'test' \(nsid 1\)/);
  });

  it('with no majority and no recorded size, lists every stage', () => {
    const ns = problemsOf([base({ primaryStageCount: 2 }), TREEX, stage(0, MiB), stage(1, 4096)]);
    assert.deepEqual(ns.problems.map((p) => p.code), ['SEGMENT_SET_INVALID']);
    assert.match(ns.problems[0]!.message, /the primary stage segment files differ in size \(ae001100\.dat 1048576 bytes, ae001101\.dat 4096 bytes\)/);
  });

  it('a recorded size no stage has is a warning, not a refusal (the base may be laid out otherwise), and the majority still applies', () => {
    const agree = problemsOf([base({ primaryStageCount: 2, stageSize: 2 * MiB }), TREEX, stage(0, MiB), stage(1, MiB)]);
    assert.deepEqual(agree.problems, []);
    assert.deepEqual(agree.warnings, ['the base records a primary stage size of 2097152 bytes, which no primary stage segment file has (1048576 bytes): not refused, as the base may be laid out otherwise']);
    const one = problemsOf([base({ primaryStageCount: 1, stageSize: 2 * MiB }), TREEX, stage(0, MiB)]);
    assert.deepEqual([one.problems, one.warnings.length], [[], 1], 'a single stage is judged by nothing else');
  });

  it('secondary stages share one size too; data stripes may differ (one per shadow device)', () => {
    const meta = entry(0xa2001000, { metaStageCount: 3 });
    const ns = problemsOf([...CLEAN, meta, secondary(0, MiB), secondary(1, 100), secondary(2, MiB), entry(0xad001000, { dataName: 'test', size: MiB }), entry(0xad001001, { dataName: 'test', size: 2 * MiB })]);
    assert.deepEqual(ns.problems.map((p) => p.message), ['a2001101.dat: got 100 bytes, expected 1048576 (the size of the other secondary stage segment files of instance 0, namespace \'test\' (nsid 1); Aerospike gives every secondary stage of a namespace the same size)']);
  });

  it('an entry that cannot be used is reported first, in its namespace, and not judged by size', () => {
    const missing = errObjectMissing('ae001101.dat', '/b', 'shmsnap-manifest-i0-n1.json records it');
    const ns = problemsOf([base({ primaryStageCount: 2, stageSize: MiB }), TREEX, stage(0, MiB), stage(1, 0, { problem: missing })]);
    assert.deepEqual(ns.problems, [missing], 'no "missing stage" and no size problem follow from it');
  });

  it('a base that cannot be read keeps the name its record gives, so a selection by name finds it', () => {
    const missing = errObjectMissing('ae001000.dat', '/b', 'shmsnap-manifest-i0-n1.json records it');
    const entries = [entry(0xae001000, { problem: missing, recordedNamespace: 'test' }), TREEX, STAGE_0, STAGE_1];
    assert.throws(() => select(entries, FILES, { instance: 0, namespaces: ['test'] }), (e: unknown) => e === missing);
  });
});
