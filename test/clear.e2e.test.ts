// `shmsnap clear`: removes a leftover segment set of one instance and
// namespace from real shared memory (private IPC namespace), and refuses what
// is not a leftover: attached segments, a cleanly shut-down base.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { afterEach, describe, it } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { runShmsnap } = await import('./support/cli.js');
const { aerospikeKeys, clearSegments } = await import('./support/shm.js');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;

afterEach(clearSegments);

/** What a restore killed mid-way leaves: the base holds zeros where the shutdown status belongs. */
const leftover = (extra: Partial<FixtureOptions['damage']> = {}): FixtureOptions => ({
  namespaces: [{ name: 'test', nsid: 1, stages: 3, stageBytes: 65536, secondary: { stages: 1, stageBytes: 8192 }, data: { stages: 1, stageBytes: 8192, lows: [1], nsid: 5 } }],
  damage: { shutdownStatus: 0, ...extra },
});
const bar: FixtureOptions = { namespaces: [{ name: 'bar', nsid: 2, stages: 1, stageBytes: 65536 }] };
const TEST_KEYS = ['a2001000', 'a2001100', 'ad005001', 'ae001000', 'ae001001', 'ae001100', 'ae001101', 'ae001102'];
const BAR_KEYS = ['ae002000', 'ae002001', 'ae002100'];

describe('shmsnap clear', () => {
  it('removes the leftover set of a namespace, its data stripe under another id too, and nothing else; --dry-run removes nothing', async () => {
    await createFixture(leftover());
    const other = await createFixture(bar);
    assert.deepEqual(aerospikeKeys(), [...TEST_KEYS, ...BAR_KEYS].sort());

    const dry = await runShmsnap(['clear', '--instance', '0', '--namespace', 'test', '--dry-run']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /^clear: instance 0, namespace 'test' \(nsid 1\): 8 segments, .*, none attached$/m);
    assert.match(dry.stdout, /^dry run: every check passed; no segment was removed$/m);
    assert.deepEqual(aerospikeKeys(), [...TEST_KEYS, ...BAR_KEYS].sort());

    const run = await runShmsnap(['clear', '--instance', '0', '--namespace', 'test']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^clear: removed 8 segments$/m);
    assert.deepEqual(aerospikeKeys(), BAR_KEYS, "only 'test' is gone");
    assert.deepEqual(await other.compare(), [], "'bar' is untouched");
  });

  it('refuses any attached segment, even with --force, and removes nothing', async () => {
    await createFixture(leftover({ attached: [0xae001101] }));
    for (const force of [[], ['--force']]) {
      const run = await runShmsnap(['clear', '--instance', '0', '--namespace', 'test', ...force]);
      assert.equal(run.status, 3, run.stderr);
      assert.equal(run.stderr, 'shmsnap: SEGMENT_ATTACHED: segment 0xae001101 is attached by 1 process(es): stop the Aerospike server first\n');
      assert.deepEqual(aerospikeKeys(), TEST_KEYS);
    }
  });

  it('refuses a cleanly shut-down base (an index Aerospike can warm-start from); --force removes it', async () => {
    await createFixture({ ...leftover(), damage: {} });
    const run = await runShmsnap(['clear', '--instance', '0', '--namespace', 'test']);
    assert.equal(run.status, 3, run.stderr);
    assert.match(run.stderr, /^shmsnap: SEGMENT_IN_USE: segment 0xae001000 is the base of instance 0 nsid 1 \('test'\), cleanly shut down \(shutdown status 1\): .*not a leftover; refusing to remove it \(--force removes it anyway\)\n$/);
    assert.deepEqual(aerospikeKeys(), TEST_KEYS);
    const forced = await runShmsnap(['clear', '--instance', '0', '--namespace', 'test', '--force']);
    assert.equal(forced.status, 0, forced.stderr);
    assert.deepEqual(aerospikeKeys(), []);
  });

  it('a set without its base has no name: it is found by --nsid, and the name says so', async () => {
    await createFixture(leftover({ omit: [0xae001000] }));
    const byName = await runShmsnap(['clear', '--instance', '0', '--namespace', 'test']);
    assert.equal(byName.status, 3);
    assert.match(byName.stderr, /^shmsnap: NAMESPACE_NOT_FOUND: namespace 'test' of instance 0 not found in shared memory \(segments without a base, which carry no name, are there for nsid 1.*: give --nsid\)$/m);
    const run = await runShmsnap(['clear', '--instance', '0', '--nsid', '1', '--json']);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout).namespace, { name: null, nsid: 1 });
    assert.deepEqual(aerospikeKeys(), ['ad005001'], 'by id: the keys that carry it (a stripe under another id is found through its base only)');
  });

  it('another instance is not touched, and nothing there is NOTHING_SELECTED', async () => {
    await createFixture({ ...leftover(), instance: 3 });
    const none = await runShmsnap(['clear', '--instance', '0', '--nsid', '1']);
    assert.equal(none.status, 3);
    assert.equal(none.stderr, 'shmsnap: NOTHING_SELECTED: shared memory: no segment of instance 0 nsid 1\n');
    assert.equal(aerospikeKeys().length, TEST_KEYS.length);
  });
});
