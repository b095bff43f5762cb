// `shmsnap inspect` against fixtures in real shared memory (private IPC namespace).
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { after, before, describe, it } = await import('node:test');
const { listShmSegments, removeShm } = await import('@shmsnap/shm-native');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { runShmsnap } = await import('./support/cli.js');

describe('shmsnap inspect', () => {
  before(async () => {
    await createFixture({ owner: { uid: 1234, gid: 0, mode: 0o640 }, namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 65536, secondary: { stages: 1, stageBytes: 8192 }, data: { stages: 1, stageBytes: 8192, lows: [1] } }] });
    await createFixture({ namespaces: [{ name: 'bar', nsid: 2, stages: 2, stageBytes: 65536 }], damage: { shutdownStatus: 0 } });
    await createFixture({ instance: 3, namespaces: [{ name: 'other', nsid: 1, stages: 1, stageBytes: 4096 }], damage: { omit: [0xae301000] } });
  });
  after(async () => {
    for (const s of listShmSegments()) await removeShm(s.shmid, s.key);
  });

  it('classifies every namespace, with the reason a backup is refused', async () => {
    const run = await runShmsnap(['inspect']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^instance 0, namespace 'test' \(nsid 1, version 12, shutdown status 1, stage size 64\.0 KiB\): backup allowed$/m);
    assert.match(run.stdout, /^ {2}0xad001001 +data-stage +0x001 +8\.0 KiB +1234:root +0640 +0 /m);
    assert.match(run.stdout, /^instance 0, namespace 'bar' \(nsid 2, .*shutdown status 0, stage size 64\.0 KiB\): backup refused\n {2}SEGMENT_NOT_CLEAN: base segment 0xae002000 was not cleanly shut down/m);
    assert.match(run.stdout, /^instance 3, segments without a base \(nsid 1\): backup refused\n {2}SEGMENT_SET_INVALID: .*0xae301001, 0xae301100 have no primary base segment/m);
  });

  it('gives the same classification as JSON, narrowed by instance and namespace', async () => {
    const run = await runShmsnap(['inspect', '--instance', '0', '--namespace', 'test,bar', '--json']);
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.ok, true);
    assert.deepEqual(result.instances.map((i: { instance: number }) => i.instance), [0]);
    const [test, bar] = result.instances[0].namespaces;
    assert.deepEqual([test.name, test.nsid], ['test', 1]);
    assert.equal(test.backupAllowed, true);
    assert.deepEqual(test.segments.map((s: { key: string; kind: string }) => `${s.key} ${s.kind}`), [
      '0xae001000 primary-base', '0xae001001 primary-treex', '0xae001100 primary-stage', '0xae001101 primary-stage',
      '0xa2001000 secondary-meta', '0xa2001100 secondary-stage', '0xad001001 data-stage',
    ]);
    assert.deepEqual([test.segments[0].uid, test.segments[0].mode, test.segments[0].nattch], [1234, '0640', 0]);
    assert.equal(bar.backupAllowed, false);
    assert.deepEqual(bar.problems.map((p: { code: string }) => p.code), ['SEGMENT_NOT_CLEAN']);
  });

  it('fails with a coded error for a namespace that is not there', async () => {
    const run = await runShmsnap(['inspect', '--namespace', 'nosuch', '--json']);
    assert.equal(run.status, 3);
    assert.equal(JSON.parse(run.stdout).error.code, 'NAMESPACE_NOT_FOUND');
  });
});
