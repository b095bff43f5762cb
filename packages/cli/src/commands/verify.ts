/**
 * `shmsnap verify <location>`: reads every object of every backup at the
 * location and checks it against what is recorded (manifest sizes and
 * CRC-32s; for ASMT files, the header's size and CRC-32 and the gzip
 * trailer). Touches no shared memory. Names each bad object; exits non-zero
 * if there is one.
 */
import {
  errBackupIncomplete,
  errBackupNotFound,
  planFromManifest,
  readLocation,
  runVerify,
  toShmsnapError,
  type Registry,
  type RestoreEntry,
  type ShmsnapError,
} from '@shmsnap/core';
import { asmtFiles, decodeKey, readFileHeader } from '@shmsnap/core';
import { EXIT_OK, EXIT_STATUS_BY_CODE } from '../exit-codes.js';
import type { Output } from '../output.js';
import type { SinkOpener } from '../program.js';
import { summaryJson, summaryLine } from '../summary.js';

export async function runVerifyCommand(location: string, threads: number, output: Output, registry: Registry, openSink: SinkOpener, signal: AbortSignal): Promise<number> {
  const sink = await openSink(location);
  const state = await readLocation(sink, signal);
  const failures: { object: string; error: ShmsnapError }[] = state.interrupted.map((i) => ({
    object: i.name,
    error: errBackupIncomplete(sink.location, `${i.name} without a manifest: the backup was interrupted`),
  }));
  const entries: RestoreEntry[] = state.backups.flatMap((b) => planFromManifest(b.manifest, (name) => registry.codec(name), `${sink.location}/${b.name}`));
  const claimed = new Set(entries.map((e) => e.object));
  for (const file of asmtFiles(state.objects.filter((o) => !claimed.has(o.name)), registry)) {
    const decoded = decodeKey(file.key)!;
    const object = file.info.name;
    try {
      const { rawSize, rawCrc32 } = await readFileHeader(sink, object, file, signal);
      entries.push({
        segment: { key: file.key, kind: decoded.kind ?? 'data-stage', instance: decoded.instance, nsid: decoded.nsid, namespace: '', stage: decoded.stage, size: rawSize, uid: 0, gid: 0, mode: 0o600 },
        object,
        codec: file.codec,
        storedBytes: file.info.size,
        ...(rawCrc32 === undefined ? {} : { rawCrc32 }),
      });
    } catch (error) {
      failures.push({ object, error: toShmsnapError(error, 'verify', object) });
    }
  }
  if (entries.length === 0 && failures.length === 0) throw errBackupNotFound(sink.location, 'no shmsnap manifest and no ASMT segment files');

  output.line(`verify: ${entries.length} objects in ${sink.location} (${state.backups.length} shmsnap backup${state.backups.length === 1 ? '' : 's'})`);
  const result = await runVerify({ sink, entries, threads, signal, onProgress: output.progress() });
  failures.push(...result.failures);
  failures.sort((a, b) => a.object.localeCompare(b.object));
  for (const f of failures) output.note(`verify: BAD ${f.object}: ${f.error.code}: ${f.error.message}`);
  const summary = { phase: 'verify', segments: result.segments, rawBytes: result.rawBytes, elapsedMs: result.elapsedMs };
  output.line(summaryLine(summary));
  output.line(failures.length === 0 ? `verify: all ${entries.length} objects are intact` : `verify: ${failures.length} bad object(s)`);
  output.result(
    {
      location: sink.location,
      objects: entries.length,
      failures: failures.map((f) => ({ object: f.object, ...f.error.toJSON() })),
      ...summaryJson(summary),
    },
    failures.length === 0,
  );
  return failures.length === 0 ? EXIT_OK : EXIT_STATUS_BY_CODE[failures[0]!.error.code];
}
