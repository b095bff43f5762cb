// Pre-flight through core's API on real shared memory (a private IPC
// namespace) and a local directory: prepareBackup records the conf and each
// base's header read through the shm source; preparePreflight assesses the
// backup against a conf written as a fixture (shadow files: one stripe per
// file of `filesize`) and runs restore's checks as a dry run against the real
// shm target, which finds the segments still in the way.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { writeFile } = await import('node:fs/promises');
const { join } = await import('node:path');
const { afterEach, describe, it } = await import('node:test');
const { codecNone, createRegistry, preparePreflight, prepareBackup, readAerospikeConf, readAerospikeHostFacts } = await import('@shmsnap/core');
const { createShmSource, createShmTarget } = await import('@shmsnap/shm-native');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { createLocalSink } = await import('@shmsnap/sink-local');
const { useScratch } = await import('./support/scratch.js');
const { aerospikeKeys, clearSegments } = await import('./support/shm.js');

const MiB = 1024 * 1024;
const scratch = useScratch('preflight-integ');
afterEach(clearSegments);
const registry = createRegistry();
registry.registerCodec(codecNone);
const host = { hostname: 'preflight-host', machineId: 'm', bootId: 'b' };

const shadowConf = (sprigs: string, filesize: string) =>
  `namespace test {\n  partition-tree-sprigs ${sprigs}\n  storage-engine memory {\n    file /var/lib/aerospike/test-0.dat\n    file /var/lib/aerospike/test-1.dat\n    filesize ${filesize}\n  }\n}\n`;

describe('preparePreflight on a backup of real segments', () => {
  it('unchanged: warm, every check passes once the segments are gone; sprigs → cold; filesize → crash risk; segments in the way fail the check', async () => {
    await createFixture({ namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 256 * 1024, data: { stages: 2, stageBytes: MiB } }] });
    const conf = join(scratch.root(), 'aerospike.conf');
    await writeFile(conf, shadowConf('256', '1M'));
    const dir = scratch.fresh();
    const plan = await prepareBackup({ source: createShmSource(), sink: createLocalSink(dir), codec: codecNone, host, tool: { name: 'shmsnap', version: 'test' }, aerospike: await readAerospikeHostFacts(conf, { asdCommand: join(scratch.root(), 'no-asd') }) });
    const { manifest } = await plan.run();
    assert.deepEqual(manifest.aerospike?.namespaces[0]?.base, { version: 12, shutdownStatus: 1, primaryStageCount: 2, stageSize: 256 * 1024 }, 'read through the shm source');
    assert.equal(manifest.aerospike?.build, null, 'no asd binary: null, and the backup went on');

    // The conf as it is at each call; the restore checks against the real shm target.
    const assess = () => preparePreflight({ sink: createLocalSink(dir), codecs: registry, host, aerospike: { conf: readAerospikeConf(conf), build: null }, restoreChecks: { target: createShmTarget(), asdPidFile: join(scratch.root(), 'none.pid') }, now: new Date(manifest.createdAt) });
    const inTheWay = await assess();
    assert.equal(inTheWay.expect, 'warm');
    assert.deepEqual(inTheWay.checks.filter((c) => c.status === 'fail').map((c) => [c.check, c.code]), [['segments', 'SEGMENT_EXISTS']]);
    assert.equal(inTheWay.warmStart, false);

    await clearSegments();
    const warm = await assess();
    assert.deepEqual([warm.warmStart, warm.expect], [true, 'warm']);
    assert.deepEqual(warm.namespaces[0]!.findings.find((f) => f.what === 'stripes'), {
      what: 'stripes', expect: 'warm', backup: '2 stripes of 1048576 bytes (1.0 MiB)', now: '2 stripes of 1048576 bytes (1.0 MiB)', reason: '2 file(s) of filesize 1M gives the stripes the backup holds', derived: true,
    });

    await writeFile(conf, shadowConf('1024', '1M'));
    const cold = await assess();
    assert.deepEqual([cold.expect, cold.namespaces[0]!.findings.find((f) => f.what === 'partition-tree-sprigs')?.now], ['cold', '1024']);

    await writeFile(conf, shadowConf('256', '2M'));
    const crash = await assess();
    const f = crash.namespaces[0]!.findings.find((x) => x.what === 'filesize')!;
    assert.deepEqual([crash.expect, f.backup, f.now, f.derived], ['crash-risk', '1M', '2M', false]);
    assert.deepEqual(aerospikeKeys(), [], 'pre-flight created nothing');
  });
});
