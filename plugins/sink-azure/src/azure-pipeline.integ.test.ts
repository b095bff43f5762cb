// The plugin as a host uses it: registered into a core registry with
// `registerSink`, opened by location, then a real backup of real SysV shared
// memory (an Aerospike-shaped fixture, in this process's private IPC
// namespace) → the segments removed → restore → every byte, owner and mode
// compared → verify → the listing. Against Azurite, started here and stopped
// by PID.
import { enterPrivateIpcNamespace, createShmSource, createShmTarget } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { codecNone, createRegistry, isShmsnapError, listBackups, prepareBackup, prepareRestore, prepareVerify, readHostIdentity } from '@shmsnap/core';
import { createFixture } from '@shmsnap/shm-native/fixture';
import plugin from './index.js';
import { startAzurite, type AzuriteServer } from './testing/index.js';

const tool = { name: 'shmsnap', version: 'test' };

let server: Promise<AzuriteServer> | undefined;
const azurite = (): Promise<AzuriteServer> => (server ??= startAzurite({ containers: ['backups'] }));
after(async () => {
  await (await server)?.stop();
});

function registryWithPlugin() {
  const registry = createRegistry();
  registry.registerCodec(codecNone);
  for (const provider of plugin.sinks ?? []) registry.registerSink(provider);
  return registry;
}

describe('azblob: backup → restore → verify through core, real shared memory', () => {
  it('backs up an index to Azure Blob, restores it byte-identical, verifies and lists it', async () => {
    const { connectionString } = await azurite();
    const registry = registryWithPlugin();
    const location = 'azblob://devstoreaccount1/backups/node1/2026-12-01';
    // A 1 MiB block size and two uploads at once: the 3 MiB stages go out in several blocks each.
    const sink = await registry.openSink(location, { connectionString, blockSizeMib: 1, uploadConcurrency: 2, env: {} });
    assert.equal(sink.location, location);
    assert.equal(registry.redact(`${location}?sv=1&sig=x`), location);

    const fixture = await createFixture({
      seed: 13,
      namespaces: [{ name: 'test', nsid: 1, stages: 3, stageBytes: 3 << 20, treexBytes: 256 << 10, data: { stages: 1, stageBytes: 1 << 20 } }],
    });
    try {
      const host = await readHostIdentity();
      const backupPlan = await prepareBackup({ source: createShmSource({ instance: 0 }), sink, codec: codecNone, concurrency: 2, host, tool });
      assert.ok(backupPlan.notes.some((note) => /manifest/i.test(note)), `Azure keeps no owner or mode: the plan says so (${backupPlan.notes.join('; ')})`);
      const backup = await backupPlan.run();
      assert.equal(backup.manifest.segments.length, fixture.segments.length);
      const names = (await sink.list('')).map((o) => o.name);
      assert.ok(names.includes('shmsnap-manifest-i0-n1.json'), `the manifest is there: ${names.join(', ')}`);
      assert.ok(!names.some((n) => n.startsWith('shmsnap-pending')), 'the pending marker is gone');

      // A second backup into the same location is refused, leaving the first untouched.
      await assert.rejects(
        prepareBackup({ source: createShmSource({ instance: 0 }), sink, codec: codecNone, host: await readHostIdentity(), tool }).then((plan) => plan.run()),
        (e: unknown) => isShmsnapError(e, 'BACKUP_EXISTS'),
      );

      await fixture.remove();
      const restorePlan = await prepareRestore({ sink, codecs: registry, target: createShmTarget(), instance: 0, concurrency: 2 });
      const restore = await restorePlan.run();
      assert.equal(restore.segments, fixture.segments.length);
      assert.deepEqual(await fixture.compare(), [], 'every restored segment equals the original (content, size, owner, mode)');

      const verifyPlan = await prepareVerify({ sink, codecs: registry });
      assert.deepEqual(verifyPlan.failures, []);
      const verified = await verifyPlan.run();
      assert.deepEqual(verified.failures, []);
      assert.equal(verified.segments, fixture.segments.length);

      const parent = await registry.openSink('azblob://devstoreaccount1/backups/node1', { connectionString, env: {} });
      const listing = await listBackups(parent, { codecs: registry, depth: 1 });
      assert.equal(listing.length, 1, `one backup below node1: ${JSON.stringify(listing.map((b) => b.location))}`);
    } finally {
      // The originals, or the restored segments: whatever of the recipe exists goes.
      await fixture.remove();
    }
  });

  it('an empty container reads as "no backup", a missing one as LOCATION_NOT_FOUND', async () => {
    const { connectionString } = await azurite();
    const registry = registryWithPlugin();
    const empty = await registry.openSink('azblob://devstoreaccount1/backups/nothing-here', { connectionString, env: {} });
    await assert.rejects(prepareRestore({ sink: empty, codecs: registry, target: createShmTarget(), instance: 0 }), (e: unknown) => isShmsnapError(e, 'BACKUP_NOT_FOUND'));
    const missing = await registry.openSink('azblob://devstoreaccount1/no-container/x', { connectionString, env: {} });
    await assert.rejects(prepareRestore({ sink: missing, codecs: registry, target: createShmTarget(), instance: 0 }), (e: unknown) => isShmsnapError(e, 'LOCATION_NOT_FOUND') && /no-container/.test(e.message));
  });
});
