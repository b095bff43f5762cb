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
import type { Output } from '../render/output.js';
import { formatTable } from '../render/table.js';
import { addS3Options, type S3Flags } from '../s3-options.js';

/** `gzip-1`, `none`, and for ASMT files the codecs found, `gzip+none`. */
function codecLabel(row: BackupListing): string | null {
  if (row.codec) return row.codec.level === null ? row.codec.name : `${row.codec.name}-${row.codec.level}`;
  return row.codecs && row.codecs.length > 0 ? row.codecs.join('+') : null;
}

export async function runLsCommand(location: string, depth: number, output: Output, registry: Registry, openSink: SinkOpener, signal: AbortSignal): Promise<void> {
  const sink = await openSink(location);
  const listed = await listBackups(sink, { codecs: registry, depth, signal });
  const rows = listed.map(({ codecs: _codecs, ...row }) => ({ ...row, codec: codecLabel(row) }));
  if (rows.length === 0) output.line(`ls: no backups at ${sink.location}${depth > 0 ? ` or ${depth} level${depth > 1 ? 's' : ''} below` : ''}`);
  else {
    const table = rows.map((r) => [
      r.location, r.status, r.createdAt ?? '-', r.host ?? '-', String(r.instance), r.namespaces.join(',') || '-', String(r.segments),
      r.rawBytes === null ? '-' : formatBytes(r.rawBytes), formatBytes(r.storedBytes), r.codec ?? '-',
    ]);
    for (const line of formatTable(['location', 'status', 'created', 'host', 'inst', 'namespaces', 'segments', 'raw', 'stored', 'codec'], table)) output.line(line);
    for (const r of rows) if (r.problem) output.note(`ls: ${r.location}: ${r.problem}`);
  }
  output.result({ location: sink.location, backups: rows });
}

export function defineLsCommand(program: Command, context: CliContext): void {
  const command = program
    .command('ls')
    .description('List the backups at a location and below it: time, host, instance, namespaces, segments, raw and stored bytes, codec, and whether each is complete (manifest), interrupted, an ASMT backup, or invalid (restore would refuse it; the reason follows the table).')
    .addArgument(locationArgument())
    .addOption(new Option('--depth <n>', 'levels below the location to look into (default 1; 3 for s3://, as in <prefix>/<host>/<instance>/<timestamp>)').argParser(parseDepth))
    .option('--json', 'print the result as JSON');
  addS3Options(command, false).action(async (location: string, flags: S3Flags & { depth?: number; json?: boolean }) => {
    const depth = flags.depth ?? (schemeOf(location) === 's3' ? 3 : 1);
    await execute(context, flags, 'ls', (output, signal) => runLsCommand(location, depth, output, context.registry, sinkOpener(context.registry, flags), signal));
  });
}
