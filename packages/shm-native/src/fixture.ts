/**
 * Fixtures: the segment set a cleanly shut down Aerospike node leaves in
 * shared memory — base, treex and primary stages per namespace, optionally a
 * secondary index (meta + stages) and data stages — with content like a real
 * index (64-byte entries, random digests, small fields), deterministic from
 * a seed. Damaged variants (dirty shutdown, wrong version, a missing
 * segment, an attached segment) feed the refusal tests.
 *
 * Used by the tests, `shmsnap demo` and the benchmark. It creates segments
 * through `binding`: by default the System V addon, in the caller's IPC
 * namespace (run it under `unshare --ipc` to keep the host's shared memory
 * untouched); unit tests pass the in-memory fake, so the same fixtures feed
 * both.
 */
import { formatKey, type SegmentDescriptor, type SegmentKind } from '@shmsnap/core';
import { fillIndexContent } from '@shmsnap/core/testkit';
import { loadShmBinding, type NativeAttachment, type ShmBinding, type ShmBindingOptions } from './binding.js';
import {
  BASE_NAME_OFFSET,
  BASE_SHUTDOWN_OFFSET,
  BASE_ELEMENT_SIZE_OFFSET,
  BASE_STAGE_CAPACITY_OFFSET,
  BASE_STAGE_COUNT_OFFSET,
  BASE_STAGE_SIZE_OFFSET,
  BASE_VERSION_OFFSET,
  DATA_NAME_OFFSET,
  META_STAGE_COUNT_OFFSET,
  SHUTDOWN_CLEAN,
  writeName,
} from '@shmsnap/core';
import { keyOf } from '@shmsnap/core';
import { attachShm, createShm, lookupShm, removeShm, setShmLocked, setShmOwner, statShm } from './shm.js';
import { DEFAULT_WINDOW_BYTES } from './window-stream.js';

export interface FixtureNamespaceOptions {
  readonly name: string;
  readonly nsid: number;
  /** Primary index stages. @default 2 */
  readonly stages?: number;
  /** @default 1 MiB */
  readonly stageBytes?: number;
  /** @default 256 KiB */
  readonly treexBytes?: number;
  /** @default 64 KiB */
  readonly baseBytes?: number;
  /** A secondary index: a meta segment and its stages. */
  readonly secondary?: { readonly stages: number; readonly stageBytes: number; readonly metaBytes?: number };
  /**
   * Data stages (storage-engine memory); `lows` overrides their key low bits
   * (default 0, 1, 2...); `nsid` the nsid in their keys (default the
   * namespace's: Aerospike 7+ gives data a key base of its own).
   */
  readonly data?: { readonly stages: number; readonly stageBytes: number; readonly lows?: readonly number[]; readonly nsid?: number };
}

export interface FixtureDamage {
  /** Written into every base instead of the clean status (1). */
  readonly shutdownStatus?: number;
  /** Written into every base instead of a supported version. */
  readonly version?: number;
  /** Keys not created: a missing stage, treex, base... */
  readonly omit?: readonly number[];
  /** Keys this process keeps attached until `release()`: a running server. */
  readonly attached?: readonly number[];
  /** Keys locked in memory (SHM_LOCK): their mode shows SHM_LOCKED, which must never become a setgid bit on a file. */
  readonly locked?: readonly number[];
}

export interface FixtureOptions extends ShmBindingOptions {
  /** @default 0 */
  readonly instance?: number;
  readonly namespaces: readonly FixtureNamespaceOptions[];
  /** @default 1 */
  readonly seed?: number;
  /** @default root:root 0666 */
  readonly owner?: { readonly uid: number; readonly gid: number; readonly mode: number };
  readonly damage?: FixtureDamage;
}

export interface FixtureSegment {
  readonly descriptor: SegmentDescriptor;
  readonly seed: number;
  /** Header fields written over the generated content. */
  readonly patches: readonly { readonly offset: number; readonly bytes: Buffer }[];
}

/** The version a base gets unless damaged; inside ASMT's supported range 10..12. */
export const FIXTURE_BASE_VERSION = 12;

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value >>> 0);
  return bytes;
}

