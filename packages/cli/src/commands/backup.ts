/**
 * `shmsnap backup --to <location>`: the namespaces of one instance, from
 * shared memory to a location, in ASMT's layout plus a manifest.
 */
import {
  checkBackupLocation,
  errNoSpace,
  manifestTotals,
  planBackup,
  readHostIdentity,
  runBackup,
  type Registry,
} from '@shmsnap/core';
import { createShmSource } from '@shmsnap/shm-native';
import { formatBytes } from '../format.js';
import type { Output } from '../output.js';
import type { SinkOpener } from '../program.js';
import { planJson, printPlan } from '../plan-table.js';
import { summaryJson, summaryLine } from '../summary.js';
import { TOOL } from '../version.js';

export interface BackupCommandOptions {
  readonly to: string;
  readonly instance: number;
  readonly namespaces?: readonly string[];
  readonly codec: string;
  readonly level?: number;
  readonly threads: number;
  readonly dryRun: boolean;
}

/** Fills in {host}, {instance} and {timestamp} (UTC, 20261121T101500Z). */
export function expandLocation(template: string, values: { host: string; instance: number; time: Date }): string {
  const timestamp = values.time.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return template.replaceAll('{host}', values.host).replaceAll('{instance}', String(values.instance)).replaceAll('{timestamp}', timestamp);
}

export async function runBackupCommand(options: BackupCommandOptions, output: Output, registry: Registry, openSink: SinkOpener, signal: AbortSignal): Promise<void> {
  const codec = registry.codec(options.codec);
  const host = await readHostIdentity();
  const sink = await openSink(expandLocation(options.to, { host: host.hostname, instance: options.instance, time: new Date() }));
  const source = createShmSource({ instance: options.instance, ...(options.namespaces ? { namespaces: options.namespaces } : {}) });
  const segments = await source.list({ signal });
  const plan = planBackup(segments, codec);
  await checkBackupLocation(sink, plan, undefined, signal);

  const rawBytes = segments.reduce((sum, s) => sum + s.size, 0);
  // Uncompressed objects need their full size; a compressed size is only known afterwards.
  const certainBytes = plan.filter((e) => e.codec.identity).reduce((sum, e) => sum + e.segment.size, 0);
  const free = await sink.freeBytes?.();
  if (free !== undefined && certainBytes > free) {
    throw errNoSpace(`${sink.location}: the backup needs ${formatBytes(certainBytes)}, ${formatBytes(free)} is free`);
  }

  const namespaces = [...new Map(segments.map((s) => [s.nsid, s.namespace]))].map(([nsid, name]) => ({ name, nsid }));
  const described = namespaces.map((n) => `'${n.name}' (nsid ${n.nsid})`).join(', ');
  output.line(`backup: instance ${options.instance}, namespace${namespaces.length > 1 ? 's' : ''} ${described}: ${segments.length} segments, ${formatBytes(rawBytes)} → ${sink.location} (codec ${codec.name}${codec.levels ? ` level ${options.level ?? codec.levels.default}` : ''})`);
  if (options.dryRun) {
    printPlan(output, plan);
    output.line('dry run: every check passed; no segment was read and nothing was written');
    output.result({ dryRun: true, location: sink.location, instance: options.instance, namespaces, codec: codec.name, plan: planJson(plan) });
    return;
  }

  const result = await runBackup({
    source,
    sink,
    codec,
    ...(options.level === undefined ? {} : { level: options.level }),
    threads: options.threads,
    segments,
    host,
    tool: TOOL,
    signal,
    onProgress: output.progress(),
  });
  const totals = manifestTotals(result.manifest);
  const summary = { phase: 'backup', segments: totals.segments, rawBytes: totals.rawBytes, storedBytes: totals.storedBytes, elapsedMs: result.elapsedMs };
  output.line(summaryLine(summary));
  output.line(`backup: committed ${result.manifestObject}`);
  output.result({
    location: sink.location,
    manifest: result.manifestObject,
    instance: result.manifest.instance,
    namespaces: result.manifest.namespaces,
    codec: result.manifest.codec,
    ...summaryJson(summary),
  });
}
