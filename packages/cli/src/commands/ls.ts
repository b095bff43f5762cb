/**
 * `shmsnap ls <location>`: the backups at a location and below it (one
 * level by default; 3 for S3, as in <prefix>/<host>/<instance>/<timestamp>):
 * complete ones, interrupted ones, ASMT backups, and invalid ones (those
 * restore would refuse, with the reason), as core's catalog reads them. This
 * file only renders.
 */
import { Option, type Command } from 'commander';
import { formatBytes, listBackups, schemeOf, type BackupListing, type Registry } from '@shmsnap/core';
import { locationArgument, parseDepth } from '../cli-options.js';
import { execute, sinkOpener, type CliContext, type SinkOpener } from '../context.js';
import { renderMessage } from '../flags.js';
import { codecJson, errorJson, namespaceJson } from '../render/json.js';
import type { Output } from '../render/output.js';
import { formatTable } from '../render/table.js';
import { addSinkOptions, type SinkFlags } from '../sink-options.js';

/** `gzip-1`, `none`, and for ASMT files the codecs found, `gzip+none`. */
function codecLabel(row: BackupListing): string {
  return row.codecs.map((c) => (c.level === null ? c.name : `${c.name}-${c.level}`)).join('+') || '-';
}

/** `test,bar`; `nsid 2` where only the id is known. */
function namespacesLabel(row: BackupListing): string {
  return row.namespaces.map((n) => n.name ?? `nsid ${n.nsid}`).join(',') || '-';
}

/** The first reason restore would refuse it, and how many more there are. */
function problemLabel(row: BackupListing, output: Output): string | undefined {
  const [first, ...rest] = row.problems;
  if (!first) return undefined;
  return `${first.code}: ${renderMessage(first, output.flag)}${rest.length > 0 ? ` (and ${rest.length} more)` : ''}`;
}

export async function runLsCommand(location: string, depth: number, output: Output, registry: Registry, openSink: SinkOpener, signal: AbortSignal): Promise<void> {
  const sink = await openSink(location);
  const rows = await listBackups(sink, { codecs: registry, depth, signal });
  if (rows.length === 0) output.line(`ls: no backups at ${sink.location}${depth > 0 ? ` or ${depth} level${depth > 1 ? 's' : ''} below` : ''}`);
  else {
    const table = rows.map((r) => [
      r.location, r.consumed ? `${r.status},consumed` : r.status, r.createdAt ?? '-', r.host?.hostname ?? '-', String(r.instance), namespacesLabel(r), String(r.segments),
      r.rawBytes === null ? '-' : formatBytes(r.rawBytes), formatBytes(r.storedBytes), codecLabel(r), r.encrypted ? 'yes' : 'no',
    ]);
    for (const line of formatTable(['location', 'status', 'created', 'host', 'inst', 'namespaces', 'segments', 'raw', 'stored', 'codec', 'encrypted'], table)) output.line(line);
    for (const r of rows) {
      const problem = problemLabel(r, output);
      if (problem) output.note(`ls: ${r.location}: ${problem}`);
    }
  }
  output.result('ls', {
    location: sink.location,
    backups: rows.map((r) => ({
      location: r.location,
      status: r.status,
      createdAt: r.createdAt,
      host: r.host,
      instance: r.instance,
      namespaces: r.namespaces.map(namespaceJson),
      segments: r.segments,
      rawBytes: r.rawBytes,
      storedBytes: r.storedBytes,
      codecs: r.codecs.map((c) => codecJson(c.name, c.level)),
      encrypted: r.encrypted,
      problems: r.problems.map((p) => errorJson(p, output.flag)),
      consumed: r.consumed === null ? null : { marker: r.consumed.name, consumedAt: r.consumed.consumedAt, hostname: r.consumed.hostname, pid: r.consumed.pid },
    })),
  });
}

export function defineLsCommand(program: Command, context: CliContext): void {
  const command = program
    .command('ls')
    .description('List the backups at a location and below it: time, host, instance, namespaces, segments, raw and stored bytes, codec, and whether each is complete (manifest), interrupted, an ASMT backup, or invalid (restore would refuse it; the reason follows the table); complete,consumed for a backup already restored (restore refuses it without --allow-consumed).')
    .addArgument(locationArgument())
    .addOption(new Option('--depth <n>', 'levels below the location to look into (default 1; 3 for s3://, as in <prefix>/<host>/<instance>/<timestamp>)').argParser(parseDepth))
    .option('--json', 'print the result as JSON');
  addSinkOptions(command, context.registry, false).action(async (location: string, flags: SinkFlags & { depth?: number; json?: boolean }) => {
    const depth = flags.depth ?? (schemeOf(location) === 's3' ? 3 : 1);
    await execute(context, flags, 'ls', (output, signal) => runLsCommand(location, depth, output, context.registry, sinkOpener(context.registry, flags, false, process.env, (attribute) => command.getOptionValueSource(attribute)), signal));
  });
}