/** The arena fields a base records its stage size in: 64-byte elements, stage_capacity of them, stage_size (u64). */
function arenaFields(stageBytes: number): FixtureSegment['patches'] {
  if (stageBytes % 64 !== 0) return [];
  const stageSize = Buffer.alloc(8);
  stageSize.writeBigUInt64LE(BigInt(stageBytes));
  return [
    { offset: BASE_ELEMENT_SIZE_OFFSET, bytes: u32(64) },
    { offset: BASE_STAGE_CAPACITY_OFFSET, bytes: u32(stageBytes / 64) },
    { offset: BASE_STAGE_SIZE_OFFSET, bytes: stageSize },
  ];
}

function nameField(name: string): Buffer {
  const bytes = Buffer.alloc(32);
  writeName(bytes, 0, name);
  return bytes;
}

/** The segments `createFixture` would create (omitted ones included), with their content recipe. */
export function describeFixture(options: FixtureOptions): FixtureSegment[] {
  const instance = options.instance ?? 0;
  const seed = options.seed ?? 1;
  const owner = options.owner ?? { uid: 0, gid: 0, mode: 0o666 };
  const damage = options.damage ?? {};
  const out: FixtureSegment[] = [];
  for (const ns of options.namespaces) {
    const stages = ns.stages ?? 2;
    const add = (kind: SegmentKind, size: number, stage: number | null, patches: FixtureSegment['patches'] = [], keyNsid = ns.nsid): void => {
      const key = keyOf(kind, instance, keyNsid, stage);
      out.push({
        descriptor: { key, kind, instance, nsid: keyNsid, namespace: ns.name, stage, size, uid: owner.uid, gid: owner.gid, mode: owner.mode & 0o777 },
        seed: (seed * 0x10001 + key) >>> 0,
        patches,
      });
    };
    add('primary-base', ns.baseBytes ?? 64 * 1024, null, [
      { offset: BASE_VERSION_OFFSET, bytes: u32(damage.version ?? FIXTURE_BASE_VERSION) },
      { offset: BASE_SHUTDOWN_OFFSET, bytes: u32(damage.shutdownStatus ?? SHUTDOWN_CLEAN) },
      { offset: BASE_NAME_OFFSET, bytes: nameField(ns.name) },
      { offset: BASE_STAGE_COUNT_OFFSET, bytes: u32(stages) },
      ...arenaFields(ns.stageBytes ?? 1024 * 1024),
    ]);
    add('primary-treex', ns.treexBytes ?? 256 * 1024, null);
    for (let stage = 0; stage < stages; stage++) add('primary-stage', ns.stageBytes ?? 1024 * 1024, stage);
    if (ns.secondary) {
      add('secondary-meta', ns.secondary.metaBytes ?? 4096, null, [{ offset: META_STAGE_COUNT_OFFSET, bytes: u32(ns.secondary.stages) }]);
      for (let stage = 0; stage < ns.secondary.stages; stage++) add('secondary-stage', ns.secondary.stageBytes, stage);
    }
    if (ns.data) {
      for (let i = 0; i < ns.data.stages; i++) {
        const low = ns.data.lows?.[i] ?? i;
        const prefix = Buffer.alloc(12);
        prefix.writeBigUInt64LE(0x4165726f44727631n); // a drv_prefix-like magic
        prefix.writeUInt32LE(3, 8);
        add('data-stage', ns.data.stageBytes, low, [
          { offset: 0, bytes: prefix },
          { offset: DATA_NAME_OFFSET, bytes: nameField(ns.name) },
        ], ns.data.nsid);
      }
    }
  }
  return out;
}

/** Fills `target` with the bytes `segment` holds at `offset`. */
export function fixtureContent(segment: FixtureSegment, offset: number, target: Uint8Array): void {
  fillIndexContent(target, segment.seed, offset);
  for (const patch of segment.patches) {
    const from = Math.max(patch.offset, offset);
    const to = Math.min(patch.offset + patch.bytes.length, offset + target.length);
    if (from < to) target.set(patch.bytes.subarray(from - patch.offset, to - patch.offset), from - offset);
  }
}

export interface FixtureDifference {
  readonly key: string;
  readonly reason: string;
}

export interface Fixture {
  readonly instance: number;
  /** Every segment of the recipe, omitted ones included. */
  readonly segments: readonly FixtureSegment[];
  /** Compares shared memory with the recipe (content, size, owner, mode); empty when identical. */
  compare(options?: { readonly ignoreOmitted?: boolean }): Promise<FixtureDifference[]>;
  /** Detaches what `damage.attached` kept attached. */
  release(): Promise<void>;
  /** Removes every segment of the recipe that exists (after release()). */
  remove(): Promise<void>;
}

