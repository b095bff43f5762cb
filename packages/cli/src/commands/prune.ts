/**
 * `shmsnap prune <location> --keep-last N --keep-within DURATION`: retention
 * per host and instance under a location holding many backups (a directory
 * or S3 prefix, `<host>/<instance>/<timestamp>`). Core decides
 * (`preparePrune`: the newest complete unconsumed backup of each host and
 * instance always stays; interrupted ones go once inactive for longer than
 * --interrupted-older-than; what it does not recognise stays and is
 * reported) and removes each backup commit-safe; this file parses and
 * renders. A dry run is prepare and render.
 */
import { Option, type Command } from 'commander';
import {
  formatAge,
  formatBytes,
  preparePrune,
  readHostIdentity,
  RETENTION_REASONS,
  type PrunePlan,
  type PruneResult,
  type Registry,
  type RetentionDecision,
  type PruneCandidate,
  type SweepResult,
} from '@shmsnap/core';
import { locationArgument, parseDepth, parsePositiveInteger } from '../cli-options.js';
import { execute, sinkOpener, type CliContext, type SinkOpener } from '../context.js';
import { parseDuration } from '../duration.js';
import { namespaceJson } from '../render/json.js';
import type { Output } from '../render/output.js';
import { formatTable } from '../render/table.js';
import { addSinkOptions, type SinkFlags } from '../sink-options.js';
import { TOOL } from '../version.js';

export interface PruneCommandOptions {
  readonly location: string;
  readonly keepLast?: number;
  readonly keepWithinMs?: number;
  readonly interruptedOlderThanMs?: number;
  /** @default 3 */
  readonly depth?: number;
  readonly dryRun: boolean;
}

const storedOf = (d: RetentionDecision<PruneCandidate>): number => d.candidate.listing.storedBytes;

/** Core's words for a decision, its option names as this command's flags. */
function reasonText(d: RetentionDecision<PruneCandidate>, output: Output): string {
  const only = d.reasons.length === 1 && d.reasons[0] === 'newest-unconsumed';
  // Said as such: the rules alone would have removed it.
  const text = only ? `kept although the rules would remove it: ${RETENTION_REASONS['newest-unconsumed']}` : d.reasons.map((r) => RETENTION_REASONS[r]).join('; ');
  return text.replace(/\b(keepLast|keepWithin|interruptedOlderThan)\b/g, (option) => output.flag(option));
}

function decisionJson(d: RetentionDecision<PruneCandidate>, removed: ReadonlySet<RetentionDecision<PruneCandidate>>) {
  const { listing } = d.candidate;
  return {
    location: listing.location,
    status: listing.status,
    hostname: d.candidate.hostname,
    instance: listing.instance,
    namespaces: listing.namespaces.map(namespaceJson),
    createdAt: listing.createdAt,
    consumed: listing.consumed !== null,
    storedBytes: listing.storedBytes,
    action: d.action,
    removed: removed.has(d),
    reasons: d.reasons,
    objects: listing.objects,
  };
}

function sweepJson(sweep: SweepResult | undefined) {
  if (!sweep) return null;
  return {
    unsupported: sweep.unsupported ?? null,
    entries: sweep.entries.map((e) => ({ name: e.name, kind: e.kind, what: e.what, startedAt: e.startedAt?.toISOString() ?? null, removed: e.removed, error: e.error ?? null })),
  };
}

function render(plan: PrunePlan, result: PruneResult | undefined, output: Output, dryRun: boolean): void {
  const removed = new Set(result?.removed ?? []);
  const verb = dryRun ? 'would remove' : 'remove';
  if (plan.decisions.length === 0) output.line(`prune: no complete or interrupted shmsnap backup at ${plan.location}`);
  else {
    const rows = plan.decisions.map((d) => [
      d.candidate.listing.location, d.candidate.listing.consumed ? `${d.candidate.status},consumed` : d.candidate.status, d.candidate.hostname ?? '-', String(d.candidate.instance),
      d.candidate.listing.createdAt ?? '-', formatBytes(storedOf(d)), d.action === 'keep' ? 'keep' : dryRun ? 'would remove' : removed.has(d) ? 'removed' : 'remove', reasonText(d, output),
    ]);
    for (const line of formatTable(['location', 'status', 'host', 'inst', 'created', 'stored', 'action', 'why'], rows)) output.line(line);
  }
  for (const left of plan.leftAlone) output.note(`prune: left alone in ${left.location}: ${left.objects.slice(0, 4).join(', ')}${left.objects.length > 4 ? ` and ${left.objects.length - 4} more` : ''}: ${left.reason}`);
  const sweep = result ? result.sweep : plan.sweep;
  if (sweep?.unsupported) output.note(`prune: stale uploads not checked: ${sweep.unsupported}`);
  for (const e of sweep?.entries ?? []) {
    const age = e.startedAt ? `, begun ${formatAge(plan.now.getTime() - e.startedAt.getTime())} ago` : '';
    output.line(`prune: ${e.error ? `could not remove (${e.error})` : e.removed ? 'removed' : verb} ${e.what}${age}`);
  }
  const going = plan.decisions.filter((d) => d.action === 'remove');
  const done = dryRun ? going : (result?.removed ?? []);
  const bytes = done.reduce((sum, d) => sum + storedOf(d), 0);
  output.line(`prune: ${dryRun ? 'would remove' : 'removed'} ${done.length} backup${done.length === 1 ? '' : 's'} (${formatBytes(bytes)}), kept ${plan.decisions.length - going.length}${dryRun ? ' (dry run: nothing removed)' : ''}`);
  output.result('prune', {
    location: plan.location,
    dryRun,
    now: plan.now.toISOString(),
    policy: {
      keepLast: plan.policy.keepLast ?? null,
      keepWithinSeconds: plan.policy.keepWithinMs === undefined ? null : plan.policy.keepWithinMs / 1000,
      interruptedOlderThanSeconds: plan.policy.interruptedOlderThanMs / 1000,
    },
    backups: plan.decisions.map((d) => decisionJson(d, removed)),
    leftAlone: plan.leftAlone.map((l) => ({ location: l.location, kind: l.kind, reason: l.reason, objects: l.objects })),
    staleWrites: sweepJson(sweep),
    summary: { kept: plan.decisions.length - going.length, removed: done.length, removedStoredBytes: bytes },
  });
}

