/**
 * `shmsnap restore --from <location>`: back into shared memory, all or
 * nothing. Parse → prepare (the set, the provenance guard, the target) →
 * render where each part comes from → refuse while a guard's finding stands
 * without its override → run → render.
 */
import { Option, type Command } from 'commander';
import {
  CLOCK_SKEW_ALLOWANCE_MS,
  DEFAULT_AEROSPIKE_CONF,
  DEFAULT_MAX_AGE_MS,
  preparePreflight,
  preflightWarnings,
  readAerospikeHostFacts,
  type PreflightReport,
  describeFinding,
  errConfigInvalid,
  errRestoreRefused,
  findLatestBackup,
  readHostIdentity,
  formatAge,
  formatBytes,
  formatKey,
  prepareRestore,
  type InstanceGuard,
  type RestoreOverrides,
  type RestorePlan,
  type RestoreProvenance,
  type Registry,
  type Sink,
} from '@shmsnap/core';
import { createShmTarget, type ShmTarget } from '@shmsnap/shm-native';
import { addGuardOptions, guardFrom, instanceOption, namespaceOption, parseDepth, parseLocation, threadsOption, type GuardFlags } from '../cli-options.js';
import { execute, sinkOpener, type CliContext, type SinkOpener } from '../context.js';
import { parseDuration } from '../duration.js';
import { onAbandon, type OnCommitted } from '../interrupt.js';
import type { Output } from '../render/output.js';
import { errorJson, namespaceJson } from '../render/json.js';
import { planJson, printPlan } from '../render/plan-table.js';
import { summaryJson, summaryLine } from '../render/summary.js';
import { addProgressOptions, type ProgressFlags } from '../progress-options.js';
import { addRunReportOptions } from '../run-report/report.js';
import { addSinkOptions, type SinkFlags } from '../sink-options.js';
import { preflightJson, printPreflight } from './preflight.js';
import { addKeyOptions, frameCipherFor, keyFrom, type KeyFlags } from '../key-options.js';

export interface RestoreCommandOptions {
  readonly from: string;
  readonly instance?: number;
  readonly namespaces?: readonly string[];
  readonly threads: number;
  readonly maxAgeMs?: number;
  readonly overrides: RestoreOverrides;
  readonly force: boolean;
  readonly dryRun: boolean;
  /** Restore a backup restored before. Not part of force. @default false */
  readonly allowConsumed?: boolean;
  /** Restore the newest complete, unconsumed backup of this host and instance under `from`. @default false */
  readonly latest?: boolean;
  /** How deep `latest` looks below `from`. @default 3 */
  readonly depth?: number;
  /** The host guard's flags. @default {} */
  readonly guard?: GuardFlags;
  /** The key of an encrypted backup. @default {} */
  readonly key?: KeyFlags;
}

function describeProvenance(p: RestoreProvenance): string {
  const names = p.namespaces.map((n) => `'${n}'`).join(', ');
  const age =
    p.ageMs === undefined ? 'of unknown age' : p.ageMs < 0 ? `dated ${formatAge(-p.ageMs)} in the future (${p.createdAt!.toISOString()})` : `made ${formatAge(p.ageMs)} ago (${p.createdAt!.toISOString()})`;
  const boot = p.sameBoot === undefined ? '' : p.sameBoot ? ', in this boot' : ', before the last reboot';
  const host = p.host ? `on host '${p.host.hostname}'${boot}` : 'on an unknown host (ASMT records none)';
  return `restore: namespace${p.namespaces.length > 1 ? 's' : ''} ${names} from ${p.what}, ${age} ${host}`;
}

function provenanceJson(plan: RestorePlan) {
  const nsidOf = new Map(plan.namespaces.map((n) => [n.name, n.nsid]));
  return plan.provenance.map((p) => ({
    namespaces: p.namespaces.map((name) => namespaceJson({ name, nsid: nsidOf.get(name)! })),
    source: p.what,
    createdAt: p.createdAt?.toISOString() ?? null,
    ageSeconds: p.ageMs === undefined ? null : p.ageMs / 1000,
    host: p.host ?? null,
  }));
}

export async function runRestoreCommand(
  options: RestoreCommandOptions,
  output: Output,
  registry: Registry,
  openSink: SinkOpener,
  signal: AbortSignal,
  onCommitted?: OnCommitted,
): Promise<void> {
  const sink = await latestOf(options, registry, openSink, signal);
  const target = createShmTarget();
  const release = onAbandon(() => abandonNote(target.abandon()));
  // The host lock is held from prepare to the end of the run (a dry run takes it and lets it go).
  const guard = guardFrom(options.guard ?? {});
  try {
    await restoreWith(target, sink, options, output, registry, signal, onCommitted, guard);
  } finally {
    guard.release();
    release();
  }
}

