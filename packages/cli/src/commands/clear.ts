/**
 * `shmsnap clear --instance N --namespace X`: removes a leftover segment set
 * (what a restore killed mid-way leaves, and the next restore refuses to
 * overwrite) of one instance and namespace. Refuses attached segments, and a
 * base that was cleanly shut down (an index Aerospike can warm-start from);
 * `--dry-run` says what it would remove. The logic is shm-native's
 * `prepareClear`; this file parses and renders.
 */
import { Option, type Command } from 'commander';
import { formatBytes, formatKey } from '@shmsnap/core';
import { prepareClear, type ClearSegment } from '@shmsnap/shm-native';
import { addGuardOptions, guardFrom, parseInstance, parsePositiveInteger, type GuardFlags } from '../cli-options.js';
import { execute, type CliContext } from '../context.js';
import { namespaceJson } from '../render/json.js';
import type { Output } from '../render/output.js';
import { formatTable } from '../render/table.js';

export interface ClearCommandOptions {
  readonly instance: number;
  readonly namespace?: string;
  readonly nsid?: number;
  readonly force: boolean;
  readonly dryRun: boolean;
  /** The host guard's flags (the lock; clear refuses beside a running asd too). @default {} */
  readonly guard?: GuardFlags;
}

function segmentJson(s: ClearSegment) {
  return { key: formatKey(s.key), kind: s.kind, stage: s.stage, size: s.size, shmid: s.shmid, nattch: s.nattch, shutdownStatus: s.shutdownStatus };
}

export async function runClearCommand(options: ClearCommandOptions, output: Output): Promise<void> {
  const guard = guardFrom(options.guard ?? {});
  try {
    await guard.acquire(options.instance);
    await clearWith(options, output);
  } finally {
    guard.release();
  }
}

async function clearWith(options: ClearCommandOptions, output: Output): Promise<void> {
  const plan = await prepareClear({
    instance: options.instance,
    force: options.force,
    name: output.flag,
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    ...(options.nsid === undefined ? {} : { nsid: options.nsid }),
  });
  const total = plan.segments.reduce((sum, s) => sum + s.size, 0);
  const what = `instance ${plan.instance}, ${plan.namespace ? `namespace '${plan.namespace}' (nsid ${plan.nsid})` : `nsid ${plan.nsid} (no base: its name is unknown)`}`;
  output.line(`clear: ${what}: ${plan.segments.length} segment${plan.segments.length === 1 ? '' : 's'}, ${formatBytes(total)}, none attached`);
  const rows = plan.segments.map((s) => [formatKey(s.key), s.kind ?? 'unexpected', s.stage === null ? '-' : `0x${s.stage.toString(16).padStart(3, '0')}`, formatBytes(s.size), String(s.shmid)]);
  for (const line of formatTable(['key', 'kind', 'stage', 'size', 'shmid'], rows, '  ')) output.line(line);
  const common = { instance: plan.instance, namespace: namespaceJson({ name: plan.namespace, nsid: plan.nsid }), segments: plan.segments.map(segmentJson) };
  if (options.dryRun) {
    output.line('dry run: every check passed; no segment was removed');
    output.result('clear', { dryRun: true, ...common, removed: [] });
    return;
  }
  const result = await plan.run();
  output.line(`clear: removed ${result.removed.length} segment${result.removed.length === 1 ? '' : 's'}`);
  output.result('clear', { dryRun: false, ...common, removed: result.removed.map(formatKey) });
}

type ClearFlags = GuardFlags & { instance: number; namespace?: string; nsid?: number; force?: boolean; dryRun?: boolean; json?: boolean };

export function defineClearCommand(program: Command, context: CliContext): void {
  const command = program
    .command('clear')
    .description(
      'Remove a leftover segment set of one instance and namespace from shared memory: what a restore killed mid-way leaves behind, and the next restore refuses to overwrite (SEGMENT_EXISTS). Refuses (exit 3) any attached segment (a running server or restore uses it) and a base that was cleanly shut down (an index Aerospike can warm-start from; --force removes that one anyway). The base goes last.',
    )
    .requiredOption('--instance <n>', 'Aerospike instance (0..15)', parseInstance)
    .option('--namespace <name>', "the namespace, by the name its base segment records")
    .addOption(new Option('--nsid <n>', 'the namespace id instead: for segments without their base, which carry no name (1..32)').argParser(parsePositiveInteger('--nsid', 32)))
    .option('--force', 'also remove a base that was cleanly shut down (never an attached segment)')
    .option('--dry-run', 'run every check and list the segments it would remove, removing nothing')
    .option('--json', 'print the result as JSON');
  addGuardOptions(command, { conf: false }).action(async (flags: ClearFlags) => {
      await execute(context, flags, 'clear', (output) =>
        runClearCommand(
          {
            instance: flags.instance,
            force: flags.force === true,
            dryRun: flags.dryRun === true,
            guard: flags,
            ...(flags.namespace === undefined ? {} : { namespace: flags.namespace }),
            ...(flags.nsid === undefined ? {} : { nsid: flags.nsid }),
          },
          output,
        ),
      );
    });
}
