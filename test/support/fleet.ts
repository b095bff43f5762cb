// A fleet's backups under one location, as `--to LOC/{host}/{instance}/{timestamp}` writes them: real
// backups through core's prepareBackup from memory segments, each with the host identity and the time
// given (core takes both as options), so one machine can stand for many nodes and days.
import {
  BASE_NAME_OFFSET,
  BASE_SHUTDOWN_OFFSET,
  BASE_STAGE_COUNT_OFFSET,
  BASE_VERSION_OFFSET,
  codecNone,
  keyOf,
  pendingName,
  prepareBackup,
  serializeConsumedMarker,
  SHUTDOWN_CLEAN,
  writeName,
  type Sink,
} from '@shmsnap/core';
import { createMemorySource, fillIndexContent, type MemorySegment } from '@shmsnap/core/testkit';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';

export const tool = { name: 'shmsnap', version: 'test' };

export function hostIdentity(hostname: string) {
  return { hostname, machineId: `machine-${hostname}`, bootId: 'boot' };
}

/** One namespace 'test' (nsid 1) of `instance`: a base, its treex and one stage, cleanly shut down. */
export function segmentsOf(instance: number, seed = 1): MemorySegment[] {
  const common = { instance, nsid: 1, namespace: 'test', uid: 0, gid: 0, mode: 0o640 } as const;
  const list = [
    { ...common, key: keyOf('primary-base', instance, 1), kind: 'primary-base', stage: null, size: 4096 },
    { ...common, key: keyOf('primary-treex', instance, 1), kind: 'primary-treex', stage: null, size: 8192 },
    { ...common, key: keyOf('primary-stage', instance, 1, 0), kind: 'primary-stage', stage: 0, size: 64 * 1024 },
  ] as const;
  return list.map((descriptor, i) => {
    const data = Buffer.alloc(descriptor.size);
    fillIndexContent(data, seed * 10 + i);
    if (descriptor.kind === 'primary-base') {
      data.writeUInt32LE(12, BASE_VERSION_OFFSET);
      data.writeUInt32LE(SHUTDOWN_CLEAN, BASE_SHUTDOWN_OFFSET);
      writeName(data, BASE_NAME_OFFSET, 'test');
      data.writeUInt32LE(1, BASE_STAGE_COUNT_OFFSET);
    }
    return { descriptor, data };
  });
}

/** `20261201T120000Z`, as {timestamp}. */
export function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** The sub-location of a backup: `<host>/<instance>/<timestamp>`. */
export function subLocation(hostname: string, instance: number, createdAt: Date): string {
  return `${hostname}/${instance}/${stamp(createdAt)}`;
}

/** A complete backup of `hostname`'s `instance` dated `createdAt`, into `sink` (at its sub-location). */
export async function writeBackup(sink: Sink, hostname: string, instance: number, createdAt: Date): Promise<void> {
  const plan = await prepareBackup({ source: createMemorySource(segmentsOf(instance, createdAt.getTime() % 97)), sink, codec: codecNone, host: hostIdentity(hostname), tool, now: () => createdAt });
  await plan.run();
}

async function put(sink: Sink, name: string, bytes: Buffer): Promise<void> {
  const writer = await sink.openWriter(name, { expectedBytes: bytes.length });
  writer.stream.end(bytes);
  await new Promise((resolve, reject) => writer.stream.once('finish', resolve).once('error', reject));
  await writer.commit();
}

/** What a backup killed mid-way leaves: its pending marker and one segment object, no manifest. */
export async function writeInterrupted(sink: Sink, hostname: string, instance: number, startedAt: Date): Promise<void> {
  await put(sink, pendingName(instance, [1]), Buffer.from(JSON.stringify({ startedAt: startedAt.toISOString(), host: hostIdentity(hostname), tool, pid: 1 })));
  await put(sink, `${keyOf('primary-stage', instance, 1, 0).toString(16)}.dat`, Buffer.alloc(1000, 7));
}

/** A consumed marker for the backup of `instance` dated `createdAt` in `sink`, as a completed restore writes it. */
export async function markConsumed(sink: Sink, hostname: string, instance: number, createdAt: Date): Promise<void> {
  const marker = serializeConsumedMarker({
    consumedAt: new Date(createdAt.getTime() + 60_000).toISOString(),
    host: hostIdentity(hostname),
    pid: 1,
    tool,
    backup: { manifest: `shmsnap-manifest-i${instance}-n1.json`, createdAt: createdAt.toISOString() },
    restored: { instance, namespaces: [{ name: 'test', nsid: 1 }], segments: 3, rawBytes: 4096 + 8192 + 65536 },
  });
  await put(sink, `shmsnap-consumed-i${instance}-n1.json`, marker);
}

/**
 * Every file below `dir`, relative and sorted: what a prune must leave
 * byte-for-byte. With `emptyDirectories`, an empty directory is listed too,
 * ending in `/` (what a prune's sweep removes or keeps).
 */
export async function filesBelow(dir: string, options: { readonly emptyDirectories?: boolean } = {}): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string): Promise<void> => {
    const entries = await readdir(at, { withFileTypes: true });
    if (options.emptyDirectories && entries.length === 0 && at !== dir) out.push(`${relative(dir, at)}/`);
    for (const e of entries) {
      if (e.isDirectory()) await walk(join(at, e.name));
      else out.push(relative(dir, join(at, e.name)));
    }
  };
  await walk(dir);
  return out.sort();
}