export async function runPruneCommand(options: PruneCommandOptions, output: Output, registry: Registry, openSink: SinkOpener, signal: AbortSignal): Promise<void> {
  const sink = await openSink(options.location);
  const base = options.location.replace(/\/+$/, '');
  const plan = await preparePrune({
    sink,
    codecs: registry,
    depth: options.depth ?? 3,
    openSubLocation: (prefix) => openSink(`${base}/${prefix.replace(/\/$/, '')}`),
    host: await readHostIdentity(),
    tool: TOOL,
    signal,
    ...(options.keepLast === undefined ? {} : { keepLast: options.keepLast }),
    ...(options.keepWithinMs === undefined ? {} : { keepWithinMs: options.keepWithinMs }),
    ...(options.interruptedOlderThanMs === undefined ? {} : { interruptedOlderThanMs: options.interruptedOlderThanMs }),
  });
  if (options.dryRun) return render(plan, undefined, output, true);
  const result = await plan.run({ signal });
  render(plan, result, output, false);
}

export function definePruneCommand(program: Command, context: CliContext): void {
  const command = program
    .command('prune')
    .description(
      'Remove old backups under a location holding many (e.g. written with --to LOC/{host}/{instance}/{timestamp}), per host and instance: keep the --keep-last newest and those within --keep-within; the newest complete, unconsumed backup of each host and instance always stays. Interrupted backups go once inactive for longer than --interrupted-older-than, with stale uploads (S3) and temp files. Each backup goes manifest first, so one half removed reads as interrupted. ASMT files and objects of other tools stay.',
    )
    .addArgument(locationArgument())
    .addOption(new Option('--keep-last <n>', 'keep the n newest complete backups of each host and instance').argParser(parsePositiveInteger('--keep-last')))
    .addOption(new Option('--keep-within <duration>', 'keep every complete backup younger than this (90m, 12h, 7d, 2w)').argParser(parseDuration))
    .addOption(new Option('--interrupted-older-than <duration>', 'remove interrupted backups and stale uploads inactive for longer than this (default 24h; a younger one may still be running)').argParser(parseDuration))
    .addOption(new Option('--depth <n>', 'levels below the location to look into (default 3, as in <prefix>/<host>/<instance>/<timestamp>)').argParser(parseDepth))
    .option('--dry-run', 'say what would be removed and what stays, and why; remove nothing')
    .option('--json', 'print the result as JSON');
  addSinkOptions(command, context.registry, false).action(
    async (location: string, flags: SinkFlags & { keepLast?: number; keepWithin?: number; interruptedOlderThan?: number; depth?: number; dryRun?: boolean; json?: boolean }) => {
      const options: PruneCommandOptions = {
        location,
        dryRun: flags.dryRun === true,
        ...(flags.keepLast === undefined ? {} : { keepLast: flags.keepLast }),
        ...(flags.keepWithin === undefined ? {} : { keepWithinMs: flags.keepWithin }),
        ...(flags.interruptedOlderThan === undefined ? {} : { interruptedOlderThanMs: flags.interruptedOlderThan }),
        ...(flags.depth === undefined ? {} : { depth: flags.depth }),
      };
      await execute(context, flags, 'prune', (output, signal) =>
        runPruneCommand(options, output, context.registry, sinkOpener(context.registry, flags, false, process.env, (attribute) => command.getOptionValueSource(attribute)), signal),
      );
    },
  );
}