/** The location to restore from: `from`, or with `latest` the sub-location core's findLatestBackup chose below it. */
export async function latestOf(options: Pick<RestoreCommandOptions, 'from' | 'latest' | 'depth' | 'instance'>, registry: Registry, openSink: SinkOpener, signal: AbortSignal): Promise<Sink> {
  if (options.depth !== undefined && options.latest !== true) throw errConfigInvalid('depth', 'it says how deep --latest looks, and --latest was not given');
  const sink = await openSink(options.from);
  if (options.latest !== true) return sink;
  const chosen = await findLatestBackup(sink, {
    codecs: registry,
    host: await readHostIdentity(),
    depth: options.depth ?? 3,
    signal,
    ...(options.instance === undefined ? {} : { instance: options.instance }),
  });
  if (chosen.prefix === '') return sink;
  return openSink(`${options.from.replace(/\/+$/, '')}/${chosen.prefix.replace(/\/$/, '')}`);
}

/** What an interrupted restore that could not finish its rollback did about the segments it created. */
export function abandonNote(keys: readonly number[]): string | undefined {
  return keys.length === 0 ? undefined : `removed the ${keys.length} segment(s) this restore had created (${[...keys].sort((a, b) => a - b).map((k) => formatKey(k)).join(', ')}); the kernel frees them as this process ends`;
}

async function restoreWith(
  target: ShmTarget,
  sink: Sink,
  options: RestoreCommandOptions,
  output: Output,
  registry: Registry,
  signal: AbortSignal,
  onCommitted: OnCommitted | undefined,
  guard: InstanceGuard,
): Promise<void> {
  const key = await keyFrom(options.key ?? {});
  const plan = await prepareRestore({
    ...(key ? { key } : {}),
    ...frameCipherFor(key),
    guard,
    allowConsumed: options.allowConsumed === true,
    sink,
    codecs: registry,
    target,
    ...(options.instance === undefined ? {} : { instance: options.instance }),
    ...(options.namespaces ? { namespaces: options.namespaces } : {}),
    ...(options.maxAgeMs === undefined ? {} : { maxAgeMs: options.maxAgeMs }),
    ...options.overrides,
    force: options.force,
    concurrency: options.threads,
    signal,
  });
  for (const p of plan.provenance) output.line(describeProvenance(p));
  if (plan.refusing.length > 0) throw errRestoreRefused(plan.location, plan.refusing, output.flag);
  for (const finding of plan.findings) {
    // Overridden (nothing refusing is left): say which flag lifted it.
    const by = options.overrides[finding.override!] === true ? finding.override! : 'force';
    output.note(`restore: ${output.flag(by)}: restoring anyway: ${describeFinding(finding, output.flag)}`);
  }
  for (const marker of plan.consumed) output.note(`restore: ${output.flag('allowConsumed')}: restoring anyway a backup already restored${marker.consumedAt === null ? '' : ` at ${marker.consumedAt}`}${marker.hostname === null ? '' : ` on host '${marker.hostname}'`} (${marker.name})`);
  for (const warning of plan.warnings) output.note(`restore: warning: ${warning}`);
  // What the next start will do with these segments (a warning, never a refusal: README, "Pre-flight").
  const preflight = await restorePreflight(plan, sink, registry, options, output, signal);
  if (preflight) for (const warning of preflightWarnings(preflight)) output.note(`restore: warning: ${warning}`);
  output.line(`restore: instance ${plan.instance}: ${plan.entries.length} segments, ${formatBytes(plan.rawBytes)} from ${plan.location}`);
  const common = {
    location: plan.location,
    instance: plan.instance,
    namespaces: plan.namespaces.map(namespaceJson),
    sources: provenanceJson(plan),
    warnings: plan.warnings,
    allowedConsumed: plan.consumed.map((m) => m.name),
    preflight: preflight ? preflightJson(preflight) : null,
  };
  if (options.dryRun) {
    printPlan(output, plan.entries);
    if (preflight) printPreflight(output, preflight, 'restore: pre-flight');
    output.line('dry run: every check passed; no segment was created and no object content was read beyond headers');
    output.result('restore', { dryRun: true, ...common, plan: planJson(plan.entries, plan.namespaces) });
    return;
  }
  const result = await plan.run({ signal, onProgress: output.progress(), ...(onCommitted ? { onCommitted } : {}) });
  const summary = { phase: 'restore', segments: result.segments, rawBytes: result.rawBytes, elapsedMs: result.elapsedMs };
  output.line(summaryLine(summary));
  for (const name of result.consumed.written) output.line(`restore: marked the backup consumed (${name})`);
  // The restore is done and stays done: a marker that could not be written is a warning, not a failure (README, "Consumed backups").
  for (const failed of result.consumed.failed) {
    output.note(`restore: warning: the restore completed, but the backup could not be marked consumed (${failed.name}): ${failed.error.code}: ${failed.error.message}; a later restore would not know it was restored`);
  }
  output.result('restore', {
    dryRun: false,
    ...common,
    ...summaryJson(summary),
    consumed: { written: result.consumed.written, kept: result.consumed.kept, failed: result.consumed.failed.map((f) => ({ marker: f.name, error: errorJson(f.error, output.flag) })) },
  });
}

