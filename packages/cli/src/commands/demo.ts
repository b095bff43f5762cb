/**
 * `shmsnap demo`: the main job on an embedded default, in a private IPC
 * namespace (`unshare --ipc`): create an Aerospike-shaped index in real
 * shared memory, back it up into a local directory, remove the segments (the
 * reboot), restore them, and check every restored byte, owner and mode.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { errChecksumMismatch, formatBytes, manifestTotals, prepareBackup, prepareRestore, readHostIdentity, type Registry } from '@shmsnap/core';
import { createShmSource, createShmTarget, enterPrivateIpcNamespace } from '@shmsnap/shm-native';
import { createFixture, type FixtureOptions } from '@shmsnap/shm-native/fixture';
import { parsePositiveInteger } from '../cli-options.js';
import { execute, type CliContext } from '../context.js';
import { codecJson } from '../render/json.js';
import { addProgressOptions, type ProgressFlags } from '../progress-options.js';
import type { Output } from '../render/output.js';
import { summaryJson, summaryLine } from '../render/summary.js';
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

export async function runDemoCommand(options: DemoOptions, output: Output, registry: Registry, signal: AbortSignal): Promise<void> {
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
    const backupPlan = await prepareBackup({
      source: createShmSource({ instance: 0 }),
      sink,
      codec,
      ...(options.level === undefined ? {} : { level: options.level }),
      concurrency: options.threads,
      host: await readHostIdentity(),
      tool: TOOL,
      signal,
    });
    const backup = await backupPlan.run({ signal, onProgress: output.progress() });
    const totals = manifestTotals(backup.manifest);
    const backupSummary = { phase: 'backup', segments: totals.segments, rawBytes: totals.rawBytes, storedBytes: totals.storedBytes, elapsedMs: backup.elapsedMs };
    output.line(summaryLine(backupSummary));

    output.line('demo: removing the segments (the reboot)');
    await fixture.remove();

    const restorePlan = await prepareRestore({ sink, codecs: registry, target: createShmTarget(), instance: 0, concurrency: options.threads, signal });
    const restore = await restorePlan.run({ signal, onProgress: output.progress() });
    const restoreSummary = { phase: 'restore', segments: restore.segments, rawBytes: restore.rawBytes, elapsedMs: restore.elapsedMs };
    output.line(summaryLine(restoreSummary));

    const differences = await fixture.compare();
    if (differences.length > 0) {
      throw errChecksumMismatch(differences[0]!.key, `restored segment (${differences[0]!.reason})`, 0, 0).withDetails({ differences });
    }
    output.line(`demo: verified: all ${fixture.segments.length} restored segments are byte-identical to the originals, with the same owner and mode`);
    keepSegments = options.keep;
    output.result('demo', {
      location: sink.location,
      kept: options.keep || options.dir !== undefined,
      codec: codecJson(backup.manifest.codec.name, backup.manifest.codec.level),
      backup: summaryJson(backupSummary),
      restore: summaryJson(restoreSummary),
      verified: fixture.segments.length,
    });
  } finally {
    if (!keepSegments) await fixture.remove();
    if (scratch !== undefined && !options.keep) await rm(scratch, { recursive: true, force: true });
  }
}

type DemoFlags = ProgressFlags & { dir?: string; sizeMib: number; stages: number; codec: string; level?: number; threads: number; keep: boolean; json?: boolean };

export function defineDemoCommand(program: Command, context: CliContext): void {
  const command = program
    .command('demo')
    .description(
      "Run the main job on an embedded default, in a private IPC namespace: create an Aerospike-shaped index in shared memory, back it up to a local directory, remove the segments, restore them and verify every byte. Needs root (unshare --ipc); the host's shared memory is not touched.",
    )
    .option('--dir <path>', 'back up into this directory and keep it (default: a temporary directory, removed afterwards)')
    .addOption(new Option('--size-mib <n>', 'size of the demo index in MiB').default(1024).argParser(parsePositiveInteger('--size-mib', 64 * 1024)))
    .addOption(new Option('--stages <n>', 'number of primary index stages').default(8).argParser(parsePositiveInteger('--stages', 2048)))
    .addOption(new Option('--codec <name>', 'codec for the backup').default('none'))
    .addOption(new Option('--level <n>', "codec level (default: the codec's)").argParser(parsePositiveInteger('--level', 22)))
    .addOption(new Option('--threads <n>', 'segments transferred at once').default(2).argParser(parsePositiveInteger('--threads', 1024)))
    .option('--keep', 'keep the backup directory and the restored segments (inside the private namespace they vanish on exit)', false)
    .option('--json', 'print the result as JSON');
  addProgressOptions(command).action(async (flags: DemoFlags) => {
    await enterPrivateIpcNamespace();
    await execute(context, flags, 'demo', (output, signal) =>
      runDemoCommand(
        {
          sizeMib: flags.sizeMib,
          stages: flags.stages,
          codec: flags.codec,
          threads: flags.threads,
          keep: flags.keep,
          ...(flags.level === undefined ? {} : { level: flags.level }),
          ...(flags.dir === undefined ? {} : { dir: flags.dir }),
        },
        output,
        context.registry,
        signal,
      ),
    );
  });
}
