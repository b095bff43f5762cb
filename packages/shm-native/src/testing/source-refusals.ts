/**
 * The refusals the shm source MUST make before a backup reads a byte, one
 * per check, as data. shm.integ.test.ts runs them on real shared memory and
 * shm-source.test.ts on the in-memory fake, both from this one table, so the
 * refusals a contributor without root can test are exactly the ones the
 * kernel run proves.
 *
 * Each row builds a fixture (plus, where the damage is a segment too many,
 * the extra segments), asks `createShmSource(selection).list()` and expects
 * the coded error, its code and a part of its message. Everything made is
 * removed afterwards, whatever the outcome.
 */
import assert from 'node:assert/strict';
import { DATA_NAME_OFFSET, isShmsnapError, writeName, type ErrorCode } from '@shmsnap/core';
import type { ShmBinding } from '../binding.js';
import { createFixture, type FixtureOptions } from '../fixture.js';
import { attachShm, createShm, removeShm } from '../shm.js';
import { createShmSource, type ShmSourceOptions } from '../shm-source.js';

export interface SourceRefusal {
  readonly name: string;
  readonly fixture: Omit<FixtureOptions, 'binding'>;
  /** Segments made beside the fixture (mode 0666); `dataName` is written where a data stage holds its namespace name. */
  readonly extra?: readonly { readonly key: number; readonly size: number; readonly dataName?: string }[];
  readonly selection?: Pick<ShmSourceOptions, 'instance' | 'namespaces'>;
  readonly code: ErrorCode;
  readonly message: RegExp;
}

/** One namespace 'test' (nsid 1) of three primary stages: keys 0xae001000 (base), 0xae001001 (treex), 0xae001100..102. */
export const ONE_NAMESPACE: Omit<FixtureOptions, 'binding'> = { namespaces: [{ name: 'test', nsid: 1, stages: 3, stageBytes: 256 * 1024 }] };

const ns = ONE_NAMESPACE.namespaces[0]!;
const withSecondary: Omit<FixtureOptions, 'binding'> = { namespaces: [{ ...ns, secondary: { stages: 2, stageBytes: 4096 } }] };

export const SOURCE_REFUSALS: readonly SourceRefusal[] = [
  { name: 'a segment attached (server running)', fixture: { ...ONE_NAMESPACE, damage: { attached: [0xae001101] } }, code: 'SEGMENT_ATTACHED', message: /0xae001101 is attached by 1 process/ },
  { name: 'an attached base (ASMT makes this a silent no-op)', fixture: { ...ONE_NAMESPACE, damage: { attached: [0xae001000] } }, code: 'SEGMENT_ATTACHED', message: /0xae001000/ },
  { name: 'not cleanly shut down', fixture: { ...ONE_NAMESPACE, damage: { shutdownStatus: 0 } }, code: 'SEGMENT_NOT_CLEAN', message: /0xae001000 was not cleanly shut down \(shutdown status 0/ },
  { name: 'an unsupported version', fixture: { ...ONE_NAMESPACE, damage: { version: 13 } }, code: 'SEGMENT_VERSION', message: /0xae001000 has version 13; supported versions are 10 to 12/ },
  { name: 'a missing stage', fixture: { ...ONE_NAMESPACE, damage: { omit: [0xae001101] } }, code: 'SEGMENT_SET_INVALID', message: /missing primary stage segment 1 \(0x101\)/ },
  { name: 'more stages than the base records', fixture: ONE_NAMESPACE, extra: [{ key: 0xae001103, size: 4096 }], code: 'SEGMENT_SET_INVALID', message: /header says 3, found 4/ },
  { name: 'a base without its treex', fixture: { ...ONE_NAMESPACE, damage: { omit: [0xae001001] } }, code: 'SEGMENT_SET_INVALID', message: /base 0xae001000 without its treex segment/ },
  { name: 'a treex and stages without their base', fixture: { ...ONE_NAMESPACE, damage: { omit: [0xae001000] } }, code: 'SEGMENT_SET_INVALID', message: /0xae001001, .* have no primary base segment/ },
  { name: 'secondary stages without their meta (ASMT skips them silently)', fixture: { ...withSecondary, damage: { omit: [0xa2001000] } }, code: 'SEGMENT_SET_INVALID', message: /secondary stages 0xa2001100, 0xa2001101 without their meta/ },
  { name: 'a missing secondary stage', fixture: { ...withSecondary, damage: { omit: [0xa2001100] } }, code: 'SEGMENT_SET_INVALID', message: /missing secondary stage segment 0/ },
  { name: 'a data stage naming another namespace', fixture: ONE_NAMESPACE, extra: [{ key: 0xad001000, size: 4096, dataName: 'other' }], code: 'SEGMENT_SET_INVALID', message: /0xad001000 names namespace 'other', not 'test'/ },
  { name: 'an unexpected key in the namespace (ASMT takes it for a second base)', fixture: ONE_NAMESPACE, extra: [{ key: 0xae001050, size: 4096 }], code: 'SEGMENT_INVALID', message: /0xae001050: unexpected segment/ },
  { name: 'a namespace that is not there (ASMT exits 0)', fixture: ONE_NAMESPACE, selection: { namespaces: ['nosuch'] }, code: 'NAMESPACE_NOT_FOUND', message: /namespace 'nosuch' of instance 0 not found/ },
  { name: 'an empty name in the namespace list (ASMT exits 0)', fixture: ONE_NAMESPACE, selection: { namespaces: ['test', ''] }, code: 'CONFIG_INVALID', message: /empty namespace name/ },
  { name: 'an instance with no segments', fixture: ONE_NAMESPACE, selection: { instance: 4 }, code: 'NOTHING_SELECTED', message: /no Aerospike segments of instance 4/ },
];

/** Builds the row's segments through `binding`, expects the refusal, removes what it built. */
export async function assertSourceRefuses(refusal: SourceRefusal, binding: ShmBinding): Promise<void> {
  const fixture = await createFixture({ ...refusal.fixture, binding });
  const extras: { key: number; shmid: number }[] = [];
  try {
    for (const extra of refusal.extra ?? []) {
      const shmid = createShm(extra.key, extra.size, 0o666, binding);
      extras.push({ key: extra.key, shmid });
      if (extra.dataName !== undefined) {
        const attachment = attachShm(shmid, extra.key, false, binding);
        writeName(attachment.view(0, extra.size), DATA_NAME_OFFSET, extra.dataName);
        await attachment.detach();
      }
    }
    await assert.rejects(createShmSource({ ...refusal.selection, binding }).list(), (e: unknown) => {
      assert.ok(isShmsnapError(e), `expected a coded error, got ${String(e)}`);
      assert.equal(e.code, refusal.code, e.message);
      assert.match(e.message, refusal.message);
      return true;
    });
  } finally {
    for (const { key, shmid } of extras) await removeShm(shmid, key, binding);
    await fixture.remove();
  }
}
