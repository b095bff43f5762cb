/**
 * `shmsnap demo`: the main job on an embedded default, in a private IPC
 * namespace (`unshare --ipc`): create an Aerospike-shaped index in real
 * shared memory, back it up into a local directory, remove the segments (the
 * reboot), restore them, and check every restored byte, owner and mode.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errChecksumMismatch, manifestTotals, readHostIdentity, runBackup, runRestore, type Registry } from '@shmsnap/core';
import { createShmSource, createShmTarget } from '@shmsnap/shm-native';
import { planRestore } from '@shmsnap/core';
import { createFixture, type FixtureOptions } from '@shmsnap/shm-native/fixture';
import { formatBytes } from '../format.js';
import type { Output } from '../output.js';
import { summaryJson, summaryLine } from '../summary.js';
import { TOOL } from '../version.js';

export interface DemoOptions {
  readonly dir?: string;
  readonly sizeMib: number;
  readonly stages: number;
  readonly codec: string;
  readonly level?: number;
  readonly threads: number;
  /** Keep the backup directory and the restored segments. */
  readonly keep: boolean;
}

/** The demo index: one namespace 'demo' with a primary index, a secondary index and two data stages. */
export function demoFixtureOptions(options: Pick<DemoOptions, 'sizeMib' | 'stages'>): FixtureOptions {
  const total = options.sizeMib * 1024 * 1024;
  const stageBytes = Math.max(4096, Math.floor((total * 0.85) / options.stages / 4096) * 4096);
  const sideBytes = Math.max(4096, Math.floor((total * 0.05) / 4096) * 4096);
  return {
    seed: 2026,
    namespaces: [
      {
        name: 'demo',
        nsid: 1,
        stages: options.stages,
        stageBytes,
        treexBytes: sideBytes,
        secondary: { stages: 1, stageBytes: sideBytes },
        data: { stages: 2, stageBytes: sideBytes },
      },
    ],
  };
}

export async function runDemo(options: DemoOptions, output: Output, registry: Registry, signal: AbortSignal): Promise<void> {
  const codec = registry.codec(options.codec);
  const scratch = options.dir === undefined ? await mkdtemp(join(tmpdir(), 'shmsnap-demo-')) : undefined;
  const location = options.dir ?? join(scratch!, 'backup');
  const fixtureOptions = demoFixtureOptions(options);
  let keepSegments = false;
  output.line(`demo: creating an Aerospike-shaped index of ${options.sizeMib} MiB in a private IPC namespace (namespace 'demo', ${options.stages} primary stages, a secondary index, 2 data stages)`);
  const fixture = await createFixture(fixtureOptions);
  try {
    const totalBytes = fixture.segments.reduce((sum, s) => sum + s.descriptor.size, 0);
    output.line(`demo: ${fixture.segments.length} segments, ${formatBytes(totalBytes)}; backing up to ${location} (codec ${codec.name})`);
    const sink = await registry.openSink(location);
    const backup = await runBackup({
      source: createShmSource({ instance: 0 }),
      sink,
      codec,
      ...(options.level === undefined ? {} : { level: options.level }),
      threads: options.threads,
      host: await readHostIdentity(),
      tool: TOOL,
      signal,
      onProgress: output.progress(),
    });
    const totals = manifestTotals(backup.manifest);
    const backupSummary = { phase: 'backup', segments: totals.segments, rawBytes: totals.rawBytes, storedBytes: totals.storedBytes, elapsedMs: backup.elapsedMs };
    output.line(summaryLine(backupSummary));

    output.line('demo: removing the segments (the reboot)');
    await fixture.remove();

    const plan = await planRestore({ sink, codecs: registry, instance: 0, signal });
    const restore = await runRestore({
      sink,
      target: createShmTarget(),
      entries: plan.entries,
      threads: options.threads,
      signal,
      onProgress: output.progress(),
    });
    const restoreSummary = { phase: 'restore', segments: restore.segments, rawBytes: restore.rawBytes, elapsedMs: restore.elapsedMs };
    output.line(summaryLine(restoreSummary));

    const differences = await fixture.compare();
    if (differences.length > 0) {
      throw errChecksumMismatch(differences[0]!.key, `restored segment (${differences[0]!.reason})`, 0, 0).withDetails({ differences });
    }
    output.line(`demo: verified: all ${fixture.segments.length} restored segments are byte-identical to the originals, with the same owner and mode`);
    keepSegments = options.keep;
    output.result({
      location: sink.location,
      kept: options.keep || options.dir !== undefined,
      codec: codec.name,
      backup: summaryJson(backupSummary),
      restore: summaryJson(restoreSummary),
      verified: fixture.segments.length,
    });
  } finally {
    if (!keepSegments) await fixture.remove();
    if (scratch !== undefined && !options.keep) await rm(scratch, { recursive: true, force: true });
  }
}
