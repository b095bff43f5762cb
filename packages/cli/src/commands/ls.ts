/**
 * `shmsnap ls <location>`: the backups at a location and below it (one
 * level by default): complete ones (a manifest), interrupted ones (a pending
 * marker without its manifest) and ASMT backups (segment files no manifest
 * claims).
 */
import {
  MANIFEST_MAX_BYTES,
  manifestName,
  manifestTotals,
  parseBackupObjectName,
  parseManifest,
  readObject,
  toShmsnapError,
  type ObjectInfo,
  type Registry,
  type Sink,
} from '@shmsnap/core';
import { asmtFiles, BASE_MIN_BYTES, decodeKey, newestModified, parseBase, readFileHeader, readRange } from '@shmsnap/core';
import { formatBytes } from '../format.js';
import type { Output } from '../output.js';
import type { SinkOpener } from '../program.js';
import { formatTable } from '../table.js';

export interface LsRow {
  readonly location: string;
  readonly status: 'complete' | 'interrupted' | 'asmt' | 'unreadable';
  readonly createdAt: string | null;
  readonly host: string | null;
  readonly instance: number;
  readonly namespaces: readonly string[];
  readonly segments: number;
  readonly rawBytes: number | null;
  readonly storedBytes: number;
  readonly codec: string | null;
  readonly problem?: string;
}

async function rowsIn(sink: Sink, prefix: string, objects: readonly ObjectInfo[], registry: Registry): Promise<LsRow[]> {
  const where = `${sink.location}${prefix ? `/${prefix.slice(0, -1)}` : ''}`;
  const rows: LsRow[] = [];
  const names = new Set(objects.map((o) => o.name));
  const claimed = new Set<string>();
  const segmentFiles = asmtFiles(objects, registry);
  /** Files an interrupted shmsnap backup left: part of that backup, not an ASMT one. */
  const leftBy = (instance: number, nsids: readonly number[]) =>
    segmentFiles.filter((f) => decodeKey(f.key)!.instance === instance && nsids.includes(decodeKey(f.key)!.nsid));
  for (const object of objects) {
    const parsed = parseBackupObjectName(object.name);
    if (!parsed) continue;
    if (parsed.kind === 'pending') {
      if (names.has(manifestName(parsed.instance, parsed.nsids))) continue;
      let startedAt: string | null = null;
      let host: string | null = null;
      try {
        const marker = JSON.parse((await readObject(sink, prefix + object.name, 64 * 1024))?.toString('utf8') ?? '{}') as { startedAt?: unknown; host?: { hostname?: unknown } };
        startedAt = typeof marker.startedAt === 'string' ? marker.startedAt : null;
        host = typeof marker.host?.hostname === 'string' ? marker.host.hostname : null;
      } catch {
        // An unreadable marker still marks an interrupted backup.
      }
      const left = leftBy(parsed.instance, parsed.nsids);
      for (const f of left) claimed.add(f.info.name);
      rows.push({
        location: where, status: 'interrupted', createdAt: startedAt, host, instance: parsed.instance, namespaces: parsed.nsids.map((n) => `nsid ${n}`),
        segments: left.length, rawBytes: null, storedBytes: left.reduce((sum, f) => sum + f.info.size, 0), codec: null,
      });
      continue;
    }
    try {
      const manifest = parseManifest((await readObject(sink, prefix + object.name, MANIFEST_MAX_BYTES))!, { where: `${where}/${object.name}` });
      for (const s of manifest.segments) claimed.add(s.object);
      const totals = manifestTotals(manifest);
      rows.push({
        location: where,
        status: 'complete',
        createdAt: manifest.createdAt,
        host: manifest.host.hostname,
        instance: manifest.instance,
        namespaces: manifest.namespaces.map((n) => n.name),
        segments: totals.segments,
        rawBytes: totals.rawBytes,
        storedBytes: totals.storedBytes,
        codec: manifest.codec.level === null ? manifest.codec.name : `${manifest.codec.name}-${manifest.codec.level}`,
      });
    } catch (error) {
      rows.push({ location: where, status: 'unreadable', createdAt: null, host: null, instance: parsed.instance, namespaces: [], segments: 0, rawBytes: null, storedBytes: object.size, codec: null, problem: toShmsnapError(error, 'read', object.name).message });
    }
  }
  const files = segmentFiles.filter((f) => !claimed.has(f.info.name));
  for (const instance of [...new Set(files.map((f) => decodeKey(f.key)!.instance))].sort((a, b) => a - b)) {
    const mine = files.filter((f) => decodeKey(f.key)!.instance === instance);
    const namespaces: string[] = [];
    let rawBytes = 0;
    for (const file of mine) {
      const object = prefix + file.info.name;
      try {
        if (decodeKey(file.key)!.kind === 'primary-base' && file.codec.identity) {
          namespaces.push(parseBase(await readRange(sink, object, 0, BASE_MIN_BYTES), object).namespace);
        }
        rawBytes += (await readFileHeader(sink, object, file)).rawSize;
      } catch {
        // Counted as stored bytes only; verify names the bad file.
      }
    }
    const newest = newestModified(mine);
    rows.push({
      location: where,
      status: 'asmt',
      createdAt: newest?.toISOString() ?? null,
      host: null,
      instance,
      namespaces: namespaces.sort(),
      segments: mine.length,
      rawBytes,
      storedBytes: mine.reduce((sum, f) => sum + f.info.size, 0),
      codec: [...new Set(mine.map((f) => f.codec.name))].sort().join('+'),
    });
  }
  return rows;
}

export async function runLsCommand(location: string, depth: number, output: Output, registry: Registry, openSink: SinkOpener, signal: AbortSignal): Promise<void> {
  const sink = await openSink(location);
  const objects = await sink.list('', { depth, signal });
  const groups = new Map<string, ObjectInfo[]>();
  for (const object of objects) {
    const cut = object.name.lastIndexOf('/') + 1;
    const prefix = object.name.slice(0, cut);
    groups.set(prefix, [...(groups.get(prefix) ?? []), { ...object, name: object.name.slice(cut) }]);
  }
  const rows: LsRow[] = [];
  for (const [prefix, group] of [...groups].sort(([a], [b]) => a.localeCompare(b))) rows.push(...(await rowsIn(sink, prefix, group, registry)));
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