/** Pre-flight's assessment of the plan's namespaces (the restore's own checks already ran); undefined, with a warning, when it cannot be made. */
async function restorePreflight(plan: RestorePlan, sink: Sink, registry: Registry, options: RestoreCommandOptions, output: Output, signal: AbortSignal): Promise<PreflightReport | undefined> {
  try {
    return await preparePreflight({
      sink,
      codecs: registry,
      instance: plan.instance,
      namespaces: plan.namespaces.map((n) => n.name),
      aerospike: await readAerospikeHostFacts(options.guard?.aerospikeConf ?? DEFAULT_AEROSPIKE_CONF),
      name: output.flag,
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw error;
    output.note(`restore: warning: the pre-flight assessment could not be made: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

type RestoreFlags = SinkFlags & ProgressFlags & GuardFlags & KeyFlags & {
  allowConsumed?: boolean;
  latest?: boolean;
  depth?: number;
  from: string;
  instance?: number;
  namespace?: string[];
  threads: number;
  maxAge?: number;
  allowOtherHost?: boolean;
  allowOlder?: boolean;
  allowFuture?: boolean;
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
};

const DEFAULT_MAX_AGE = formatAge(DEFAULT_MAX_AGE_MS);
const SKEW = formatAge(CLOCK_SKEW_ALLOWANCE_MS);

export function defineRestoreCommand(program: Command, context: CliContext): void {
  const command = program
    .command('restore')
    .description(
      `Restore Aerospike namespaces into shared memory from a location: a shmsnap backup (manifest) or an ASMT backup directory (no manifest). Shows the backup's age and source host, and refuses (exit 3): a backup made on another host (--allow-other-host restores it); one older than ${DEFAULT_MAX_AGE} (--allow-older restores it; --max-age sets another limit, which then always applies, and also refuses a backup of unknown age); one dated more than ${SKEW} in the future (--allow-future restores it); one already restored (a consumed marker, written after every completed restore: --allow-consumed restores it); while an asd runs for the instance (--allow-running-asd) or another shmsnap run holds it (host lock). The age of ASMT files is their newest modification time. Every CRC-32 is checked; all or nothing: on failure or Ctrl-C every segment it created is removed. Says what the next start of asd will do with the segments (as shmsnap preflight; the dry run prints it all): a cold start or a crash risk is a warning, never a refusal.`,
    )
    .addOption(new Option('--from <location>', 'a directory, file:// URL or s3://bucket/prefix').argParser(parseLocation).makeOptionMandatory())
    .addOption(instanceOption('Aerospike instance (0..15) (default: the one the location holds)'))
    .addOption(namespaceOption('only these namespaces, comma-separated (default: every namespace of the instance)'))
    .addOption(threadsOption())
    .addOption(new Option('--max-age <duration>', `refuse a backup older than this, or of unknown age, instead of older than ${DEFAULT_MAX_AGE} (e.g. 30m, 12h, 7d); no flag overrides it`).argParser(parseDuration))
    .option('--allow-other-host', 'restore a backup made on another host')
    .option('--allow-older', `restore a backup older than the default limit of ${DEFAULT_MAX_AGE} (not with --max-age)`)
    .option('--allow-future', `restore a backup dated more than ${SKEW} in the future (a wrong clock, or an edited time)`)
    .option('--force', 'the same as --allow-other-host --allow-older --allow-future, and nothing more (--max-age still applies; not --allow-consumed, not --allow-running-asd)')
    .option('--allow-consumed', 'restore a backup that was restored before (it has a consumed marker): the node has run since, so it is older than the node; not part of --force')
    .option('--latest', 'the location holds many backups (e.g. written with --to LOC/{host}/{instance}/{timestamp}): restore the newest complete, unconsumed one of this host and instance')
    .addOption(new Option('--depth <n>', 'with --latest: levels below the location to look into (default 3)').argParser(parseDepth))
    .option('--dry-run', 'run every check and print the plan without creating a segment')
    .option('--json', 'print the result as JSON');
  addKeyOptions(command, 'the key of an encrypted backup (its manifest MAC and every frame are checked before a byte reaches a segment)');
  addGuardOptions(command, { conf: true });
  addProgressOptions(command);
  addRunReportOptions(command);
  addSinkOptions(command, context.registry, false).action(async (flags: RestoreFlags) => {
    await execute(context, flags, 'restore', (output, signal, onCommitted) =>
      runRestoreCommand(
        {
          from: flags.from,
          threads: flags.threads,
          overrides: { allowOtherHost: flags.allowOtherHost === true, allowOlder: flags.allowOlder === true, allowFuture: flags.allowFuture === true },
          force: flags.force === true,
          dryRun: flags.dryRun === true,
          allowConsumed: flags.allowConsumed === true,
          latest: flags.latest === true,
          guard: flags,
          key: flags,
          ...(flags.depth === undefined ? {} : { depth: flags.depth }),
          ...(flags.instance === undefined ? {} : { instance: flags.instance }),
          ...(flags.namespace ? { namespaces: flags.namespace } : {}),
          ...(flags.maxAge === undefined ? {} : { maxAgeMs: flags.maxAge }),
        },
        output,
        context.registry,
        sinkOpener(context.registry, flags, false, process.env, (attribute) => command.getOptionValueSource(attribute)),
        signal,
        onCommitted,
      ),
    );
  });
}
