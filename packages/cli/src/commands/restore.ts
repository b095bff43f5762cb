/**
 * `shmsnap restore --from <location>`: back into shared memory, all or
 * nothing. Parse → prepare (the set, the provenance guard, the target) →
 * render where each part comes from → refuse unless forced → run → render.
 */
import { Option, type Command } from 'commander';
import { errRestoreRefused, formatAge, formatBytes, formatKey, prepareRestore, type RestorePlan, type RestoreProvenance, type Registry, type Sink } from '@shmsnap/core';
import { createShmTarget, type ShmTarget } from '@shmsnap/shm-native';
import { instanceOption, namespaceOption, parseLocation, threadsOption } from '../cli-options.js';
import { execute, sinkOpener, type CliContext, type SinkOpener } from '../context.js';
import { parseDuration } from '../duration.js';
import { onAbandon } from '../interrupt.js';
import type { Output } from '../render/output.js';
import { planJson, printPlan } from '../render/plan-table.js';
import { summaryJson, summaryLine } from '../render/summary.js';
import { addS3Options, type S3Flags } from '../s3-options.js';

export interface RestoreCommandOptions {
  readonly from: string;
  readonly instance?: number;
  readonly namespaces?: readonly string[];
  readonly threads: number;
  readonly maxAgeMs?: number;
  readonly force: boolean;
  readonly dryRun: boolean;
}

function describeProvenance(p: RestoreProvenance): string {
  const names = p.namespaces.map((n) => `'${n}'`).join(', ');
  const age = p.ageMs === undefined ? 'of unknown age' : `made ${formatAge(p.ageMs)} ago (${p.createdAt!.toISOString()})`;
  const boot = p.sameBoot === undefined ? '' : p.sameBoot ? ', in this boot' : ', before the last reboot';
  const host = p.host ? `on host '${p.host.hostname}'${boot}` : 'on an unknown host (ASMT records none)';
  return `restore: namespace${p.namespaces.length > 1 ? 's' : ''} ${names} from ${p.what}, ${age} ${host}`;
}

function provenanceJson(plan: RestorePlan) {
  return plan.provenance.map((p) => ({
    namespaces: p.namespaces,
    source: p.what,
    createdAt: p.createdAt?.toISOString() ?? null,
    ageSeconds: p.ageMs === undefined ? null : p.ageMs / 1000,
    host: p.host ?? null,
  }));
}

export async function runRestoreCommand(options: RestoreCommandOptions, output: Output, registry: Registry, openSink: SinkOpener, signal: AbortSignal): Promise<void> {
  const sink = await openSink(options.from);
  const target = createShmTarget();
  const release = onAbandon(() => abandonNote(target.abandon()));
  try {
    await restoreWith(target, sink, options, output, registry, signal);
  } finally {
    release();
  }
}

/** What an interrupted restore that could not finish its rollback did about the segments it created. */
export function abandonNote(keys: readonly number[]): string | undefined {
  return keys.length === 0 ? undefined : `removed the ${keys.length} segment(s) this restore had created (${[...keys].sort((a, b) => a - b).map((k) => formatKey(k)).join(', ')}); the kernel frees them as this process ends`;
}

async function restoreWith(target: ShmTarget, sink: Sink, options: RestoreCommandOptions, output: Output, registry: Registry, signal: AbortSignal): Promise<void> {
  const plan = await prepareRestore({
    sink,
    codecs: registry,
    target,
    ...(options.instance === undefined ? {} : { instance: options.instance }),
    ...(options.namespaces ? { namespaces: options.namespaces } : {}),
    ...(options.maxAgeMs === undefined ? {} : { maxAgeMs: options.maxAgeMs }),
    force: options.force,
    concurrency: options.threads,
    signal,
  });
  for (const p of plan.provenance) output.line(describeProvenance(p));
  if (plan.findings.length > 0) {
    const refusal = errRestoreRefused(plan.location, plan.findings, output.flag);
    if (!options.force) throw refusal;
    output.note(`restore: ${output.flag('force')}: restoring anyway (${String(refusal.details.reason)})`);
  }
  output.line(`restore: instance ${plan.instance}: ${plan.entries.length} segments, ${formatBytes(plan.rawBytes)} from ${plan.location}`);
  if (options.dryRun) {
    printPlan(output, plan.entries);
    output.line('dry run: every check passed; no segment was created and no object content was read beyond headers');
    output.result({ dryRun: true, location: plan.location, instance: plan.instance, sources: provenanceJson(plan), plan: planJson(plan.entries) });
    return;
  }
  const result = await plan.run({ signal, onProgress: output.progress() });
  const summary = { phase: 'restore', segments: result.segments, rawBytes: result.rawBytes, elapsedMs: result.elapsedMs };
  output.line(summaryLine(summary));
  output.result({ location: plan.location, instance: plan.instance, namespaces: plan.namespaces.map((n) => ({ name: n.name, nsid: n.nsid })), sources: provenanceJson(plan), ...summaryJson(summary) });
}

type RestoreFlags = S3Flags & { from: string; instance?: number; namespace?: string[]; threads: number; maxAge?: number; force?: boolean; dryRun?: boolean; json?: boolean };

export function defineRestoreCommand(program: Command, context: CliContext): void {
  const command = program
    .command('restore')
    .description(
      "Restore Aerospike namespaces into shared memory from a location: a shmsnap backup (manifest) or an ASMT backup directory (no manifest). Shows the backup's age and source host; refuses a backup from another host or older than --max-age unless --force. Every CRC-32 is checked; all or nothing: on failure or Ctrl-C every segment it created is removed.",
    )
    .addOption(new Option('--from <location>', 'a directory, file:// URL or s3://bucket/prefix').argParser(parseLocation).makeOptionMandatory())
    .addOption(instanceOption('Aerospike instance (0..15) (default: the one the location holds)'))
    .addOption(namespaceOption('only these namespaces, comma-separated (default: every namespace of the instance)'))
    .addOption(threadsOption())
    .addOption(new Option('--max-age <duration>', 'refuse a backup older than this (e.g. 30m, 12h, 7d)').argParser(parseDuration))
    .option('--force', 'restore a backup from another host or older than --max-age anyway')
    .option('--dry-run', 'run every check and print the plan without creating a segment')
    .option('--json', 'print the result as JSON');
  addS3Options(command, false).action(async (flags: RestoreFlags) => {
    await execute(context, flags, 'restore', (output, signal) =>
      runRestoreCommand(
        {
          from: flags.from,
          threads: flags.threads,
          force: flags.force === true,
          dryRun: flags.dryRun === true,
          ...(flags.instance === undefined ? {} : { instance: flags.instance }),
          ...(flags.namespace ? { namespaces: flags.namespace } : {}),
          ...(flags.maxAge === undefined ? {} : { maxAgeMs: flags.maxAge }),
        },
        output,
        context.registry,
        sinkOpener(context.registry, flags),
        signal,
      ),
    );
  });
}
