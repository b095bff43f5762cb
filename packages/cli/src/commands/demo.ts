/**
 * `shmsnap demo`: the main job on an embedded default. Builds an
 * Aerospike-shaped index, backs it up into a local directory through the
 * real pipeline, restores it, and checks that every restored byte is
 * identical.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  codecNone,
  errChecksumMismatch,
  formatKey,
  manifestTotals,
  planFromManifest,
  readHostIdentity,
  readLocation,
  runBackup,
  runRestore,
  errBackupIncomplete,
  type Registry,
  type SegmentDescriptor,
  crc32,
} from '@shmsnap/core';
import { createMemorySource, createMemoryTarget, fillIndexContent, type MemorySegment } from '@shmsnap/core/testkit';
import type { Output } from '../output.js';
import { summaryJson, summaryLine } from '../summary.js';
import { TOOL } from '../version.js';

export interface DemoOptions {
  readonly dir?: string;
  readonly sizeMib: number;
  readonly stages: number;
  readonly threads: number;
  readonly keep: boolean;
}

export function demoSegments(options: Pick<DemoOptions, 'sizeMib' | 'stages'>): MemorySegment[] {
  const common = { instance: 0, nsid: 1, namespace: 'demo', uid: 0, gid: 0, mode: 0o666 } as const;
  const stageBytes = Math.floor((options.sizeMib * 1024 * 1024) / options.stages / 64) * 64;
  const make = (descriptor: SegmentDescriptor, seed: number): MemorySegment => {
    const data = Buffer.alloc(descriptor.size);
    fillIndexContent(data, seed);
    return { descriptor, data };
  };
  const segments: MemorySegment[] = [
    make({ ...common, key: 0xae001000, kind: 'primary-base', stage: null, size: 64 * 1024 }, 1),
    make({ ...common, key: 0xae001001, kind: 'primary-treex', stage: null, size: 1024 * 1024 }, 2),
  ];
  for (let stage = 0; stage < options.stages; stage++) {
    segments.push(make({ ...common, key: 0xae001100 + stage, kind: 'primary-stage', stage, size: stageBytes }, 100 + stage));
  }
  return segments;
}

export async function runDemo(options: DemoOptions, output: Output, registry: Registry, signal: AbortSignal): Promise<void> {
  const scratch = options.dir === undefined ? await mkdtemp(join(tmpdir(), 'shmsnap-demo-')) : undefined;
  const location = options.dir ?? join(scratch!, 'backup');
  try {
    output.line(`demo: building an Aerospike-shaped index of ${options.sizeMib} MiB in memory (namespace 'demo', ${options.stages} stages)`);
    const original = demoSegments(options);
    const sink = await registry.openSink(location);

    output.line(`demo: backing up to ${sink.location}`);
    const backup = await runBackup({
      source: createMemorySource(original),
      sink,
      codec: codecNone,
      threads: options.threads,
      host: await readHostIdentity(),
      tool: TOOL,
      signal,
      onProgress: output.progress(),
    });
    const totals = manifestTotals(backup.manifest);
    const backupSummary = { phase: 'backup', segments: totals.segments, rawBytes: totals.rawBytes, storedBytes: totals.storedBytes, elapsedMs: backup.elapsedMs };
    output.line(summaryLine(backupSummary));

    const state = await readLocation(sink, signal);
    if (state.kind !== 'complete') throw errBackupIncomplete(sink.location, 'no manifest after backup');
    const target = createMemoryTarget();
    output.line('demo: restoring into an empty target');
    const restore = await runRestore({
      sink,
      target,
      entries: planFromManifest(state.manifest, (name) => registry.codec(name), sink.location),
      threads: options.threads,
      signal,
      onProgress: output.progress(),
    });
    const restoreSummary = { phase: 'restore', segments: restore.segments, rawBytes: restore.rawBytes, elapsedMs: restore.elapsedMs };
    output.line(summaryLine(restoreSummary));

    for (const segment of original) {
      const restored = target.segments.get(segment.descriptor.key);
      if (!restored || !restored.data.equals(segment.data)) {
        throw errChecksumMismatch(formatKey(segment.descriptor.key), 'restored segment', crc32(segment.data), restored ? crc32(restored.data) : 0);
      }
    }
    output.line(`demo: verified: all ${original.length} restored segments are byte-identical to the originals`);
    output.result({
      location: sink.location,
      kept: options.keep || options.dir !== undefined,
      backup: summaryJson(backupSummary),
      restore: summaryJson(restoreSummary),
      verified: original.length,
    });
  } finally {
    if (scratch !== undefined && !options.keep) await rm(scratch, { recursive: true, force: true });
  }
}