async function fillSegment(attachment: NativeAttachment, segment: FixtureSegment): Promise<void> {
  const size = segment.descriptor.size;
  for (let offset = 0; offset < size; offset += DEFAULT_WINDOW_BYTES) {
    fixtureContent(segment, offset, attachment.view(offset, Math.min(DEFAULT_WINDOW_BYTES, size - offset)));
  }
}

/** Compares one live segment with its recipe, window by window. */
export async function compareSegment(segment: FixtureSegment, options: ShmBindingOptions = {}): Promise<string | undefined> {
  const binding = options.binding ?? loadShmBinding();
  const { key, size, uid, gid, mode } = segment.descriptor;
  const shmid = lookupShm(key, binding);
  if (shmid === undefined) return 'missing';
  const stat = statShm(shmid, key, binding);
  if (stat.size !== size) return `size ${stat.size}, expected ${size}`;
  if (stat.uid !== uid || stat.gid !== gid || (stat.mode & 0o777) !== mode) {
    return `owner ${stat.uid}:${stat.gid} mode 0${(stat.mode & 0o777).toString(8)}, expected ${uid}:${gid} 0${mode.toString(8)}`;
  }
  const attachment = attachShm(shmid, key, true, binding);
  const expected = Buffer.alloc(Math.min(DEFAULT_WINDOW_BYTES, size));
  try {
    for (let offset = 0; offset < size; offset += DEFAULT_WINDOW_BYTES) {
      const length = Math.min(DEFAULT_WINDOW_BYTES, size - offset);
      const want = expected.subarray(0, length);
      fixtureContent(segment, offset, want);
      const got = attachment.view(offset, length);
      if (!got.equals(want)) {
        let at = 0;
        while (got[at] === want[at]) at++;
        return `content differs at byte ${offset + at}`;
      }
    }
  } finally {
    await attachment.detach();
  }
  return undefined;
}

/**
 * Every attachment `damage.attached` holds, until its fixture's `release()`:
 * a collected attachment detaches itself (the addon's finalizer), so a test
 * that drops the fixture object would otherwise see the "running server"
 * vanish whenever the garbage collector runs.
 */
const HELD_ATTACHMENTS = new Set<NativeAttachment>();

export async function createFixture(options: FixtureOptions): Promise<Fixture> {
  const binding: ShmBinding = options.binding ?? loadShmBinding();
  const segments = describeFixture(options);
  const damage = options.damage ?? {};
  const omitted = new Set(damage.omit ?? []);
  const held: NativeAttachment[] = [];
  const made: { key: number; shmid: number }[] = [];
  try {
    for (const segment of segments) {
      const { key, size, uid, gid, mode } = segment.descriptor;
      if (omitted.has(key)) continue;
      const shmid = createShm(key, size, 0o600, binding);
      made.push({ key, shmid });
      const attachment = attachShm(shmid, key, false, binding);
      try {
        await fillSegment(attachment, segment);
      } finally {
        await attachment.detach();
      }
      setShmOwner(shmid, key, uid, gid, mode, binding);
      if (damage.locked?.includes(key)) setShmLocked(shmid, key, true, binding);
      if (damage.attached?.includes(key)) {
        const attachment = attachShm(shmid, key, true, binding);
        held.push(attachment);
        HELD_ATTACHMENTS.add(attachment);
      }
    }
  } catch (error) {
    for (const attachment of held) {
      HELD_ATTACHMENTS.delete(attachment);
      await attachment.detach();
    }
    for (const { key, shmid } of made) await removeShm(shmid, key, binding);
    throw error;
  }

  const fixture: Fixture = {
    instance: options.instance ?? 0,
    segments,
    async compare(compareOptions = {}) {
      const differences: FixtureDifference[] = [];
      for (const segment of segments) {
        if (compareOptions.ignoreOmitted && omitted.has(segment.descriptor.key)) continue;
        const reason = await compareSegment(segment, { binding });
        if (reason !== undefined) differences.push({ key: formatKey(segment.descriptor.key), reason });
      }
      return differences;
    },
    async release() {
      for (const attachment of held.splice(0)) {
        HELD_ATTACHMENTS.delete(attachment);
        await attachment.detach();
      }
    },
    async remove() {
      await fixture.release();
      for (const segment of segments) {
        const shmid = lookupShm(segment.descriptor.key, binding);
        if (shmid !== undefined) await removeShm(shmid, segment.descriptor.key, binding);
      }
    },
  };
  return fixture;
}
