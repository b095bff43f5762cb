// Shared-memory helpers for end-to-end tests (always inside a private IPC namespace).
import { listShmSegments, removeShm } from '@shmsnap/shm-native';
import { decodeKey } from '@shmsnap/core';
import { compareSegment, type Fixture, type FixtureSegment } from '@shmsnap/shm-native/fixture';

/** Removes every segment of this IPC namespace. */
export async function clearSegments(): Promise<void> {
  for (const s of listShmSegments()) await removeShm(s.shmid, s.key);
}

/** Keys (hex) of the Aerospike segments present. */
export function aerospikeKeys(): string[] {
  return listShmSegments()
    .filter((s) => decodeKey(s.key) !== undefined)
    .map((s) => s.key.toString(16))
    .sort();
}

/** Removes the fixture's segments: "the reboot". */
export async function reboot(...fixtures: Fixture[]): Promise<void> {
  for (const fixture of fixtures) await fixture.remove();
}

/** Segments of `recipe` that differ from shared memory (content, size, owner, mode), with the reason. */
export async function differencesFrom(recipe: readonly FixtureSegment[]): Promise<string[]> {
  const out: string[] = [];
  for (const segment of recipe) {
    const reason = await compareSegment(segment);
    if (reason !== undefined) out.push(`0x${segment.descriptor.key.toString(16)}: ${reason}`);
  }
  return out;
}
