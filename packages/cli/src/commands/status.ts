/**
 * `shmsnap status <location>`: the fleet view. For every host and instance
 * with backups under the location (a directory or S3 prefix holding many
 * nodes', `<host>/<instance>/<timestamp>`): its newest complete backup,
 * how old, consumed or not, how large, and how many backups of each kind
 * it has. Read-only (core's `readStatus`, the catalog `ls` reads); this
 * file only renders.
 */
import { Option, type Command } from 'commander';
import { formatAge, formatBytes, readStatus, type HostInstanceStatus, type Registry } from '@shmsnap/core';
import { locationArgument, parseDepth } from '../cli-options.js';
import { execute, sinkOpener, type CliContext, type SinkOpener } from '../context.js';
import { namespaceJson } from '../render/json.js';
import type { Output } from '../render/output.js';
import { formatTable } from '../render/table.js';
import { addSinkOptions, type SinkFlags } from '../sink-options.js';

function ageLabel(ms: number): string {
  return ms < 0 ? `${formatAge(-ms)} ahead` : formatAge(ms);
}

function hostJson(h: HostInstanceStatus) {
  const { newest } = h;
  return {
    hostname: h.hostname,
    instance: h.instance,
    newest: newest
      ? {
          location: newest.location,
          createdAt: newest.createdAt,
          ageSeconds: newest.ageMs / 1000,
          consumed: newest.consumed === null ? null : { marker: newest.consumed.name, consumedAt: newest.consumed.consumedAt, hostname: newest.consumed.hostname, pid: newest.consumed.pid },
          namespaces: newest.namespaces.map(namespaceJson),
          rawBytes: newest.rawBytes,
          storedBytes: newest.storedBytes,
        }
      : null,
    newestUnconsumed: h.newestUnconsumed,
    counts: h.counts,
  };
}

export async function runStatusCommand(location: string, depth: number, output: Output, registry: Registry, openSink: SinkOpener, signal: AbortSignal): Promise<void> {
  const sink = await openSink(location);
  const status = await readStatus(sink, { codecs: registry, depth, signal });
  if (status.hosts.length === 0) output.line(`status: no backups at ${status.location} or up to ${depth} level${depth === 1 ? '' : 's'} below`);
  else {
    const rows = status.hosts.map((h) => [
      h.hostname ?? '-', String(h.instance), h.newest?.location ?? '-', h.newest?.createdAt ?? '-', h.newest ? ageLabel(h.newest.ageMs) : '-',
      h.newest ? (h.newest.consumed ? 'yes' : 'no') : '-', h.newest?.rawBytes == null ? '-' : formatBytes(h.newest.rawBytes), h.newest ? formatBytes(h.newest.storedBytes) : '-',
      String(h.counts.complete), String(h.counts.interrupted), String(h.counts.invalid + h.counts.asmt), String(h.counts.older),
    ]);
    for (const line of formatTable(['host', 'inst', 'newest', 'created', 'age', 'consumed', 'raw', 'stored', 'complete', 'interrupted', 'other', 'older'], rows)) output.line(line);
    for (const h of status.hosts) {
      if (h.newest?.consumed && h.newestUnconsumed) output.note(`status: ${h.hostname ?? '-'} instance ${h.instance}: the newest backup was restored already; restore --latest would pick ${h.newestUnconsumed.location}`);
      else if (h.newest?.consumed) output.note(`status: ${h.hostname ?? '-'} instance ${h.instance}: every complete backup was restored already; restore --latest has none to pick`);
    }
  }
  output.result('status', { location: status.location, depth: status.depth, hosts: status.hosts.map(hostJson) });
}

export function defineStatusCommand(program: Command, context: CliContext): void {
  const command = program
    .command('status')
    .description(
      'For every host and instance with backups under a location holding many (e.g. LOC/{host}/{instance}/{timestamp}): its newest complete backup, its age, whether it was restored already (consumed), its size, and how many complete, interrupted and other backups it has. Reads only.',
    )
    .addArgument(locationArgument())
    .addOption(new Option('--depth <n>', 'levels below the location to look into (default 3, as in <prefix>/<host>/<instance>/<timestamp>)').argParser(parseDepth))
    .option('--json', 'print the result as JSON');
  addSinkOptions(command, context.registry, false).action(async (location: string, flags: SinkFlags & { depth?: number; json?: boolean }) => {
    await execute(context, flags, 'status', (output, signal) =>
      runStatusCommand(location, flags.depth ?? 3, output, context.registry, sinkOpener(context.registry, flags, false, process.env, (attribute) => command.getOptionValueSource(attribute)), signal),
    );
  });
}
