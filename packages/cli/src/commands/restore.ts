/**
 * `shmsnap restore --from <location>`: back into shared memory, all or
 * nothing, after the staleness guard: the backup's age and source host are
 * shown, and a backup from another host or older than --max-age is refused
 * unless --force.
 */
import { errBackupStale, foreignHostReason, readHostIdentity, runRestore, type HostIdentity, type Registry } from '@shmsnap/core';
import { createShmTarget } from '@shmsnap/shm-native';
import { planRestore, type PlanSource, type RestorePlan } from '@shmsnap/core';
import { formatAge, formatBytes } from '../format.js';
import type { Output } from '../output.js';
import type { SinkOpener } from '../program.js';
import { planJson, printPlan } from '../plan-table.js';
import { summaryJson, summaryLine } from '../summary.js';

export interface RestoreCommandOptions {
  readonly from: string;
  readonly instance?: number;
  readonly namespaces?: readonly string[];
  readonly threads: number;
  readonly maxAgeMs?: number;
  readonly force: boolean;
  readonly dryRun: boolean;
}

interface Provenance {
  readonly namespaces: string[];
  readonly createdAt: Date | undefined;
  readonly host: HostIdentity | undefined;
  readonly what: string;
}

function provenanceOf(plan: RestorePlan): Provenance[] {
  const bySource = new Map<PlanSource, string[]>();
  for (const ns of plan.namespaces) bySource.set(ns.source, [...(bySource.get(ns.source) ?? []), ns.name]);
  return [...bySource].map(([source, namespaces]) =>
    source.kind === 'manifest'
      ? { namespaces, createdAt: new Date(source.backup.manifest.createdAt), host: source.backup.manifest.host, what: source.name }
      : { namespaces, createdAt: source.newest, host: undefined, what: 'ASMT files (no manifest)' },
  );
}

/** Describes where each part of the restore comes from; returns the reasons to refuse it. */
function staleness(plan: RestorePlan, current: HostIdentity, now: Date, maxAgeMs: number | undefined, output: Output) {
  const reasons: string[] = [];
  const described = provenanceOf(plan).map((p) => {
    const ageMs = p.createdAt ? now.getTime() - p.createdAt.getTime() : undefined;
    const names = p.namespaces.map((n) => `'${n}'`).join(', ');
    const age = ageMs === undefined ? 'of unknown age' : `made ${formatAge(Math.max(0, ageMs))} ago (${p.createdAt!.toISOString()})`;
    let host = 'on an unknown host (ASMT records none)';
    if (p.host) {
      const boot = p.host.bootId === null || current.bootId === null ? '' : p.host.bootId === current.bootId ? ', in this boot' : ', before the last reboot';
      host = `on host '${p.host.hostname}'${boot}`;
      const foreign = foreignHostReason(p.host, current);
      if (foreign) reasons.push(`${names}: ${foreign}`);
    }
    if (maxAgeMs !== undefined) {
      if (ageMs === undefined) reasons.push(`${names}: the age of ${p.what} is unknown and --max-age was given`);
      else if (ageMs > maxAgeMs) reasons.push(`${names}: the backup is ${formatAge(ageMs)} old, older than --max-age (${formatAge(maxAgeMs)})`);
    }
    output.line(`restore: namespace${p.namespaces.length > 1 ? 's' : ''} ${names} from ${p.what}, ${age} ${host}`);
    return { namespaces: p.namespaces, source: p.what, createdAt: p.createdAt?.toISOString() ?? null, ageSeconds: ageMs === undefined ? null : ageMs / 1000, host: p.host ?? null };
  });
  return { reasons, described };
}

export async function runRestoreCommand(options: RestoreCommandOptions, output: Output, registry: Registry, openSink: SinkOpener, signal: AbortSignal): Promise<void> {
  const sink = await openSink(options.from);
  const plan = await planRestore({
    sink,
    codecs: registry,
    ...(options.instance === undefined ? {} : { instance: options.instance }),
    ...(options.namespaces ? { namespaces: options.namespaces } : {}),
    signal,
  });
  const { reasons, described } = staleness(plan, await readHostIdentity(), new Date(), options.maxAgeMs, output);
  if (reasons.length > 0) {
    if (!options.force) throw errBackupStale(sink.location, reasons.join('; '));
    output.note(`restore: --force: restoring anyway (${reasons.join('; ')})`);
  }
  const target = createShmTarget();
  const segments = plan.entries.map((e) => e.segment);
  await target.check(segments, { signal });
  const rawBytes = segments.reduce((sum, s) => sum + s.size, 0);
  output.line(`restore: instance ${plan.instance}: ${segments.length} segments, ${formatBytes(rawBytes)} from ${sink.location}`);
  if (options.dryRun) {
    printPlan(output, plan.entries);
    output.line('dry run: every check passed; no segment was created and no object content was read beyond headers');
    output.result({ dryRun: true, location: sink.location, instance: plan.instance, sources: described, plan: planJson(plan.entries) });
    return;
  }
  const result = await runRestore({ sink, target, entries: plan.entries, threads: options.threads, signal, onProgress: output.progress() });
  const summary = { phase: 'restore', segments: result.segments, rawBytes: result.rawBytes, elapsedMs: result.elapsedMs };
  output.line(summaryLine(summary));
  output.result({ location: sink.location, instance: plan.instance, namespaces: plan.namespaces.map((n) => ({ name: n.name, nsid: n.nsid })), sources: described, ...summaryJson(summary) });
}
